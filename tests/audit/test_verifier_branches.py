"""Every tamper-detecting branch of hub.audit.verification runs here (several never ran before
issue 20), and the smaller faults it listed: the child export through about_child, the right end
named, verdicts instead of tracebacks, the latest finished check shown, the pending alarm shown
as an alarm."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select, text

from hub import db
from hub.audit import checkpoint, merkle, verification
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.export import build_export
from hub.audit.verification import (
    SavedHead,
    Verification,
    _check_counter,
    _check_listing_index,
    _check_organisation_index,
    _pair_digest,
    verify_log,
    verify_since,
)
from hub.dpo import integrity as dpo_integrity
from hub.models.audit import (
    AuditEvent,
    AuditEventChild,
    AuditEventOrganisation,
    AuditVerification,
    SignedTreeHead,
)
from hub.models.roles import OrgKind, Role
from tests.factories import involve, make_child, make_org, make_user, sign_in
from tests.support.audit_log import disable_triggers, rebuild_tree, record_events, rewrite_entry


def key():
    return audit_keys.signing_key().public_key()


def verified(kind: str = "full"):
    result = dpo_integrity.run_verification(kind)
    assert result.ok, result.problems
    return result


def sign_head(size: int, root: bytes, valid: bool = True) -> SignedTreeHead:
    stamp = checkpoint.rfc3339_utc(datetime.now(UTC))
    signature = checkpoint.sign_tree_head(size, root, stamp, audit_keys.signing_key()) if valid else bytes(64)
    with db.unit_of_work() as s:
        head = SignedTreeHead(tree_size=size, root_hash=root, timestamp=stamp, signature=signature)
        s.add(head)
    return head


def test_an_incremental_check_on_a_log_shorter_than_last_verified_names_where_it_really_ends(app):
    record_events(10)
    first = verified()
    disable_triggers()
    with db.unit_of_work() as s:  # the tail cut, the head left as it was
        s.execute(text("DELETE FROM audit_event WHERE seq >= 7"))
    result = verify_since(key(), first.tree_size, first.root)
    assert result.problems == [f"the log ends at 7, but {first.tree_size} entries were verified before"]
    assert (result.first_bad_entry, result.tree_size) == (7, 7)


def test_an_incremental_check_with_the_tree_nodes_gone_says_so(app):
    record_events(16)
    first = verified()
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_node"))
    result = verify_since(key(), first.tree_size, first.root)
    assert result.problems == [f"the tree nodes covering the first {first.tree_size} entries are missing"]
    assert result.first_bad_entry == 0


def test_an_incremental_check_proves_consistency_with_every_older_anchor(app):
    """A node under an older signed head rewritten, with the newer tree left intact: only the
    consistency proof from that older head finds it; a node deleted is named as missing."""
    record_events(5)
    audit_tree_heads.sign_tree_head()  # an anchor at 5
    record_events(11)
    first = verified()  # verified at 16 (and signed)
    record_events(3)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_node SET hash = :h WHERE level = 1 AND idx = 3"), {"h": bytes(32)})
    result = verify_since(key(), first.tree_size, first.root)
    assert any("consistency proof from tree head 1 (5 entries)" in p and "does not verify" in p
               for p in result.problems), result.problems
    assert result.first_bad_entry == 0  # below where the check started: blamed from the first entry
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_node WHERE level = 1 AND idx = 3"))
    result = verify_since(key(), first.tree_size, first.root)
    assert any("tree nodes needed to prove consistency with tree head 1 are missing" in p for p in result.problems)
    assert result.first_bad_entry == 0


def test_a_rewritten_tree_before_the_verified_root_fails_the_incremental_check_at_once(app):
    record_events(12)
    first = verified()
    disable_triggers()
    rewrite_entry(2)
    result = verify_since(key(), first.tree_size, first.root)
    assert result.problems == [f"the first {first.tree_size} entries no longer produce the root verified before: "
                               "entries before it were changed or removed"]
    assert result.first_bad_entry == 0


def test_a_signed_head_with_a_bad_signature_fails_both_checks(app):
    record_events(6)
    bad = sign_head(6, audit_tree_heads.root_at(6), valid=False)
    for result in (verify_log(key()), verify_since(key(), 3, audit_tree_heads.root_at(3))):
        assert f"tree head {bad.id} (size 6): the signature is not valid" in result.problems


def test_a_signed_head_of_an_empty_log_with_a_wrong_root_fails(app):
    record_events(2)
    sign_head(0, bytes(32))
    assert "tree head 1 has a wrong root for an empty log" in verify_log(key()).problems


def test_a_saved_head_with_a_bad_signature_or_larger_than_the_log_fails(app):
    record_events(8)
    stamp = checkpoint.rfc3339_utc(datetime.now(UTC))
    root = audit_tree_heads.root_at(8)
    forged = SavedHead(8, root, stamp, bytes(64))
    assert verify_log(key(), against=forged).problems == ["the saved tree head's signature is not valid"]
    bigger = SavedHead(20, root, stamp, checkpoint.sign_tree_head(20, root, stamp, audit_keys.signing_key()))
    result = verify_log(key(), against=bigger)
    assert result.problems == ["the saved tree head covers 20 entries but the log has 8"]
    assert result.first_bad_entry == 8
    good = SavedHead(8, root, stamp, checkpoint.sign_tree_head(8, root, stamp, audit_keys.signing_key()))
    assert verify_log(key(), against=good).ok


def test_a_log_shorter_than_a_verified_root_fails_the_full_check(app):
    record_events(9)
    verified()
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event"))
        s.execute(text("DELETE FROM audit_node"))
        s.execute(text("DELETE FROM audit_tree_head"))
        s.execute(text("UPDATE audit_head SET tree_size = 0"))
    result = verify_log(key())
    assert "the root verified by check 1 covers 9 entries but the log has 0" in result.problems


def test_a_stored_node_and_a_leaf_hash_edited_are_each_named(app):
    record_events(8)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_node SET hash = :h WHERE level = 2 AND idx = 1"), {"h": bytes(32)})
        s.execute(text("UPDATE audit_event SET leaf_hash = :h WHERE seq = 1"), {"h": bytes(32)})
        s.execute(text("UPDATE audit_event SET leaf = :l WHERE seq = 2"), {"l": b"not json"})
    result = verify_log(key())
    problems = result.problems
    assert result.first_bad_entry == 1  # the first failure names it, later ones do not move it
    assert "entry 1: its leaf does not match its stored hash" in problems
    assert "entry 7: stored tree node (2, 1) does not match" in problems
    assert "entry 2: its fields no longer match its signed leaf" in problems


def test_the_full_check_reports_its_progress(app):
    record_events(12)
    seen = []
    original, verification.BATCH = verification.BATCH, 5
    try:
        verify_log(key(), progress=lambda checked, total: seen.append((checked, total)))
    finally:
        verification.BATCH = original
    assert seen == [(5, 12), (10, 12)]


# --- the smaller faults -------------------------------------------------------------------------

def test_a_child_s_signed_export_holds_the_listings_that_showed_the_child(app):
    with db.unit_of_work():
        audit.record("read", object_type="child", child_id=7)
        audit.record("read", object_type="child-list", children=[3, 7, 9])
        audit.record("read", object_type="child-list", children=[3])
    data = build_export(child_id=7)
    shown = [json.loads(__import__("base64").b64decode(e["leaf"])) for e in data["entries"]]
    assert [(e["object_type"], e["child_id"]) for e in shown] == [("child", 7), ("child-list", None)]


def test_the_incremental_command_after_a_forged_row_gives_a_verdict_not_a_traceback(app, runner):
    record_events(6)
    verified()
    size = audit_tree_heads.tree_size()
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(insert(AuditEvent.__table__).values(seq=size, occurred_at=datetime.now(UTC), outcome="done",
                                                      action="read", leaf=b"{}", leaf_hash=merkle.leaf_hash(b"{}")))
        s.execute(text("INSERT INTO audit_node (level, idx, hash) VALUES (1, 3, :h)"), {"h": bytes(32)})
    result = runner.invoke(args=["audit", "verify", "--incremental"])
    assert result.exit_code == 1 and not isinstance(result.exception, KeyError), result.output
    assert "does NOT verify" in result.output


@pytest.mark.parametrize("size", [10, 11])
def test_an_export_after_the_tail_was_cut_is_refused_with_a_verdict(app, runner, tmp_path, size):
    record_events(size)
    audit_tree_heads.sign_tree_head()
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq >= 7"))
    result = runner.invoke(args=["audit", "export", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 1 and not isinstance(result.exception, KeyError), result.output
    assert "cannot be exported" in result.output and f"the log ends at 7, the head says {size}" in result.output


def test_the_panel_shows_the_check_that_finished_last_and_each_kind_apart(app):
    record_events(3)
    now = datetime.now(UTC)
    with db.unit_of_work() as s:  # a long full check queued first and finishing last, failed
        s.add(AuditVerification(kind="full", status="done", ok=False, tree_size=3, summary="entry 1 is missing",
                                at=now - timedelta(hours=2), finished_at=now - timedelta(minutes=1)))
        s.add(AuditVerification(kind="full", status="done", ok=True, tree_size=3, at=now - timedelta(hours=1),
                                finished_at=now - timedelta(minutes=30)))
        s.add(AuditVerification(kind="incremental", status="done", ok=True, tree_size=3,
                                at=now - timedelta(minutes=20), finished_at=now - timedelta(minutes=20)))
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert "Failed (full check)" in page and "Verified (new entries only)" in page
    assert "Verified (full check)" not in page and 'data-testid="failed-full"' in page


def test_entries_waiting_too_long_are_an_alarm_and_the_log_still_verifies(app):
    record_events(2)
    with db.unit_of_work() as s:
        s.connection().execute(insert(AuditEvent.__table__), {
            "occurred_at": datetime.now(UTC) - timedelta(minutes=1), "outcome": "done", "action": "read"})
    result = dpo_integrity.run_verification("full")
    assert result.ok and result.late_pending == 1 and "waiting to be sequenced" in result.alarms[0]
    row = db.session().scalars(select(AuditVerification)).one()
    assert row.ok is True and row.summary is None  # not "The log did not verify"
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="alarm-integrator-late"' in page and "Verified (full check)" in page
    assert "did not verify" not in page


def test_a_clean_incremental_check_proves_every_older_anchor_and_reads_only_what_is_new(app):
    record_events(5)
    audit_tree_heads.sign_tree_head()  # an anchor below where the check will start
    record_events(11)
    first = verified()
    record_events(3)
    size = audit_tree_heads.tree_size()
    result = verify_since(key(), first.tree_size, first.root)
    assert result.ok, result.problems
    assert (result.kind, result.start, result.tree_size) == ("incremental", first.tree_size, size)
    assert result.root == audit_tree_heads.root_at(size) and result.appendable and result.first_bad_entry is None
    heads = db.session().scalars(select(SignedTreeHead)).all()
    trees = {(h.tree_size, h.root_hash) for h in heads} | {(first.tree_size, first.root)}
    assert result.heads_checked == len(heads) and result.anchors_checked == len(trees)  # each tree once


def test_an_incremental_check_reads_new_entries_columns_unless_asked_to_be_fast(app):
    record_events(8)
    first = verified()
    record_events(4)
    victim = audit_tree_heads.tree_size() - 2
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET actor_user_id = 999 WHERE seq = :seq"), {"seq": victim})
    result = verify_since(key(), first.tree_size, first.root)
    assert result.problems == [f"entry {victim}: its fields no longer match its signed leaf"]
    assert result.first_bad_entry == victim and result.root is None
    assert verify_since(key(), first.tree_size, first.root, fast=True).ok


def test_the_listing_index_must_hold_exactly_what_the_leaves_name(app):
    with db.unit_of_work():
        audit.record("read", object_type="child-list", children=[3, 7, 9])
        audit.record("read", object_type="mace-outcomes", detail={"children": [4]})
        # Enough pairs that the digests' sum passes 2**64: the modulus itself is then checked.
        audit.record("read", object_type="child-list", children=list(range(100, 160)))
    record_events(2)
    assert verify_log(key()).ok
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event_child WHERE child_id = 7"))
    assert verify_log(key()).problems == ["the index of children shown by listings holds 63 entries where the log's "
                                          "leaves name 64: it was changed"]
    with db.unit_of_work() as s:  # the count put right with a different pair: the digest still differs
        event = s.scalar(select(AuditEvent.id).where(AuditEvent.object_type == "child-list"))
        s.execute(text("INSERT INTO audit_event_child (event_id, child_id) VALUES (:e, 8)"), {"e": event})
    assert verify_log(key()).problems == ["the index of children shown by listings holds 64 entries where the log's "
                                          "leaves name 64: it was changed"]


def test_a_leaf_that_is_not_an_event_s_json_fails_without_breaking_the_check(app):
    record_events(3)
    disable_triggers()
    for forged in (b'["children"]', b'{"children" oops'):
        with db.unit_of_work() as s:
            s.execute(text("UPDATE audit_event SET leaf = :l, leaf_hash = :h WHERE seq = 1"),
                      {"l": forged, "h": merkle.leaf_hash(forged)})
            rebuild_tree(s)
        assert verify_log(key()).problems == ["entry 1: its fields no longer match its signed leaf"]


def test_a_gap_stops_the_scan_and_the_log_cannot_be_extended(app):
    record_events(8)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    result = verify_log(key())
    assert result.problems == ["entry 4 is missing (the next entry is 5)"]
    assert (result.first_bad_entry, result.tree_size, result.appendable, result.root) == (4, 4, False, None)


def test_the_log_must_end_where_its_head_says(app):
    record_events(10)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(insert(AuditEvent.__table__).values(seq=10, occurred_at=datetime.now(UTC), outcome="done",
                                                      action="read", leaf=b"{}", leaf_hash=merkle.leaf_hash(b"{}")))
    longer = verify_log(key(), fast=True)
    assert longer.problems == ["the log ends at 11, the head says 10"]
    assert (longer.first_bad_entry, longer.appendable) == (10, False)
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq >= 7"))
    shorter = verify_log(key())
    assert shorter.problems == ["the log ends at 7, the head says 10"] and shorter.first_bad_entry == 7


def test_entries_waiting_past_the_limit_are_an_alarm_of_either_check(app):
    record_events(4)
    late = audit.Pending(2, datetime.now(UTC) - timedelta(minutes=5))
    fresh = audit.Pending(2, datetime.now(UTC))
    for result in (verify_log(key(), waiting=late), verify_since(key(), 2, audit_tree_heads.root_at(2), waiting=late)):
        assert result.ok and result.late_pending == 2
        assert result.alarms[0].startswith("2 entries are waiting to be sequenced, the oldest since ")
    assert verify_log(key(), waiting=fresh).alarms == []


def test_a_saved_head_and_the_witnesses_anchors_are_both_checked(app):
    record_events(8)
    stamp = checkpoint.rfc3339_utc(datetime.now(UTC))
    root = audit_tree_heads.root_at(8)
    good = SavedHead(8, root, stamp, checkpoint.sign_tree_head(8, root, stamp, audit_keys.signing_key()))
    bad = audit.Anchor(6, bytes(32), "the checkpoint witness w cosigned")
    result = verify_log(key(), against=good, anchors=[bad])
    assert result.problems == ["the log is not consistent with the checkpoint witness w cosigned (size 6): it no "
                               "longer produces its root, so entries before it were changed or removed"]
    assert verify_log(key(), against=good, anchors=[audit.Anchor(6, audit_tree_heads.root_at(6), "w")]).ok


def test_an_entry_numbered_below_zero_fails_both_checks_directly(app):
    record_events(4)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(insert(AuditEvent.__table__).values(seq=-1, occurred_at=datetime.now(UTC), outcome="done",
                                                      action="read", leaf=b"{}", leaf_hash=merkle.leaf_hash(b"{}")))
    for result in (verify_log(key()), verify_since(key(), 2, audit_tree_heads.root_at(2))):
        assert result.problems == ["an entry is numbered -1, outside the log (numbers start at 0)"]
        assert result.first_bad_entry == -1


def test_an_incremental_check_with_nothing_new_verifies(app):
    record_events(6)
    size = audit_tree_heads.tree_size()
    result = verify_since(key(), size, audit_tree_heads.root_at(size))
    assert result.ok and result.tree_size == size and result.root == audit_tree_heads.root_at(size)


def test_the_incremental_check_reports_its_progress(app):
    record_events(4)
    first = verified()
    record_events(11)
    seen = []
    original, verification.BATCH = verification.BATCH, 5
    try:
        verify_since(key(), first.tree_size, first.root, progress=lambda checked, total: seen.append((checked, total)))
    finally:
        verification.BATCH = original
    assert seen == [(5, 12), (10, 12)]  # the 11 entries and the first check's own event


def test_many_anchors_are_proven_with_their_nodes_fetched_in_chunks(app, monkeypatch):
    for _ in range(6):
        record_events(3)
        audit_tree_heads.sign_tree_head()
    first = verified()
    record_events(5)
    monkeypatch.setattr(verification, "NODE_CHUNK", 2)
    result = verify_since(key(), first.tree_size, first.root)
    assert result.ok, result.problems


def test_a_mismatched_anchor_blames_the_first_entry_after_the_last_good_one(app):
    record_events(4)
    audit_tree_heads.sign_tree_head()
    record_events(4)
    second = audit_tree_heads.sign_tree_head()
    disable_triggers()
    rewrite_entry(second.tree_size - 2)  # under the second head only
    result = verify_log(key())
    assert second.tree_size == 8 and result.first_bad_entry == 4  # entries 0..3 are still under the first head


def test_the_head_named_is_the_one_read_before_the_scan_for_a_short_log_and_after_it_for_a_long_one():
    """Entries integrated while a check runs move the head between its two readings: a log that
    ends before the first reading is short of it, one that ends after the second is too long."""
    short, long_, fine = Verification(tree_size=9), Verification(tree_size=13), Verification(tree_size=11)
    assert not _check_counter(short, 10, 12) and short.problems == ["the log ends at 9, the head says 10"]
    assert short.first_bad_entry == 9
    assert not _check_counter(long_, 10, 12) and long_.problems == ["the log ends at 13, the head says 12"]
    assert long_.first_bad_entry == 12
    assert _check_counter(fine, 10, 12) and _check_counter(Verification(tree_size=10), 10, 12)
    assert _check_counter(Verification(tree_size=12), 10, 12) and not fine.problems


def test_an_incremental_check_counts_only_the_new_entries_listings(app):
    with db.unit_of_work():
        audit.record("read", object_type="child-list", children=[3, 7])
    first = verified()
    with db.unit_of_work():
        audit.record("read", object_type="child-list", children=[5])
    record_events(2)
    result = verify_since(key(), first.tree_size, first.root)
    assert result.ok, result.problems


def test_a_stored_node_deleted_or_edited_alone_is_named_as_the_first_bad_entry(app):
    record_events(8)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_node SET hash = :h WHERE level = 2 AND idx = 1"), {"h": bytes(32)})
    edited = verify_log(key())
    assert edited.problems == ["entry 7: stored tree node (2, 1) does not match"] and edited.first_bad_entry == 7
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_node WHERE level = 1 AND idx = 1"))
    missing = verify_log(key())
    assert missing.problems[0] == "entry 3: stored tree node (1, 1) is missing" and missing.first_bad_entry == 3


def test_reordered_entries_are_caught_by_the_scan_in_sequence_order(app):
    record_events(6)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET seq = seq + 100 WHERE seq IN (2, 3)"))
        s.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 102"))
        s.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 103"))
    result = verify_log(key())
    assert not result.ok and result.first_bad_entry == 2


def test_an_emptied_log_is_shorter_than_one_verified_entry(app):
    record_events(1)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event"))
    result = verify_since(key(), 1, bytes(32))
    assert result.problems == ["the log ends at 0, but 1 entries were verified before"]


def test_a_mismatched_first_anchor_blames_where_the_check_started(app):
    record_events(6)
    audit_tree_heads.sign_tree_head()
    disable_triggers()
    rewrite_entry(2)
    result = verify_log(key())
    assert not result.ok and result.first_bad_entry == 0


def test_an_incremental_check_proves_heads_of_an_empty_log_and_of_one_entry_below_its_start(app):
    """A head of size 0 is checked against the empty root (no consistency proof starts from an
    empty tree), and one of size 1 is proven like any other below the start."""
    sign_head(0, merkle.EMPTY_ROOT)
    record_events(1)
    sign_head(1, audit_tree_heads.root_at(1))
    record_events(6)
    first = verified()
    record_events(3)
    result = verify_since(key(), first.tree_size, first.root)
    assert result.ok, result.problems
    assert result.anchors_checked >= 3


def test_a_deleted_head_row_counts_as_a_log_of_no_entries(app):
    """audit_head gone (a database administrator's delete): an empty log still verifies, a log
    with entries ends past what the (missing) head says."""
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_head"))
    empty = verify_log(key())
    assert empty.ok and empty.tree_size == 0 and empty.appendable, empty.problems


# --- the organisation DPOs' index beside the log ----------------------------------------------

LACKS = "the index of whose DPO sees each entry lacks the actor's organisation of {} entries: it was changed"
STRAY = "the index of whose DPO sees each entry has {} rows naming no entry of the log: it was changed"


@pytest.fixture
def staff_acts(app):
    """Six entries by a school's member of staff about a child the force also holds (so each entry
    has two index rows, the school's and the force's), between entries with no actor; the
    school's row of the third removed by a database administrator."""
    school, force = make_org(OrgKind.school), make_org(OrgKind.police)
    child = make_child()
    involve(child, force)
    user, _ = make_user(school, Role.dsl)
    record_events(2)
    for i in range(6):
        with db.unit_of_work():
            audit.record("read", actor=user, object_type="child", object_id=i, child_id=child.id)
    record_events(2)
    seqs = list(db.session().scalars(select(AuditEvent.seq).where(AuditEvent.actor_org_id == school.id)
                                     .order_by(AuditEvent.seq)))
    ids = dict(db.session().execute(select(AuditEvent.seq, AuditEvent.id).where(AuditEvent.seq.in_(seqs))).all())
    size = verified().tree_size
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event_organisation WHERE organisation_id = :o AND event_id = :e"),
                  {"o": school.id, "e": ids[seqs[2]]})
    return {"seqs": seqs, "ids": ids, "size": size, "school": school.id}


