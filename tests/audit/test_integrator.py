"""The audit log sequenced off the request's critical path: a request writes its entry pending in
its own transaction; the integrator numbers committed entries with no gaps, however many run;
late entries raise the alarm; verification grows with what is new; a listing is one event that
"who has seen this child" finds for every child it shows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import Session

from hub import db
from hub.audit import integrator as audit_integrator
from hub.audit import merkle
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.context import Origin, set_origin
from hub.dpo import integrity as dpo_integrity
from hub.models.audit import AuditEvent, AuditEventChild, AuditHead, AuditVerification
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user, sign_in


def _events(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i % 3)


def _seqs() -> list[int]:
    return list(db.session().scalars(select(AuditEvent.seq).where(AuditEvent.seq.is_not(None))
                                     .order_by(AuditEvent.seq).execution_options(populate_existing=True)))


def _drop_triggers() -> None:
    """What an attacker with database access would do first."""
    with db.unit_of_work() as s:
        if s.get_bind().dialect.name == "postgresql":
            for table in ("audit_event", "audit_node", "audit_tree_head", "audit_event_child"):
                s.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            for name in ("audit_event_no_update", "audit_event_no_delete", "audit_node_no_update",
                         "audit_node_no_delete", "audit_event_child_no_delete"):
                s.execute(text(f"DROP TRIGGER {name}"))


def test_a_request_takes_no_lock_and_leaves_its_entry_pending_for_the_integrator(app):
    _events(3)
    assert audit_tree_heads.tree_size() == 0 and audit.pending().count == 3
    assert db.session().scalar(select(func.count()).where(AuditEvent.seq.is_(None))) == 3
    assert audit_integrator.integrate() == 3
    assert (audit_tree_heads.tree_size(), audit.pending().count, _seqs()) == (3, 0, [0, 1, 2])
    assert audit_integrator.integrate() == 0  # nothing twice


def test_an_entry_whose_change_rolled_back_is_never_integrated(app):
    school = make_org(OrgKind.school)
    audit_integrator.integrate_all()  # the set-up's own events
    size = audit_tree_heads.tree_size()
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        school.name = "Renamed and rolled back"
        audit.record("update", object_type="organisation", object_id=school.id)
        s.flush()
        raise RuntimeError("the change failed after its event was written")
    _events(1)
    assert audit_integrator.integrate_all() == 1
    leaves = db.session().scalars(select(AuditEvent.object_type).where(AuditEvent.seq >= size)).all()
    assert leaves == ["child"]


def test_an_integrated_entry_cannot_be_integrated_again_or_changed(app):
    _events(2)
    audit_integrator.integrate_all()
    for statement in ("UPDATE audit_event SET seq = 7 WHERE seq = 0",
                      "UPDATE audit_event SET leaf = leaf WHERE seq = 0",
                      "UPDATE audit_event SET action = 'x' WHERE seq IS NOT NULL"):
        with pytest.raises(Exception, match="append-only"), db.unit_of_work() as s:
            s.execute(text(statement))


def test_a_pending_entry_cannot_be_changed_on_its_way_into_the_log(app):
    _events(1)
    # Only seq, leaf and leaf hash may be set, and together.
    with pytest.raises(Exception, match="append-only"), db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET action = 'nothing' WHERE seq IS NULL"))
    with pytest.raises(Exception, match="append-only"), db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq IS NULL"))


def test_two_integrators_at_once_give_each_entry_one_number_with_no_gaps(app, database_url):
    """Writers and two integrators, each on its own connection, all at once (this replaces the
    concurrent-writers test of the old, in-request sequencing)."""
    writers, each = 4, 30
    errors: list[Exception] = []
    done = threading.Event()

    def own_session(engine):
        session = Session(engine)
        db.session.registry.set(session)
        return session

    def write(n: int) -> None:
        engine = create_engine(database_url, connect_args={"timeout": 30} if database_url.startswith("sqlite") else {})
        set_origin(Origin(request_id=f"writer-{n}", channel="test"))
        try:
            for i in range(each):
                session = own_session(engine)
                try:
                    with db.unit_of_work():
                        audit.record("read", object_type="test", object_id=f"{n}-{i}")
                finally:
                    session.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    def integrate(limit: int) -> None:
        engine = create_engine(database_url, connect_args={"timeout": 30} if database_url.startswith("sqlite") else {})
        try:
            while True:
                session = own_session(engine)
                try:
                    moved = audit_integrator.integrate(limit)
                finally:
                    session.close()
                if done.is_set() and not moved:
                    break
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    integrators = [threading.Thread(target=integrate, args=(limit,)) for limit in (7, 11)]
    for t in threads + integrators:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in integrators:
        t.join()
    assert not errors, errors
    db.session.remove()
    numbered = list(db.session().execute(select(AuditEvent.id, AuditEvent.seq).order_by(AuditEvent.seq)))
    assert [seq for _, seq in numbered] == list(range(writers * each))  # every entry, once, no gaps
    assert len({event_id for event_id, _ in numbered}) == writers * each
    assert db.session().scalar(select(AuditHead.tree_size)) == writers * each
    assert dpo_integrity.run_verification("full").ok


def test_an_entry_waiting_past_the_limit_is_an_alarm_on_the_panel_and_in_audit_verify(app, runner):
    _events(2)
    audit_integrator.integrate_all()
    with db.unit_of_work() as s:  # an entry committed a minute ago that no integrator has taken
        s.connection().execute(insert(AuditEvent.__table__), {
            "occurred_at": datetime.now(UTC) - timedelta(minutes=1), "outcome": "done", "action": "read"})
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="pending-alarm"' in page and "entries have been waiting more than 30 seconds" in page
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entries are waiting to be sequenced" in result.output and "integrator" in result.output
    # The check itself sequenced it, so the next check is clean and the alarm is gone.
    assert not audit.pending().late(audit.PENDING_ALARM)  # only the check's own event, just written
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert 'data-testid="pending-alarm"' not in client.get("/audit/integrity").get_data(as_text=True)


def test_a_fresh_entry_is_no_alarm(app):
    _events(1)
    assert not audit.pending().late(audit.PENDING_ALARM)
    assert dpo_integrity.run_verification("full").ok


def _verified(kind: str = "full"):
    result = dpo_integrity.run_verification(kind)
    assert result.ok, result.problems
    return result


def _rewrite_consistently(seq: int) -> None:
    """An attacker who edits an old entry and rebuilds every tree node above it, so the stored
    tree is self-consistent: only a root verified before can tell."""
    _drop_triggers()
    with db.unit_of_work() as s:
        leaf = s.scalar(select(AuditEvent.leaf).where(AuditEvent.seq == seq))
        forged = leaf.replace(b'"read"', b'"reac"')
        s.execute(text("UPDATE audit_event SET leaf = :l, leaf_hash = :h, action = 'reac' WHERE seq = :seq"),
                  {"l": forged, "h": merkle.leaf_hash(forged), "seq": seq})
        s.execute(text("DELETE FROM audit_node"))
        tree = merkle.CompactRange()
        for (h,) in s.execute(select(AuditEvent.leaf_hash).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)):
            for level, index, node in tree.append(h):
                s.execute(text("INSERT INTO audit_node (level, idx, hash) VALUES (:l, :i, :h)"),
                          {"l": level, "i": index, "h": node})


def test_incremental_verification_checks_only_the_new_entries_from_the_last_verified_root(app):
    _events(20)
    first = _verified()
    _events(9, start=20)
    second = _verified("incremental")
    assert second.kind == "incremental" and second.start == first.tree_size
    assert second.tree_size - second.start < second.tree_size  # it read only what was new
    row = db.session().scalars(select(AuditVerification).order_by(AuditVerification.id.desc())
                               .execution_options(populate_existing=True)).first()
    assert (row.kind, row.ok, row.root_hash) == ("incremental", True, second.root)


def test_incremental_verification_catches_an_edited_old_entry_through_the_consistency_proof(app):
    _events(20)
    _verified()
    _events(9, start=20)
    _rewrite_consistently(5)  # before the verified size
    result = dpo_integrity.run_verification("incremental")
    assert not result.ok
    assert "no longer produce the root verified before" in result.problems[0] or "consistency" in result.problems[0]


def test_incremental_verification_catches_an_edited_new_entry_through_its_leaf(app):
    _events(20)
    first = _verified()
    _events(9, start=20)
    audit_integrator.integrate_all()
    _drop_triggers()
    victim = first.tree_size + 4
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_event SET actor_user_id = 999 WHERE seq = :seq"), {"seq": victim})
    result = dpo_integrity.run_verification("incremental")
    assert not result.ok and result.first_bad_entry == victim


@pytest.fixture
def listing(app):
    school = make_org(OrgKind.school)
    dsl, secret = make_user(school, Role.dsl)
    children = [make_child("Listed", f"Pupil{i}") for i in range(3)]
    for child in children:
        enrol(child, school)
    return dsl, secret, children


def test_a_listing_is_one_event_that_who_has_seen_finds_for_every_child_it_shows(app, listing):
    dsl, secret, children = listing
    client = app.test_client()
    sign_in(client, dsl, secret)
    before = db.session().scalar(select(func.max(AuditEvent.id)))
    assert client.get("/children").status_code == 200
    reads = db.session().scalars(select(AuditEvent).where(AuditEvent.id > before, AuditEvent.action == "read",
                                                          AuditEvent.actor_user_id == dsl.id)).all()
    assert len(reads) == 1  # one event for the page, not one per row
    listed = set(db.session().scalars(select(AuditEventChild.child_id).where(AuditEventChild.event_id == reads[0].id)))
    assert listed == {c.id for c in children}
    hub_dpo, dpo_secret = make_user(make_org(OrgKind.mace_host), Role.dpo)
    dpo_client = app.test_client()
    sign_in(dpo_client, hub_dpo, dpo_secret)
    for child in children:  # "who has seen this child" finds the one listing event for each
        page = dpo_client.get(f"/audit/children/{child.id}").get_data(as_text=True)
        assert "child-list" in page and dsl.name in page
    assert _verified().ok


def test_a_row_removed_from_the_listing_index_is_caught_by_verification(app, listing):
    dsl, _, children = listing
    with db.unit_of_work():
        audit.record("read", actor=dsl, object_type="child-list", children=[c.id for c in children])
    assert _verified().ok
    _drop_triggers()
    with db.unit_of_work() as s:  # hide one sight of a child from "who has seen this child"
        s.execute(text("DELETE FROM audit_event_child WHERE child_id = :c"), {"c": children[1].id})
    result = dpo_integrity.run_verification("full")
    assert not result.ok and "index of children shown by listings" in " ".join(result.problems)


def test_a_page_that_names_its_children_in_its_detail_is_indexed_and_verifies(app):
    """MACE pages name the children they show in their detail: the index follows the detail."""
    with db.unit_of_work():
        audit.record("read", object_type="mace-outcomes", detail={"meeting": 1, "children": [7, 3, 7]})
    assert set(db.session().scalars(select(AuditEventChild.child_id))) == {3, 7}
    assert _verified().ok
