"""The audit log cannot be altered without it showing: triggers, tree heads, verification,
exports, proofs, and gap-free numbering under concurrent writers."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from hub import db
from hub import worker as cli
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import merkle, signing
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.checkpoint import verifier_key, verify_note
from hub.dpo import integrity as dpo_integrity
from hub.models.audit import AuditEvent, AuditVerification, SignedTreeHead
from hub.models.roles import OrgKind, Role
from hub.notifications import delivery
from hub.people import service as people
from tests.factories import enrol, make_child, make_org, make_user

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def _events(n: int, integrate: bool = True) -> None:
    """n audited requests, then (as the worker would) the integrator's pass."""
    for i in range(n):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i % 3, detail={"i": i})
    if integrate:
        audit_integrator.integrate_all()


def _dialect() -> str:
    return db.session().get_bind().dialect.name


def _drop_triggers() -> None:
    """What an attacker with database access would do first."""
    with db.unit_of_work() as s:
        if _dialect() == "postgresql":
            for table in ("audit_event", "audit_node", "audit_tree_head"):
                s.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            for name in ("audit_event_no_update", "audit_event_no_delete", "audit_node_no_update",
                         "audit_node_no_delete", "audit_tree_head_no_delete"):
                s.execute(text(f"DROP TRIGGER {name}"))


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET action = 'nothing' WHERE seq = 0",
    "DELETE FROM audit_event WHERE seq = 0",
    "UPDATE audit_tree_head SET tree_size = 0",
    "DELETE FROM audit_node",
    "UPDATE audit_head SET tree_size = 0",
])
def test_the_database_refuses_to_change_or_remove_audit_rows(app, statement):
    _events(4)
    audit_tree_heads.sign_tree_head()
    with pytest.raises(Exception, match="append-only|only grows|cannot be deleted"), db.unit_of_work() as s:
        s.execute(text(statement))
    assert db.session().scalar(text("SELECT count(*) FROM audit_event")) == 4


def test_sequence_numbers_run_from_zero_without_gaps(app):
    _events(10)
    assert list(db.session().scalars(select(AuditEvent.seq).order_by(AuditEvent.seq))) == list(range(10))


def test_a_clean_log_verifies(app, runner):
    _events(13)
    audit_tree_heads.sign_tree_head()
    _events(4)
    audit_tree_heads.sign_tree_head()
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "OK: 17 entries" in result.output and "2 signed tree heads" in result.output


def test_one_byte_edited_behind_the_applications_back_is_caught_and_named(app, runner):
    _events(20)
    audit_tree_heads.sign_tree_head()
    _drop_triggers()
    with db.unit_of_work() as s:
        leaf = s.scalar(select(AuditEvent.leaf).where(AuditEvent.seq == 7))
        forged = leaf.replace(b'"read"', b'"reac"')
        s.execute(text("UPDATE audit_event SET leaf = :leaf WHERE seq = 7"), {"leaf": forged})
    result = _verify(runner)
    assert result.exit_code == 1
    assert "first bad entry 7" in result.output


def test_a_column_edited_without_its_leaf_is_caught(app, runner):
    _events(10)
    audit_tree_heads.sign_tree_head()
    _drop_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET actor_user_id = 999 WHERE seq = 3"))
    result = _verify(runner)
    assert result.exit_code == 1 and "first bad entry 3" in result.output


def test_a_leaf_rewritten_with_its_hash_is_caught_by_the_signed_tree_head(app, runner):
    _events(16)
    audit_tree_heads.sign_tree_head()
    _drop_triggers()
    with db.unit_of_work() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.seq == 5)).one()
        forged = event.leaf.replace(b'"read"', b'"reac"')
        s.execute(text("UPDATE audit_event SET leaf = :l, leaf_hash = :h, action = 'reac' WHERE seq = 5"),
                  {"l": forged, "h": merkle.leaf_hash(forged)})
    result = _verify(runner, "--fast")
    assert result.exit_code == 1
    assert "does not match" in result.output or "no longer produces its root" in result.output


def test_a_removed_entry_is_caught(app, runner):
    _events(10)
    audit_tree_heads.sign_tree_head()
    _drop_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    result = _verify(runner)
    assert result.exit_code == 1 and "entry 4 is missing" in result.output


def test_reordered_entries_are_caught(app, runner):
    _events(8)
    audit_tree_heads.sign_tree_head()
    _drop_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET seq = seq + 100 WHERE seq IN (2, 3)"))
        s.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 102"))
        s.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 103"))
    result = _verify(runner)
    assert result.exit_code == 1 and "first bad entry 2" in result.output


