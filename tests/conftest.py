"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL when
HUB_TEST_DATABASE_URL is set), the app, a client, and factories in tests/factories.py."""

from __future__ import annotations

import base64
import itertools
import os
import shutil

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_SIGNING_KEY = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
TEST_ENV = {
    "HUB_ENV": "testing",
    "HUB_SECRET_KEY": "test-secret-key-not-for-production",
    "HUB_FIELD_KEYS": Fernet.generate_key().decode(),
    "HUB_BLIND_INDEX_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "HUB_AUDIT_SIGNING_KEY": _SIGNING_KEY,
    "HUB_DEMO": "0",
}
os.environ.update(TEST_ENV)
# A developer's own HUB_DATABASE_URL must never be the test database.
os.environ.pop("HUB_DATABASE_URL", None)

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
_counter = itertools.count()


def _migrate(url: str) -> None:
    from hub import create_app
    from hub.migrate import upgrade

    app = create_app({"env": "testing", "database_url": url})
    upgrade(app)
    app.extensions["hub_engine"].dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Run the real migrations once; each test gets a copy."""
    if POSTGRES_URL:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"hub_tpl_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        _migrate(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
        yield ("postgresql", name, admin)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        _migrate(f"sqlite:///{path}")
        yield ("sqlite", str(path), None)


@pytest.fixture
def database_url(database_template, tmp_path):
    kind, template, admin = database_template
    if kind == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"hub_t_{os.getpid()}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def app(database_url):
    from hub import create_app

    app = create_app({"env": "testing", "database_url": database_url})
    # No app context is held across the test: Flask would reuse it (and its `g`) for every
    # request of the test client, which real requests never share.
    yield app
    from hub import db

    db.session.remove()
    app.extensions["hub_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
