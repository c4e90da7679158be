"""An organisation DPO's scope is indexed when the integrator sequences an event (issue 22): the
DPO of a school, an authority, a police force or a health trust sees their own staff's acts and
the events about the children their organisation held when the events happened, read here from
the search pages themselves; the index is written in the sequencing transaction, and `audit
verify` catches it changed."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text, update

from hub import db
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit.verification import verify_log
from hub.dpo import exports as dpo_exports
from hub.dpo import search as dpo_search
from hub.models.audit import AuditEvent, AuditEventOrganisation, AuditHead
from hub.models.people import Enrolment
from hub.models.roles import OrgKind, Role
from hub.permissions import audit_event_scope
from tests.factories import enrol, involve, make_child, make_org, make_user, sign_in
from tests.support.audit_log import disable_triggers

#: Who each organisation's DPO sees among the labelled events of `moved` (their own searches and
#: sign-ins, by their organisation's users, are in scope too and checked apart).
EXPECTED = {
    # The child was on school A's roll for e1 to e3 and on school B's for e4 to e6.
    "school_a": {"e1", "e2", "e3", "staff_school_a"},
    "school_b": {"e4", "e5", "e6", "staff_school_b"},
    # The authority is responsible and the force holds a record throughout.
    "la": {"e1", "e2", "e3", "e4", "e5", "e6", "staff_la"},
    "police": {"e1", "e2", "e3", "e4", "e5", "e6", "staff_police"},
    # The health trust's involvement began with the move.
    "health": {"e4", "e5", "e6", "staff_health"},
}


@pytest.fixture
def moved(app):
    """A child who moved from school A to school B, held by the authority and the force all along
    and by the health trust from the move; events about them before and after, and each
    organisation's staff reading a child nobody holds."""
    host = make_org(OrgKind.mace_host)
    orgs = {"school_a": make_org(OrgKind.school), "school_b": make_org(OrgKind.school),
            "la": make_org(OrgKind.childrens_social_care), "police": make_org(OrgKind.police),
            "health": make_org(OrgKind.health)}
    staff_roles = {"school_a": Role.dsl, "school_b": Role.dsl, "la": Role.social_worker,
                   "police": Role.police_officer, "health": Role.health_practitioner}
    staff = {key: make_user(org, staff_roles[key])[0] for key, org in orgs.items()}
    dpos = {key: make_user(org, Role.dpo) for key, org in orgs.items()}
    child = make_child("Moving", "Pupil", responsible_authority_id=orgs["la"].id)
    nobodys = make_child("Held", "Nowhere")
    enrol(child, orgs["school_a"])
    involve(child, orgs["police"])
    labels: dict[str, int] = {}

    def record(label: str, actor, **fields) -> None:
        with db.unit_of_work():
            audit.record("read", actor=actor, **fields)
        labels[label] = db.session().scalar(select(func.max(AuditEvent.id)))

    record("e1", staff["police"], object_type="child", child_id=child.id)
    record("e2", staff["la"], object_type="child", child_id=child.id)
    record("e3", staff["police"], object_type="child-list", children=[nobodys.id, child.id])
    audit_integrator.integrate_all()
    with db.unit_of_work() as s:  # the move
        s.execute(update(Enrolment).where(Enrolment.child_id == child.id).values(end_date=date.today()))
    enrol(child, orgs["school_b"], start=date.today())
    involve(child, orgs["health"])
    record("e4", staff["police"], object_type="child", child_id=child.id)
    record("e5", staff["school_b"], object_type="child", child_id=child.id)
    record("e6", staff["la"], object_type="child-list", children=[child.id])
    for key, user in staff.items():
        record(f"staff_{key}", user, object_type="child", child_id=nobodys.id)
    audit_integrator.integrate_all()
    seqs = dict(db.session().execute(select(AuditEvent.id, AuditEvent.seq)
                                     .where(AuditEvent.id.in_(labels.values()))).all())
    return {"host": host, "orgs": orgs, "staff": staff, "dpos": dpos, "child": child,
            "seq": {label: seqs[event_id] for label, event_id in labels.items()}}