def test_a_whole_log_rewritten_with_the_signing_key_is_caught_against_a_saved_head(app, runner, tmp_path):
    _events(6)
    saved = tmp_path / "head.json"
    assert runner.invoke(args=["audit", "tree-head", "--out", str(saved)]).exit_code == 0
    _drop_triggers()
    with db.unit_of_work() as s:  # rewrite history, then re-sign everything with the hub's own key
        s.execute(text("DELETE FROM audit_tree_head"))
    with db.unit_of_work() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.seq == 1)).one()
        event_leaf = event.leaf.replace(b'"read"', b'"reac"')
        s.execute(text("UPDATE audit_event SET leaf = :l, leaf_hash = :h, action = 'reac' WHERE seq = 1"),
                  {"l": event_leaf, "h": merkle.leaf_hash(event_leaf)})
        s.execute(text("DELETE FROM audit_node"))
    # Rebuild the nodes so the rewritten log is self-consistent.
    tree = merkle.CompactRange()
    with db.unit_of_work() as s:
        for _seq, h in s.execute(select(AuditEvent.seq, AuditEvent.leaf_hash).order_by(AuditEvent.seq)).all():
            for level, index, node in tree.append(h):
                s.execute(text("INSERT INTO audit_node (level, idx, hash) VALUES (:l, :i, :h)"),
                          {"l": level, "i": index, "h": node})
    audit_tree_heads.sign_tree_head()
    clean = _verify(runner)
    assert clean.exit_code == 0, clean.output  # it looks perfect on its own...
    result = _verify(runner, "--against", str(saved))
    assert result.exit_code == 1 and "not consistent with the saved tree head" in result.output


def test_an_export_verifies_offline_and_an_edited_one_does_not(app, runner, tmp_path):
    _events(9)
    full, part = tmp_path / "full.json", tmp_path / "child.json"
    assert runner.invoke(args=["audit", "export", "--out", str(full)]).exit_code == 0
    assert runner.invoke(args=["audit", "export", "--out", str(part), "--child", "1"]).exit_code == 0
    for path in (full, part):
        ok = subprocess.run([sys.executable, "-m", "hub.audit.verify", str(path)], cwd=REPO, capture_output=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
    data = json.loads(part.read_text())
    assert data["entries"] and all(e["inclusion_proof"] is not None for e in data["entries"])
    assert {json.loads(__import__("base64").b64decode(e["leaf"]))["child_id"] for e in data["entries"]} == {1}
    leaf = bytearray(base64.b64decode(data["entries"][0]["leaf"]))
    leaf[-2] ^= 1
    data["entries"][0]["leaf"] = base64.b64encode(bytes(leaf)).decode()
    part.write_text(json.dumps(data))
    bad = subprocess.run([sys.executable, "-m", "hub.audit.verify", str(part)], cwd=REPO, capture_output=True)
    assert bad.returncode == 1


def test_inclusion_and_consistency_proofs_from_the_database_verify(app):
    _events(21)
    first = audit_tree_heads.sign_tree_head()
    _events(12)
    second = audit_tree_heads.sign_tree_head()
    for seq in (0, 7, 20, 32):
        leaf_hash = db.session().scalar(select(AuditEvent.leaf_hash).where(AuditEvent.seq == seq))
        proof = audit_tree_heads.inclusion_proof(seq, second.tree_size)
        assert merkle.verify_inclusion(leaf_hash, seq, second.tree_size, proof, second.root_hash)
    proof = audit_tree_heads.consistency_proof(first.tree_size, second.tree_size)
    assert merkle.verify_consistency(first.tree_size, second.tree_size, first.root_hash, second.root_hash, proof)


def test_the_checkpoint_is_a_signed_note_for_the_latest_tree_head(app, client):
    _events(5)
    audit_tree_heads.sign_tree_head()
    origin = app.config["HUB"].audit_log_origin
    with app.app_context():
        note = audit_tree_heads.checkpoint_note(origin, audit_tree_heads.latest_tree_head())
        key = verifier_key(origin, audit_keys.signing_key().public_key())
    assert verify_note(note, key) == (origin, 5, audit_tree_heads.latest_tree_head().root_hash)


def test_no_personal_content_reaches_the_log(app):
    school = make_org(OrgKind.school)
    user, _ = make_user(school, Role.dsl)
    child = make_child("Philippa", "Quenby")
    enrol(child, school)
    people.get_child(user, child.id)
    audit_integrator.integrate_all()
    everything = b" ".join(db.session().scalars(select(AuditEvent.leaf)))
    assert b"Philippa" not in everything and b"Quenby" not in everything


@pytest.mark.parametrize("before, batch", [(0, 5), (13, 37), (16, 16), (1, 1)])
def test_a_batch_of_events_extends_the_tree_exactly_as_single_appends_would(app, runner, before, batch):
    _events(before)
    with db.unit_of_work():
        audit.record_many(None, [audit.Entry("read", object_type="child", child_id=i) for i in range(batch)])
    audit_integrator.integrate_all()
    seqs = list(db.session().scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(before + batch))
    head = audit_tree_heads.sign_tree_head()
    hashes = list(db.session().scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))
    assert head.root_hash == merkle.root_from_leaf_hashes(hashes)
    for seq in (0, before + batch - 1):
        proof = audit_tree_heads.inclusion_proof(seq, head.tree_size)
        assert merkle.verify_inclusion(hashes[seq], seq, head.tree_size, proof, head.root_hash)
    assert _verify(runner).exit_code == 0