def _index_check(start: int, tree_size: int) -> list[str]:
    result = Verification(kind="full" if start == 0 else "incremental", start=start, tree_size=tree_size)
    _check_organisation_index(result)
    return result.problems


def test_an_actors_index_row_removed_is_found_by_every_check_that_covers_its_entry(staff_acts):
    seqs, size = staff_acts["seqs"], staff_acts["size"]
    assert _index_check(0, size) == [LACKS.format(1)]
    assert verify_log(key()).problems == [LACKS.format(1)]
    assert _index_check(seqs[2], size) == [LACKS.format(1)]  # an incremental check from that very entry
    assert _index_check(seqs[3], size) == []  # one from after it does not look back
    # A check up to that entry (not including it) finds nothing lacking, but the rows of the entries
    # beyond its end name no entry it covers.
    beyond = db.session().scalar(select(func.count()).select_from(AuditEventOrganisation).join(
        AuditEvent, AuditEvent.id == AuditEventOrganisation.event_id).where(AuditEvent.seq >= seqs[2]))
    assert _index_check(0, seqs[2]) == [STRAY.format(beyond)]
    assert _index_check(0, seqs[2] + 1) == [LACKS.format(1), STRAY.format(beyond - 1)]


def test_a_row_naming_no_entry_or_a_waiting_one_is_found_by_a_full_check_only(staff_acts):
    with db.unit_of_work():
        audit.record("read", object_type="child", object_id=99)  # waiting: not sequenced yet
    waiting = db.session().scalar(select(func.max(AuditEvent.id)))
    with db.unit_of_work() as s:
        for event_id in (waiting, 999999):
            s.execute(text("INSERT INTO audit_event_organisation (organisation_id, event_id) VALUES (:o, :e)"),
                      {"o": staff_acts["school"], "e": event_id})
    size = staff_acts["size"]
    assert _index_check(0, size) == [LACKS.format(1), STRAY.format(2)]
    assert _index_check(staff_acts["seqs"][2], size) == [LACKS.format(1)]
    assert _index_check(1, size) == [LACKS.format(1)]