def _shown(client, url: str = "/audit") -> list[str]:
    """The first cell of every row of every page (the sequence number, or "waiting"), following the
    "Older events" links to the end."""
    cells: list[str] = []
    while url:
        html = client.get(url).get_data(as_text=True)
        table = html.split('data-testid="audit-events"', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r'<tr class="govuk-table__row">\s*<td class="govuk-table__cell">(.*?)</td>', table, re.S)
        cells += [c for c in rows if "No events match" not in c]
        older = re.search(r'href="(/audit[^"]*before=\d+[^"]*)"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    return cells


def _signed_in(app, pair):
    client = app.test_client()
    sign_in(client, *pair)
    return client


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_kind_of_organisations_dpo_sees_its_staffs_acts_and_the_children_it_held_then(app, moved, who):
    client = _signed_in(app, moved["dpos"][who])
    cells = _shown(client)
    shown = {int(c) for c in cells if c.isdigit()}
    labelled = {label for label, seq in moved["seq"].items() if seq in shown}
    assert labelled == EXPECTED[who]
    # Everything else on the pages is their own organisation's (their sign-in, their searches) or
    # about the child (the record's creation, with no actor).
    org = moved["orgs"][who].id
    others = db.session().execute(select(AuditEvent.actor_org_id, AuditEvent.child_id).where(
        AuditEvent.seq.in_(shown - set(moved["seq"].values())))).all()
    assert all(actor_org == org or child == moved["child"].id for actor_org, child in others)
    assert len([c for c in cells if c.isdigit()]) == len(shown)  # no event shown twice


def test_the_hub_dpo_sees_every_event_and_the_pages_follow_the_log(app, moved):
    client = _signed_in(app, moved["dpos"]["la"])  # a hub DPO is of the host organisation
    hub = _signed_in(app, make_user(moved["host"], Role.dpo))
    shown = {int(c) for c in _shown(hub) if c.isdigit()}
    assert set(moved["seq"].values()) <= shown
    assert client.get("/audit").status_code == 200


def test_who_has_seen_a_child_shows_an_old_school_only_its_time(app, moved):
    child = moved["child"].id
    old = {int(c) for c in _shown(_signed_in(app, moved["dpos"]["school_a"]), f"/audit/children/{child}")
           if c.isdigit()}
    new = {int(c) for c in _shown(_signed_in(app, moved["dpos"]["school_b"]), f"/audit/children/{child}")
           if c.isdigit()}
    seq = moved["seq"]
    assert {seq["e1"], seq["e2"], seq["e3"]} <= old and not {seq["e4"], seq["e5"], seq["e6"]} & old
    assert {seq["e4"], seq["e5"], seq["e6"]} <= new and not {seq["e1"], seq["e2"], seq["e3"]} & new


@pytest.mark.parametrize("role,org", [(Role.dsl, "school_a"), (Role.social_worker, "la"),
                                      (Role.police_officer, "police"), (Role.hub_admin, "host")])
def test_a_practitioner_or_the_admin_sees_no_event(app, moved, role, org):
    organisation = moved["host"] if org == "host" else moved["orgs"][org]
    client = _signed_in(app, make_user(organisation, role))
    for url in ("/audit", f"/audit/children/{moved['child'].id}"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 403
        assert 'data-testid="audit-events"' not in body and "Moving Pupil" not in body


def test_an_entry_waiting_to_be_sequenced_shows_by_the_same_rule_then_once_when_sequenced(app, moved):
    school_b = moved["dpos"]["school_b"][0]
    with db.unit_of_work():
        audit.record("update", actor=moved["staff"]["police"], object_type="child", child_id=moved["child"].id)
    waiting = db.session().scalar(select(func.max(AuditEvent.id)))
    assert db.session().get(AuditEvent, waiting).seq is None
    assert waiting in [e.id for e in dpo_search.search(school_b, dpo_search.EventFilter()).events]
    page = dpo_search.search(moved["dpos"]["school_a"][0], dpo_search.EventFilter())
    assert waiting not in [e.id for e in page.events]
    audit_integrator.integrate_all()
    ids = [e.id for e in dpo_search.search(school_b, dpo_search.EventFilter()).events]
    assert ids.count(waiting) == 1 and ids == sorted(ids, reverse=True)


def test_the_index_is_written_in_the_sequencing_transaction(app, moved, monkeypatch):
    orgs = {key: org.id for key, org in moved["orgs"].items()}
    with db.unit_of_work():
        audit.record("read", actor=moved["staff"]["police"], object_type="child", child_id=moved["child"].id)
    size = db.session().scalar(select(AuditHead.tree_size))
    rows = db.session().scalar(select(func.count()).select_from(AuditEventOrganisation))

    def failing(connection, events):
        raise RuntimeError("the index could not be written")

    monkeypatch.setattr(audit_integrator, "_event_scope_rule", [failing])
    with pytest.raises(RuntimeError):
        audit_integrator.integrate()
    db.session.remove()
    # Nothing of the transaction stayed: the entry is still waiting, unnumbered and not indexed.
    assert db.session().scalar(select(AuditHead.tree_size)) == size
    waiting = db.session().scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)))
    assert waiting is not None
    assert db.session().scalar(select(func.count()).select_from(AuditEventOrganisation)) == rows
    monkeypatch.undo()
    assert audit_integrator.integrate() == 1
    # Numbered and indexed together: the force (the actor's, and holding the child), the
    # authority, school B and the health trust (holding the child now); not school A.
    assert set(db.session().scalars(select(AuditEventOrganisation.organisation_id).where(
        AuditEventOrganisation.event_id == waiting))) == {orgs[k] for k in ("police", "la", "school_b", "health")}