def _delete_from(seq: int) -> None:
    """What a database administrator with the triggers dropped could do: cut the end off the log."""
    _drop_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq >= :seq"), {"seq": seq})


@pytest.mark.parametrize("signed", [False, True])
def test_entries_deleted_from_the_end_are_caught_by_the_append_counter(app, runner, signed):
    _events(10)
    if signed:
        audit_tree_heads.sign_tree_head()
    _delete_from(7)
    result = _verify(runner)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, KeyError)
    assert "does NOT verify: the log ends at 7, the head says 10" in result.output
    # The outcome is kept, but the truncated log is not extended with the check's own event.
    kept = db.session().scalars(select(AuditVerification)).one()
    assert (kept.ok, kept.tree_size, kept.first_bad_entry) == (False, 7, 7)
    assert db.session().scalar(text("SELECT max(seq) FROM audit_event")) == 6


def test_the_check_records_its_own_event_after_the_entries_it_verified(app, runner):
    _events(5)
    result = _verify(runner)
    assert result.exit_code == 0 and "OK: 5 entries" in result.output
    event = db.session().scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (event.seq, event.action, json.loads(event.detail)["tree_size"]) == (5, "verify", 5)


def test_a_fresh_demo_hub_has_a_signed_head_so_a_cut_log_does_not_verify(app, runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    head = audit_tree_heads.latest_tree_head()
    assert head is not None and head.tree_size == audit_tree_heads.tree_size()
    _delete_from(head.tree_size - 3)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"the log ends at {head.tree_size - 3}, the head says {head.tree_size}" in result.output


def test_the_dpos_check_never_signs_a_head_over_a_tampered_log(app):
    admin = make_user(make_org(OrgKind.mace_host), Role.hub_admin)[0]
    _events(6)
    _drop_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET actor_user_id = 999 WHERE seq = 3"))
    queued = dpo_integrity.verify_now(admin, "full")
    assert (queued.status, queued.ok) == ("queued", None)  # the request only queues it
    assert dpo_integrity.run_queued_verifications() == 1
    row = db.session().get(AuditVerification, queued.id, populate_existing=True)
    assert row.status == "done" and not row.ok and row.first_bad_entry == 3
    assert db.session().scalar(select(SignedTreeHead.id).limit(1)) is None


def test_the_delivery_worker_signs_a_tree_head_each_hour(app):
    _events(3)
    duties = [d for d in cli.audit_duties() if d.name == "sign and witness"]
    stop = threading.Event()

    def one_cycle() -> int:
        stop.set()
        return 0

    delivery.run_duties(duties + [delivery.Duty("stop", one_cycle)], stop, 0)

    def heads():
        return db.session().scalars(select(SignedTreeHead).execution_options(populate_existing=True)).all()

    assert [h.tree_size for h in heads()] == [3]
    stop.clear()
    delivery.run_duties(duties + [delivery.Duty("stop", one_cycle)], stop, 0)
    assert len(heads()) == 1  # the latest head is not an hour old: another worker signed it
    now = datetime.now(UTC)
    assert not signing.due(now=now + timedelta(minutes=59))
    assert signing.sign_and_publish_if_due(now=now + timedelta(minutes=61)) == 1
