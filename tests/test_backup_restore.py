"""Backup and restore (README, "Backup and restore"): a backup restored into a fresh database
starts, its audit log verifies on its own, and what was written after the backup is reported
missing against the latest tree head kept outside the database: a restore is never silent.
On SQLite (the online backup API) and on PostgreSQL (pg_dump / pg_restore) when the suite runs
on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub import create_app, db
from hub.audit import alarms, signing, witnessing
from hub.audit import integrator as audit_integrator
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user, sign_in
from tests.support.witnesses import start_witness

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REPO = Path(__file__).resolve().parents[1]


def _read_events(n: int) -> None:
    for i in range(n):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i, detail={"i": i})
    audit_integrator.integrate_all()


def _log_size() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_not(None)))


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


def _restored_app(url: str):
    restored = create_app({"env": "testing", "database_url": url})
    db.bind(restored.extensions["hub_engine"])
    return restored


def _offline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_a_restored_hub_that_has_logged_more_than_it_lost_is_still_caught_by_the_witnesses_and_the_kept_checkpoint(
        app, runner, tmp_path, fresh_database_url):
    """The restored log soon outgrows what it lost; the loss must still show: the witnesses (who
    cosigned the lost entries) refuse it, the hub will not sign over it, and both the online check
    and the offline verifier fail it against the head and the checkpoint kept outside."""
    running = [start_witness(tmp_path / "police", "police.example.test/witness"),
               start_witness(tmp_path / "council", "council.example.test/witness")]
    spec = ",".join(f"{r.url} {r.witness.vkey}" for r in running)
    app.extensions["hub_witnessing"] = witnessing.parse(spec, "2", "5", witnessing.settings().origin)
    restored = None
    try:
        _read_events(4)
        assert signing.is_published(signing.sign_and_publish())
        backup_file = tmp_path / "hub.backup"
        assert runner.invoke(args=["db", "backup", "--out", str(backup_file)]).exit_code == 0
        lost_from = _log_size()
        _read_events(3)  # the entries the restore will lose, cosigned by both witnesses
        latest = signing.sign_and_publish()
        assert signing.is_published(latest) and latest.tree_size > lost_from
        kept_head, kept_note = tmp_path / "latest-head.json", tmp_path / "latest-checkpoint.txt"
        assert runner.invoke(args=["audit", "tree-head", "--out", str(kept_head)]).exit_code == 0
        assert runner.invoke(args=["audit", "checkpoint", "--out", str(kept_note)]).exit_code == 0
        public_key = tmp_path / "hub-key.pem"
        public_key.write_text(app.test_client().get("/audit/public-key").get_data(as_text=True))
        db.session.remove()

        restored = _restored_app(fresh_database_url)
        restored_runner = restored.test_cli_runner()
        assert restored_runner.invoke(args=["db", "restore", "--from", str(backup_file)]).exit_code == 0
        with restored.app_context():
            _read_events(3 * (latest.tree_size - lost_from))  # more than was lost, by far
            assert _log_size() > latest.tree_size

            # Without the witnesses (an operator hiding the restore) the log is consistent on its
            # own, and the hub signs and exports it...
            assert restored_runner.invoke(args=["audit", "verify"]).exit_code == 0
            export = tmp_path / "restored-export.json"
            assert restored_runner.invoke(args=["audit", "export", "--out", str(export)]).exit_code == 0
            assert json.loads(export.read_text())["tree_head"]["tree_size"] > latest.tree_size
        # ...but the offline verifier, given the checkpoint kept outside, fails the export,
        offline = _offline(export, "--public-key", public_key, "--against", kept_note)
        assert offline.returncode == 1, offline.stdout + offline.stderr
        assert (f"not consistent with the saved checkpoint of {latest.tree_size} entries"
                in offline.stdout + offline.stderr), offline.stdout + offline.stderr

        # with the witnesses configured, as in production, the hub will not sign over their checkpoints,
        restored.extensions["hub_witnessing"] = app.extensions["hub_witnessing"]
        with restored.app_context():
            with pytest.raises(audit_tree_heads.SigningRefused) as refused:
                signing.sign_and_publish()
            assert [p for p in refused.value.problems if f"witness police.example.test/witness cosigned "
                    f"({latest.tree_size} entries)" in p and "does not verify" in p], refused.value.problems
            assert "signing-refused" in {alarm.kind for alarm in alarms.open_alarms()}
            checked = restored_runner.invoke(args=["audit", "verify"])
            assert checked.exit_code == 1, checked.output
            # The witnesses' checkpoints come from them, not the database; the first entry lost is named.
            assert f"cosigned (size {latest.tree_size})" in checked.output, checked.output
            assert f"(first bad entry {lost_from})" in checked.output, checked.output
            # and the online check fails against the tree head kept outside, naming its size.
            restored.extensions["hub_witnessing"] = witnessing.Witnessing(origin=witnessing.settings().origin)
            against = restored_runner.invoke(args=["audit", "verify", "--against", str(kept_head)])
            assert against.exit_code == 1
            assert (f"the log is not consistent with the saved tree head (size {latest.tree_size})"
                    in against.output), against.output
        assert all(r.cosigned_size() == latest.tree_size for r in running)  # the witnesses kept their state
    finally:
        db.session.remove()
        if restored is not None:
            restored.extensions["hub_engine"].dispose()
        db.bind(app.extensions["hub_engine"])
        for r in running:
            r.stop()