def test_verify_catches_an_actors_row_removed_or_a_row_naming_no_entry(app, moved):
    key = audit_keys.signing_key().public_key()
    assert verify_log(key).ok
    e1 = db.session().scalar(select(AuditEvent).where(AuditEvent.seq == moved["seq"]["e1"]))
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event_organisation WHERE organisation_id = :o AND event_id = :e"),
                  {"o": e1.actor_org_id, "e": e1.id})
    assert verify_log(key).problems == ["the index of whose DPO sees each entry lacks the actor's organisation of 1 "
                                        "entries: it was changed"]
    with db.unit_of_work() as s:
        s.execute(text("INSERT INTO audit_event_organisation (organisation_id, event_id) VALUES (:o, :e)"),
                  {"o": e1.actor_org_id, "e": e1.id})
        s.execute(text("INSERT INTO audit_event_organisation (organisation_id, event_id) VALUES (:o, 999999)"),
                  {"o": e1.actor_org_id})
    assert verify_log(key).problems == ["the index of whose DPO sees each entry has 1 rows naming no entry of the "
                                        "log: it was changed"]


def test_the_index_is_append_only(app, moved):
    with pytest.raises(Exception, match="append-only"), db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event_organisation"))


def _exported(dpo_user) -> set[int]:
    """The sequence numbers in the DPO's spreadsheet export (the export's scope is one condition on
    the log, not the pages' two walks: sequenced entries by the index, waiting ones by the rule)."""
    sheet = load_workbook(io.BytesIO(dpo_exports.export_xlsx(dpo_user, dpo_search.EventFilter())),
                          read_only=True).active
    return {row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] is not None}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_dpos_export_holds_the_same_events_as_their_pages(app, moved, who):
    exported = _exported(moved["dpos"][who][0])
    labelled = {label for label, seq in moved["seq"].items() if seq in exported}
    # School B holds the child now: the events from before the move stay school A's alone, though
    # "a child the organisation holds" would name them today.
    assert labelled == EXPECTED[who]


def test_an_entry_waiting_to_be_sequenced_is_exported_by_the_rule_applied_now(app, moved):
    with db.unit_of_work():
        audit.record("update", actor=moved["staff"]["police"], object_type="child", child_id=moved["child"].id)
    waiting = db.session().scalar(select(func.max(AuditEvent.id)))
    with db.unit_of_work():  # a listing that showed the child, by a user of none of the schools
        audit.record("read", actor=moved["staff"]["la"], object_type="child-list", children=[moved["child"].id])
    listing = db.session().scalar(select(func.max(AuditEvent.id)))

    def in_scope(who: str) -> tuple[set[int], set[str]]:
        scope = audit_event_scope(moved["dpos"][who][0])
        events = db.session().execute(select(AuditEvent.id, AuditEvent.seq).where(scope.clause())).all()
        return {e.id for e in events}, {k for k, seq in moved["seq"].items() if seq in {e.seq for e in events}}

    ids, labelled = in_scope("school_b")
    assert {waiting, listing} <= ids and labelled == EXPECTED["school_b"]
    ids, labelled = in_scope("school_a")
    assert not {waiting, listing} & ids and labelled == EXPECTED["school_a"]