def test_a_head_read_lower_after_the_scan_than_before_is_named_by_its_later_reading(app):
    """The head moved backwards during the check (rewound by hand): a log that ends where the first
    reading said is still past the second, and the problem names the second."""
    rewound = Verification(tree_size=10)
    assert not _check_counter(rewound, 10, 8)
    assert rewound.problems == ["the log ends at 10, the head says 8"] and rewound.first_bad_entry == 8


def test_the_listing_index_check_compares_only_the_entries_its_scan_covered(app):
    """Listings sequenced after a check's end (the integrator runs while a check does) are not the
    check's: their index rows are left out of the comparison, the last covered entry's included."""
    for i in range(4):
        with db.unit_of_work():
            audit.record("read", object_type="child-list", children=[100 + i, 200 + i])
    audit_integrator.integrate_all()
    end = db.session().scalar(select(func.max(AuditEvent.seq))) - 1  # the last listing is beyond the check
    pairs = db.session().execute(select(AuditEventChild.event_id, AuditEventChild.child_id).join(
        AuditEvent, AuditEvent.id == AuditEventChild.event_id).where(AuditEvent.seq < end)).all()
    scan = SimpleNamespace(listing_digest=sum(_pair_digest(e, c) for e, c in pairs) % 2**64,
                           listing_pairs=len(pairs))
    result = Verification(tree_size=end)
    _check_listing_index(result, scan)
    assert result.ok, result.problems
    short = Verification(tree_size=end)
    _check_listing_index(short, SimpleNamespace(listing_digest=scan.listing_digest, listing_pairs=len(pairs) - 2))
    assert short.problems == [f"the index of children shown by listings holds {len(pairs)} entries where the log's "
                              f"leaves name {len(pairs) - 2}: it was changed"]


