"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL when
HUB_TEST_DATABASE_URL is set), the app, a client, the usual `world`, and SMTP servers on loopback.

How the tests share code (tests/test_honest_tests.py holds them to it):
- A test module never imports another test module (`test_*.py`) or a `conftest.py`.
- Fixtures that several modules use live in a conftest.py: this one when modules in different
  folders use them, a folder's own otherwise. pytest finds them; nobody imports them.
- Factories that make one thing through the services (an organisation, a user, a child, an
  episode, a share, a notification) are in tests/factories.py.
- Everything else shared (the worlds the tests start from, sample files, fake servers, clocks,
  an access table) is in tests/support/, or in a module of a test folder that is not a test module
  (tests/permissions/expected.py, tests/reports/picture.py)."""

from __future__ import annotations

import base64
import os
import re
import shutil

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hub import create_app, db
from hub.migrate import upgrade
from tests.support.mace import MaceWorld, build_mace_world
from tests.support.smtp import Server
from tests.support.world import World, build_world

_SIGNING_KEY = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
TEST_ENV = {
    "HUB_ENV": "testing",
    "HUB_SECRET_KEY": "test-secret-key-not-for-production",
    "HUB_FIELD_KEYS": Fernet.generate_key().decode(),
    "HUB_BLIND_INDEX_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "HUB_AUDIT_SIGNING_KEY": _SIGNING_KEY,
    "HUB_DEMO": "0",
    # The background commands run in-process here: lowering their priority would lower the tests.
    "HUB_BACKGROUND_NICE": "0",
}
os.environ.update(TEST_ENV)
# A developer's own HUB_DATABASE_URL must never be the test database.
os.environ.pop("HUB_DATABASE_URL", None)

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
#: A migrated SQLite file to copy for each test instead of migrating a template per session:
#: mutation testing starts a pytest session per mutant (bench/README.md, "Mutation testing").
SQLITE_TEMPLATE = os.environ.get("HUB_TEST_SQLITE_TEMPLATE")


def _migrate(url: str) -> None:
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
        reused = _reused.pop(name, None)
        if reused is not None:
            reused.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    elif SQLITE_TEMPLATE and os.path.exists(SQLITE_TEMPLATE):
        yield ("sqlite", SQLITE_TEMPLATE, None)
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
    database = _worker_database(admin, template)
    yield database.url
    database.reset()


class _ReusedDatabase:
    """This process's one PostgreSQL test database, put back as the template left it after each
    test: TRUNCATE of every table and the template's few rows (the audit head, the flag scan
    mark) written again. CREATE and DROP DATABASE cost about 0.3 to 0.7 s each, a test's whole
    run for most tests, over a thousand times a run. A test that changed the schema (dropped a
    trigger, downgraded a migration) or left a lock behind gets a fresh copy of the template."""

    def __init__(self, admin, template: str) -> None:
        self.admin, self.template = admin, template
        self.name = f"hub_t_{os.getpid()}"
        self.url = make_url(POSTGRES_URL).set(database=self.name).render_as_string(hide_password=False)
        self._recreate()
        self.engine = create_engine(self.url, poolclass=NullPool)
        with self.engine.connect() as conn:
            self.shape = _schema_shape(conn)
            self.tables = [t for t in conn.scalars(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
                "ORDER BY tablename"))]
            self.seed = {t: [dict(r) for r in conn.execute(text(f'SELECT * FROM "{t}"')).mappings()]
                         for t in self.tables}
            self.seed = {t: rows for t, rows in self.seed.items() if rows}

    def _recreate(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"'))

    def reset(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                if _schema_shape(conn) != self.shape:
                    raise RuntimeError("the test changed the schema")
                # replica: the audit tables' triggers refuse TRUNCATE, rightly, outside tests.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(text(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in self.tables)} "
                                  "RESTART IDENTITY CASCADE"))
                for table, rows in self.seed.items():
                    columns = list(rows[0])
                    conn.execute(text(f'INSERT INTO "{table}" ({", ".join(columns)}) '
                                      f'VALUES ({", ".join(":" + c for c in columns)})'), rows)
        except Exception:  # noqa: BLE001 - anything odd: a fresh copy, as before
            self.engine.dispose()
            self._recreate()

    def close(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def _schema_shape(conn) -> tuple:
    """What a test must not have changed: tables, columns, indexes, triggers, migration head."""
    return tuple(tuple(conn.execute(text(query)).all()) for query in (
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2",
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "SELECT tgname, tgrelid::regclass::text, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2",
        "SELECT version_num FROM alembic_version",
    ))


_reused: dict[str, _ReusedDatabase] = {}


def _worker_database(admin, template: str) -> _ReusedDatabase:
    if template not in _reused:
        _reused[template] = _ReusedDatabase(admin, template)
    return _reused[template]


@pytest.fixture
def app(database_url):
    app = create_app({"env": "testing", "database_url": database_url})
    # No app context is held across the test: Flask would reuse it (and its `g`) for every
    # request of the test client, which real requests never share.
    yield app
    db.session.remove()
    app.extensions["hub_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="module")
def module_database_url(database_template, tmp_path_factory):
    """A database of the module's own, copied from the migrated template once, for tests that
    build one world and ask it many questions (the access rules). On PostgreSQL it is a database
    of its own (the per-test one is put back after every test), dropped when the module ends."""
    kind, template, admin = database_template
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("module") / "hub.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"hub_m_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def module_app(module_database_url):
    """The app on the module's own database (see module_database_url)."""
    app = create_app({"env": "testing", "database_url": module_database_url})
    yield app
    db.session.remove()
    app.extensions["hub_engine"].dispose()


@pytest.fixture
def world(app) -> World:
    """The usual world (tests/support/world.py). A module that needs another overrides `world`."""
    return build_world()


@pytest.fixture
def mace(app) -> MaceWorld:
    """A MACE locality (tests/support/mace.py), for the MACE tests and their browser journey."""
    return build_mace_world()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback, running."""
    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stopped_smtp():
    """Settings for a port where nothing listens (yet)."""
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database, as an operator would create for a restore."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    if shutil.which("pg_dump") is None:
        pytest.fail("the suite runs on PostgreSQL but its client tools (pg_dump, pg_restore) are not installed")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    # Beside the suite's own database (test -> test2; test_restore -> test_restore2), one per
    # pytest-xdist worker so that two workers never drop each other's.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = f"{make_url(POSTGRES_URL).database}2" + (f"_{worker}" if worker else "")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def demo(module_app):
    """The demo loaded once, and its printed logins (e-mail and TOTP secret)."""
    result = module_app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    logins = re.findall(r"^(\S+@\S+)\n(?:    .*\n)*?    totp secret: (\w+)$", result.output, re.M)
    assert len(logins) >= 20, result.output[:2000]
    return module_app, logins
