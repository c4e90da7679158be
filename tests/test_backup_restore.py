"""Backup and restore (README, "Backup and restore"): a backup restored into a fresh database
starts, its audit log verifies on its own, and what was written after the backup is reported
missing against the latest tree head kept outside the database: a restore is never silent.
On SQLite (the online backup API) and on PostgreSQL (pg_dump / pg_restore) when the suite runs
on it."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from hub import create_app, db
from hub.audit import integrator as audit_integrator
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user, sign_in

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")


def _read_events(n: int) -> None:
    for i in range(n):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i, detail={"i": i})
    audit_integrator.integrate_all()


def _log_size() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_not(None)))


@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database, as an operator would create for a restore."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    if shutil.which("pg_dump") is None:
        pytest.fail("the suite runs on PostgreSQL but its client tools (pg_dump, pg_restore) are not installed")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"hub_restore_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_restored_backup_verifies_and_shows_what_it_lost_against_a_kept_tree_head(
        app, runner, tmp_path, fresh_database_url):
    social_worker, secret = make_user(make_org(OrgKind.childrens_social_care), Role.social_worker)
    _read_events(5)
    audit_tree_heads.sign_tree_head()
    backup_file = tmp_path / "hub.backup"
    made = runner.invoke(args=["db", "backup", "--out", str(backup_file)])
    assert made.exit_code == 0 and backup_file.stat().st_size > 0, made.output
    at_backup = _log_size()

    _read_events(3)  # written after the backup, then signed and the head kept outside the database
    audit_tree_heads.sign_tree_head()
    kept = tmp_path / "latest-head.json"
    assert runner.invoke(args=["audit", "tree-head", "--out", str(kept)]).exit_code == 0
    latest = _log_size()
    assert latest > at_backup

    restored = create_app({"env": "testing", "database_url": fresh_database_url})
    try:
        db.bind(restored.extensions["hub_engine"])
        restored_runner = restored.test_cli_runner()
        done = restored_runner.invoke(args=["db", "restore", "--from", str(backup_file)])
        assert done.exit_code == 0, done.output
        client = restored.test_client()
        with restored.app_context():
            assert _log_size() == at_backup
            restored_user = db.session().get(User, social_worker.id)
        sign_in(client, restored_user, secret)  # the hub starts on the restored database
        home = client.get("/")
        assert home.status_code == 200 and social_worker.name in home.get_data(as_text=True)

        alone = restored_runner.invoke(args=["audit", "verify"])
        assert alone.exit_code == 0, alone.output  # consistent on its own...
        against = restored_runner.invoke(args=["audit", "verify", "--against", str(kept)])
        assert against.exit_code == 1  # ...and its loss shows against the head kept outside
        # (the restored hub has since logged the sign-in and the first check, still fewer than were lost)
        assert f"the saved tree head covers {latest} entries but the log has" in against.output

        again = restored_runner.invoke(args=["db", "restore", "--from", str(backup_file)])
        assert again.exit_code != 0 and "not empty" in again.output  # never over a live hub
    finally:
        db.session.remove()
        restored.extensions["hub_engine"].dispose()
        db.bind(app.extensions["hub_engine"])


def test_a_backup_that_is_not_there_is_refused_clearly(runner, tmp_path, fresh_database_url):
    restored = create_app({"env": "testing", "database_url": fresh_database_url})
    try:
        db.bind(restored.extensions["hub_engine"])
        result = restored.test_cli_runner().invoke(args=["db", "restore", "--from", str(tmp_path / "none.backup")])
        assert result.exit_code != 0 and "none.backup: no such backup" in result.output
    finally:
        restored.extensions["hub_engine"].dispose()
