"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL when
HUB_TEST_DATABASE_URL is set), the app, a client, and factories in tests/factories.py."""

from __future__ import annotations

import base64
import itertools
import os
import queue
import shutil
import threading

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


class _PostgresDatabases:
    """This process's per-test PostgreSQL databases (`hub_t_<pid>_<n>`), each a fresh copy of the
    template used by one test only. A thread makes the next ones while a test runs and another
    drops the used ones, so neither CREATE nor DROP DATABASE (each a fraction of a second, mostly
    fsync) holds up a test; close() drops every one of them."""

    AHEAD = 2

    def __init__(self, admin, template: str) -> None:
        self.admin, self.template = admin, template
        self.ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self.used: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.maker = threading.Thread(target=self._make, name="test-databases-make", daemon=True)
        self.dropper = threading.Thread(target=self._drop_used, name="test-databases-drop", daemon=True)
        self.maker.start()
        self.dropper.start()

    def _run(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def _make(self) -> None:
        try:
            while not self.stopping.is_set():
                name = f"hub_t_{os.getpid()}_{next(_counter)}"
                self._run(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                while True:
                    try:
                        self.ready.put(name, timeout=0.1)
                        break
                    except queue.Full:
                        if self.stopping.is_set():
                            self.used.put(name)
                            return
        except BaseException as error:  # noqa: BLE001 - handed to the test that waits for a database
            self.error = error

    def _drop_used(self) -> None:
        while (name := self.used.get()) is not None:
            try:
                self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001 - keep dropping the others; close() reports it
                self.error = self.error or error

    def take(self) -> str:
        while True:
            try:
                return self.ready.get(timeout=0.1)
            except queue.Empty:
                if self.error is not None or not self.maker.is_alive():
                    raise RuntimeError("could not make a test database") from self.error

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.maker.join()
        while True:
            try:
                self.used.put(self.ready.get_nowait())
            except queue.Empty:
                break
        self.used.put(None)
        self.dropper.join()


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
        databases = _PostgresDatabases(admin, name)
        try:
            yield ("postgresql", name, databases)
        finally:
            databases.close()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        _migrate(f"sqlite:///{path}")
        yield ("sqlite", str(path), None)


@pytest.fixture
def database_url(database_template, tmp_path):
    kind, template, databases = database_template
    if kind == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name = databases.take()
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        databases.give_back(name)


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