def test_bad_tree_heads_are_named_from_the_smallest_tree_up(app):
    """Heads are read in the order of the trees they sign (not the order they were stored), so the
    problems read from the oldest part of the log up."""
    record_events(8)
    root = bytes(32)  # the signatures fail first: the roots are not what is compared here
    larger = sign_head(8, root, valid=False)
    smaller = sign_head(4, root, valid=False)  # stored after the larger one
    problems = [p for p in verify_log(key()).problems if "signature is not valid" in p]
    assert problems == [f"tree head {smaller.id} (size 4): the signature is not valid",
                        f"tree head {larger.id} (size 8): the signature is not valid"]


def test_a_signed_head_at_an_incremental_checks_start_is_compared_with_the_root_verified_there(app):
    """A head signed for exactly the size the last check verified, but with another root (a forged
    head, or a log rewritten under it): the incremental check names that head as inconsistent with
    the log, blaming from where it started."""
    record_events(5)
    first = verified()
    forged = sign_head(first.tree_size, bytes(32))
    record_events(3)
    result = verify_since(key(), first.tree_size, first.root)
    assert result.problems == [f"the log is not consistent with tree head {forged.id} (size {first.tree_size}): it "
                               "no longer produces its root, so entries before it were changed or removed"]
    assert result.first_bad_entry == first.tree_size


def test_two_roots_verified_at_one_size_are_each_an_anchor(app):
    """A second "verified" root at a size already verified, written in by a database administrator:
    it is an anchor of its own, and the log does not produce it."""
    record_events(5)
    first = verified()
    disable_triggers()
    with db.unit_of_work() as s:
        forged = AuditVerification(kind="full", status="done", ok=True, tree_size=first.tree_size,
                                   root_hash=bytes(32), finished_at=datetime.now(UTC))
        s.add(forged)
    problems = verify_log(key()).problems
    assert [p for p in problems if f"check {forged.id}" in p] == [
        f"the log is not consistent with the root verified by check {forged.id} (size {first.tree_size}): it no "
        "longer produces its root, so entries before it were changed or removed"]
