"""Alembic environment: the hub's engine and metadata."""

from alembic import context

import hub.models  # noqa: F401  (every table registered on Base.metadata)
from hub.db import Base

config = context.config


def _engine():
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command: build the app to read HUB_* configuration
        from hub import create_app

        engine = create_app().extensions["hub_engine"]
    return engine


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
