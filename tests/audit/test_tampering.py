"""Whoever can write the database can no longer rewrite the log and have it signed: each tamper
of issue 20, done as a database administrator with the triggers disabled, is caught by the full
check, never signed by the hub, and (where the log's history changed) refused by the witnesses,
which keep their own record; the alarm shows on the panel. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from hub import db
from hub.audit import alarms, merkle, signing
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.dpo import integrity as dpo_integrity
from hub.models.audit import AuditAlarm, AuditVerification, SignedTreeHead
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user, sign_in
from tests.support.audit_log import disable_triggers, forced_head, forge_integrated_row, record_events, rewrite_entry


@pytest.fixture
def history(app, witnesses):
    """20 entries signed and cosigned, a full check, 10 more signed and cosigned."""
    record_events(20)
    signing.sign_and_publish()
    assert dpo_integrity.run_verification("full").ok
    record_events(10)
    head = signing.sign_and_publish()
    assert [w.cosigned_size() for w in witnesses] == [head.tree_size] * 2
    return head


def heads() -> int:
    return db.session().scalar(select(func.count()).select_from(SignedTreeHead))


def assert_caught(witnesses, cosigned_before: int, check_says: str) -> None:
    result = dpo_integrity.run_verification("full")
    assert not result.ok and check_says in " ".join(result.problems), result.problems
    before = heads()
    with pytest.raises(audit_tree_heads.SigningRefused):
        signing.sign_and_publish()
    assert heads() == before  # the hub never signed the rewritten tree
    assert alarms.is_open("log-damaged") and alarms.is_open("signing-refused")
    forced = signing.publish(forced_head())
    assert sorted(forced.refused) == sorted(w.name for w in witnesses) and not forced.cosigned, forced
    assert [w.cosigned_size() for w in witnesses] == [cosigned_before] * 2  # the witnesses never moved
    assert all(alarms.is_open("witness-refused", w.name) for w in witnesses)
    assert all(w.witness.store.refusals() for w in witnesses)  # and each kept the evidence


def test_a_truncated_and_reset_log_is_caught_unsigned_and_refused(history, witnesses):
    disable_triggers()
    with db.unit_of_work() as s:
        for table in ("audit_event_child", "audit_event", "audit_node", "audit_cosignature", "audit_tree_head"):
            s.execute(text(f"DELETE FROM {table}"))
        s.execute(text("UPDATE audit_head SET tree_size = 0"))
    assert_caught(witnesses, history.tree_size, "but the log has 0")


def test_a_rewrite_with_a_recomputed_tree_and_deleted_heads_is_caught_unsigned_and_refused(history, witnesses):
    disable_triggers()
    rewrite_entry(3)
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_cosignature"))
        s.execute(text("DELETE FROM audit_tree_head"))
    assert_caught(witnesses, history.tree_size, "not consistent with")


def test_a_rewrite_of_the_recorded_roots_too_is_caught_by_the_witnesses_alone(history, witnesses):
    """Nothing in the database remembers the old log: no head, no verified root, no record of
    what the witnesses cosigned. Only the witnesses do, and that is enough."""
    disable_triggers()
    rewrite_entry(3)
    with db.unit_of_work() as s:
        for table in ("audit_cosignature", "audit_tree_head", "audit_verification", "audit_witness", "audit_alarm"):
            s.execute(text(f"DELETE FROM {table}"))
    assert_caught(witnesses, history.tree_size, "the checkpoint witness council.example.test/witness cosigned")


def test_a_forged_integrated_row_is_caught_and_the_log_is_not_signed_again(history, witnesses):
    size = forge_integrated_row()
    result = dpo_integrity.run_verification("full")
    assert not result.ok and f"the log ends at {size + 1}, the head says {size}" in result.problems
    incremental = dpo_integrity.run_verification("incremental")  # a verdict, not KeyError: (1, 346)
    assert not incremental.ok
    with pytest.raises(audit_tree_heads.SigningRefused, match="removed or forged"):
        signing.sign_and_publish()  # the integrator cannot number past the forged row
    assert heads() == 3 and [w.cosigned_size() for w in witnesses] == [size] * 2


def test_an_entry_integrated_as_minus_one_is_refused_by_the_trigger_and_caught_by_every_check(history):
    with db.unit_of_work():
        audit.record("read", object_type="child", object_id="x")
    junk = b"junk"
    with pytest.raises(Exception, match="append-only|next number"), db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET seq = -1, leaf = :l, leaf_hash = :h WHERE seq IS NULL"),
                  {"l": junk, "h": merkle.leaf_hash(junk)})
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET seq = -1, leaf = :l, leaf_hash = :h WHERE seq IS NULL"),
                  {"l": junk, "h": merkle.leaf_hash(junk)})
    for kind in ("full", "incremental"):
        result = dpo_integrity.run_verification(kind)
        assert not result.ok and "an entry is numbered -1, outside the log" in " ".join(result.problems)
        assert result.first_bad_entry == -1


def test_the_panel_shows_the_witnesses_refusal_and_the_alarms_of_a_rewritten_log(app, history, witnesses):
    disable_triggers()
    rewrite_entry(5)
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_cosignature"))
        s.execute(text("DELETE FROM audit_tree_head"))
    record_events(2)  # the rewritten log goes on growing
    dpo_integrity.run_verification("full")
    signing.publish(forced_head())
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="alarm-log-damaged"' in page and 'data-testid="alarm-witness-refused"' in page
    assert "Failed (full check)" in page and "police.example.test/witness" in page
    assert "422: the consistency proof" in page  # the witness's own words, kept and shown
    hub_dpo, dpo_secret = make_user(make_org(OrgKind.mace_host), Role.dpo)
    dpo_client = app.test_client()
    sign_in(dpo_client, hub_dpo, dpo_secret)
    refused = dpo_client.get("/audit/export.json", follow_redirects=True)
    assert refused.mimetype == "text/html" and "The audit log cannot be exported" in refused.get_data(as_text=True)
    # The administrator clearing the alarm rows by hand does not silence them: the next cycle
    # of the worker raises them again.
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_alarm"))
    with pytest.raises(audit_tree_heads.SigningRefused):
        signing.sign_and_publish_if_due(every=__import__("datetime").timedelta(0))
    assert db.session().scalar(select(func.count()).select_from(AuditAlarm)) >= 1
    assert 'data-testid="alarm-signing-refused"' in client.get("/audit/integrity").get_data(as_text=True)


def test_the_hub_never_signs_without_a_proof_from_the_previous_signed_head(app):
    """No witnesses here: the database's own previous head and verified root are the anchors."""
    record_events(12)
    audit_tree_heads.sign_tree_head()
    disable_triggers()
    rewrite_entry(4)
    with pytest.raises(audit_tree_heads.SigningRefused, match="signed tree head"):
        audit_tree_heads.sign_tree_head()
    assert heads() == 1
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_tree_head"))
    assert audit_tree_heads.sign_tree_head()  # with every head and root deleted, only witnesses could tell
    assert db.session().scalar(select(func.count()).select_from(AuditVerification)) == 0



def test_a_head_whose_consistency_proof_cannot_be_built_is_sent_to_no_witness(history, witnesses):
    """The stored tree's nodes deleted behind the hub's back: the proof from the size each witness
    cosigned cannot be built, so the checkpoint is not sent (a witness would refuse it anyway)."""
    record_events(5)
    head = audit_tree_heads.sign_tree_head()
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_node"))
    result = signing.publish(head)
    why = f"the tree nodes to prove consistency from {history.tree_size} entries are missing"
    assert result.refused == {w.name: why for w in witnesses} and not result.cosigned, result
    assert [w.cosigned_size() for w in witnesses] == [history.tree_size] * 2  # nothing was sent
    assert not any(w.witness.store.refusals() for w in witnesses)
    assert all(alarms.is_open("witness-refused", w.name) for w in witnesses) and alarms.is_open("not-published")
