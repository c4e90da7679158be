"""The retention world (tests/support/retention.py) and the empty database a restore goes into."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.retention import World, build_world

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")


@pytest.fixture
def world(app) -> World:
    return build_world()


@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database of the suite's kind, as an operator would create for a restore (as
    tests/test_backup_restore.py makes its own)."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    if shutil.which("pg_dump") is None:
        pytest.fail("the suite runs on PostgreSQL but its client tools (pg_dump, pg_restore) are not installed")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"hub_restore_shred_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
