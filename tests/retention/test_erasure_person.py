"""Erasure requests about a MACE person of concern (an adult): the same flow as a child's. The DPO
of the group's host or of a member organisation records it; each agency sees what it holds about
the person by class and count and decides for its own (the group's host holds the group's
records); erasing the person's record destroys it, the group's links to them and the agenda items
about them through the one destroy step, which a legal hold blocks; the reply lists each decision;
nothing personal reaches the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.db import unit_of_work, utcnow
from hub.erasure import service as erasure
from hub.errors import Invalid, NotFound
from hub.mace.operations import intelligence
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.erasure import ErasureRequest, Outcome
from hub.models.mace import (
    ActionKind,
    DisruptionKind,
    LocationKind,
    MaceAction,
    MaceAgendaItem,
    MaceGroup,
    MaceIntelligenceSubject,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MacePerson,
    MemberRole,
    PersonKind,
)
from hub.models.retention import HoldKind, RecordClass, RetentionStatus
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.retention import destruction, scheduling
from hub.retention import service as retention
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import csrf_token, make_org, make_user, sign_in
from tests.support.retention import make_due, retention_of, today

REQUESTER = "Marked-requester-Ulrika"
ASKED = "Marked-request-erase-me-Valentin"
REASON = "Marked-reason-Wenceslas"
NAME = "Marked-person-Xenophon"
ALIAS = "Marked-alias-Yorick"


@dataclass
class World:
    host: Organisation
    force: Organisation
    group: MaceGroup
    person: MacePerson
    officer: User
    host_dpo: tuple[User, str]
    force_dpo: tuple[User, str]
    other_dpo: tuple[User, str]
    share: ShareRecord
    action: MaceAction
    item: MaceAgendaItem


@pytest.fixture
def world(app) -> World:
    host, force, other_host = make_org(OrgKind.mace_host), make_org(OrgKind.police), make_org(OrgKind.mace_host)
    (officer, _), (authoriser, _) = make_user(force, Role.police_officer), make_user(force, Role.police_officer)
    with unit_of_work() as s:
        group = MaceGroup(code="MACE-ER", name="Erasure MACE", host_organisation_id=host.id)
        other_group = MaceGroup(code="MACE-OT", name="Other MACE", host_organisation_id=other_host.id)
        s.add_all([group, other_group])
        s.flush()
        s.add_all([MaceMembership(group_id=group.id, organisation_id=force.id),
                   MaceMembership(group_id=group.id, organisation_id=host.id),
                   MaceMembership(group_id=other_group.id, organisation_id=other_host.id)])
        s.add(MaceMember(group_id=group.id, user_id=officer.id, organisation_id=force.id, role=MemberRole.chair,
                         start_date=date.today() - timedelta(days=30)))
        person = MacePerson(group_id=group.id, kind=PersonKind.person, name=NAME, aliases=ALIAS,
                            article_10="10+S1P10", justification="j", review_on=date.today() + timedelta(days=90),
                            created_by_user_id=officer.id)
        place = MaceLocation(group_id=group.id, name="Rec ground", kind=LocationKind.park,
                             created_by_user_id=officer.id)
        s.add_all([person, place])
        s.flush()
        s.add(MaceLink(group_id=group.id, person_id=person.id, location_id=place.id, source="patrol",
                       seen_on=date.today(), created_by_user_id=officer.id))
        meeting = MaceMeeting(group_id=group.id, scheduled_for=utcnow(), created_by_user_id=officer.id)
        s.add(meeting)
        s.flush()
        item = MaceAgendaItem(meeting_id=meeting.id, person_id=person.id, reason="added by the chair",
                              added_by_user_id=officer.id)
        action = MaceAction(group_id=group.id, meeting_id=meeting.id, kind=ActionKind.disruption, description="CAWN",
                            owner_organisation_id=force.id, due_on=date.today(), disruption_kind=DisruptionKind.cawn,
                            person_id=person.id, created_by_user_id=officer.id)
        s.add_all([item, action])
        s.flush()
        scheduling.schedule_agenda_items([item], group.id)
        scheduling.schedule_action(action)
    share = intelligence.share_intelligence(officer, group.id, sharing.ShareDraft(
        child_id=None, category=Category.police_intelligence, summary="s", content="c", purpose="p",
        recipient_org_ids=[], source_kind=SourceKind.organisation, source_description="Neighbourhood team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime, rationale="r",
        authorised_by_user_id=authoriser.id, source_evaluation="2", intelligence_assessment="B",
        handling_code="P", family_told=False, family_not_told_reason="risk"), intelligence.Subjects(
        person_ids=[person.id]))
    return World(host, force, group, person, officer, make_user(host, Role.dpo), make_user(force, Role.dpo),
                 make_user(other_host, Role.dpo), share, action, item)


def _request(world: World, by: User | None = None) -> ErasureRequest:
    return erasure.record_request(by or world.force_dpo[0], erasure.RequestDetails(
        None, date.today() - timedelta(days=1), REQUESTER, ASKED, person_id=world.person.id), today())


def _holdings(user: User, request_id: int) -> dict[tuple[int, RecordClass], erasure.Holding]:
    return {(h.organisation_id, h.record_class): h for h in erasure.request_page(user, request_id).holdings}


def _decide_all(world: World, request_id: int, outcome: Outcome = Outcome.erase) -> None:
    for record_class in (RecordClass.mace_person, RecordClass.mace_intelligence, RecordClass.mace_action):
        erasure.decide(world.host_dpo[0], request_id, record_class, outcome, REASON)


def test_a_member_agencys_dpo_records_it_and_the_host_decides_for_the_groups_records(world):
    request = _request(world)
    seen = _holdings(world.force_dpo[0], request.id)
    host = world.host.id
    # The person's record with the agenda item about them; the intelligence and the CAWN naming them.
    assert {key: h.remaining for key, h in seen.items()} == {
        (host, RecordClass.mace_person): 2, (host, RecordClass.mace_intelligence): 1,
        (host, RecordClass.mace_action): 1}
    assert seen[(host, RecordClass.mace_person)].suggested is Outcome.keep_legal_obligation  # Article 10, not Part 3
    assert seen[(host, RecordClass.mace_action)].suggested is Outcome.keep_legal_claims
    assert not any(h.mine for h in seen.values())
    assert erasure.request_page(world.force_dpo[0], request.id).links == 1
    with pytest.raises(NotFound):  # the force sits on the group, but the host holds the group's records
        erasure.decide(world.force_dpo[0], request.id, RecordClass.mace_person, Outcome.erase, REASON)
    db.session().rollback()
    assert all(h.mine for h in _holdings(world.host_dpo[0], request.id).values())
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_intelligence, Outcome.keep_legal_obligation,
                   REASON)
    # The host's DPO records one too.
    assert _request(world, world.host_dpo[0]).mace_group_id == world.group.id


def test_a_person_held_under_part_3_is_suggested_law_enforcement(world):
    with unit_of_work():
        db.session().get(MacePerson, world.person.id).part_3 = "S35-2"
    request = _request(world)
    assert _holdings(world.host_dpo[0], request.id)[(world.host.id, RecordClass.mace_person)].suggested \
        is Outcome.keep_law_enforcement


def test_erasing_destroys_the_person_and_what_hangs_only_on_them_through_the_one_destroy_step(world):
    request = _request(world)
    _decide_all(world, request.id)
    rule = erasure.erasure_rule(request.id)
    person_row = retention_of(RecordClass.mace_person, world.person.id)
    assert (person_row.status, person_row.rule, person_row.owning_org_id) == (RetentionStatus.approved, rule,
                                                                              world.host.id)
    certificates = destruction.destroy_approved()
    assert {(c.record_class, c.count) for c in certificates} == {
        (RecordClass.mace_agenda_item, 1), (RecordClass.mace_person, 1), (RecordClass.mace_intelligence, 1),
        (RecordClass.mace_action, 1)}
    db.session.remove()
    s = db.session()
    assert s.get(MacePerson, world.person.id) is None and s.get(ShareRecord, world.share.id) is None
    assert s.get(MaceAction, world.action.id) is None and s.get(MaceAgendaItem, world.item.id) is None
    for model in (MaceLink, MaceIntelligenceSubject):
        assert s.scalar(select(func.count()).select_from(model).where(model.person_id == world.person.id)) == 0
    seen = _holdings(s.get(User, world.force_dpo[0].id), request.id)
    assert {key[1]: (h.remaining, h.erased) for key, h in seen.items()} == {
        RecordClass.mace_person: (0, 2), RecordClass.mace_intelligence: (0, 1), RecordClass.mace_action: (0, 1)}


def test_a_hold_blocks_the_erasure_at_the_decision_and_at_the_destroy_step(world):
    request = _request(world)
    hold = retention.set_hold(world.host_dpo[0], retention.HoldDetails(HoldKind.inquiry, "An inquiry",
                                                                       record_class=RecordClass.mace_person))
    assert _holdings(world.host_dpo[0], request.id)[(world.host.id, RecordClass.mace_person)].held == 1
    with pytest.raises(Invalid, match="legal hold"):
        erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_person, Outcome.erase, REASON)
    db.session().rollback()
    retention.lift_hold(world.host_dpo[0], hold.id, "Inquiry closed")
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_person, Outcome.erase, REASON)
    # A hold placed after the approval still wins: the worker leaves the person's record alone.
    retention.set_hold(world.host_dpo[0], retention.HoldDetails(HoldKind.litigation, "A claim",
                                                                record_class=RecordClass.mace_person))
    destroyed = destruction.destroy_approved()
    assert RecordClass.mace_person not in {c.record_class for c in destroyed}
    db.session.remove()
    assert db.session().get(MacePerson, world.person.id) is not None
    assert retention_of(RecordClass.mace_person, world.person.id).status == RetentionStatus.approved


def test_refused_to_another_groups_dpo_and_to_anyone_not_a_dpo(world):
    for user in (world.other_dpo[0], world.officer):
        with pytest.raises(NotFound):
            _request(world, user)
        db.session().rollback()
    request = _request(world)
    for user in (world.other_dpo[0], world.officer):
        with pytest.raises(NotFound):
            erasure.request_page(user, request.id)
        with pytest.raises(NotFound):
            erasure.decide(user, request.id, RecordClass.mace_person, Outcome.erase, REASON)
        db.session().rollback()
        assert request.id not in {r.id for r in erasure.requests_for(world.other_dpo[0])}
    refused = set(db.session().scalars(select(AuditEvent.actor_user_id).where(AuditEvent.outcome == "refused")))
    assert {world.other_dpo[0].id, world.officer.id} <= refused
    with pytest.raises(Invalid):  # a child and a person at once
        erasure.record_request(world.force_dpo[0], erasure.RequestDetails(
            1, date.today(), REQUESTER, ASKED, person_id=world.person.id), today())


def test_the_reply_lists_each_decision_and_nothing_personal_reaches_the_audit_log(app, world):
    request = _request(world)
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_person, Outcome.erase, REASON)
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_intelligence, Outcome.keep_law_enforcement,
                   REASON)
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_action, Outcome.keep_legal_claims, REASON)
    destruction.destroy_approved()
    client = app.test_client()
    sign_in(client, *world.force_dpo)
    body = client.get(f"/erasure/{request.id}/reply").get_data(as_text=True)
    for record_class in ("mace_person", "mace_intelligence", "mace_action"):
        assert f'data-holding="{world.host.id}-{record_class}"' in body
    assert "Erase (UK GDPR Art 17(1))" in body and "Art 17(3)(e))" in body and "DPA 2018 Part 3" in body
    assert REQUESTER in body and REASON in body and NAME not in body
    show = client.get(f"/erasure/{request.id}").get_data(as_text=True)
    client.post(f"/erasure/{request.id}/answer", data={"csrf_token": csrf_token(show)})
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == erasure.OBJECT_TYPE)).all()
    assert {e.action for e in events} >= {"create", "read", "update", "export"}
    created = next(json.loads(e.detail) for e in events if e.action == "create")
    assert created["person"] == world.person.id
    everything = " ".join(f"{e.detail} {e.purpose} {e.legal_basis}" for e in db.session().scalars(select(AuditEvent)))
    for marked in (REQUESTER, ASKED, REASON, NAME, ALIAS):
        assert marked not in everything


def test_the_new_request_page_takes_a_person(app, world):
    client = app.test_client()
    sign_in(client, *world.host_dpo)
    page = client.get("/erasure/new").get_data(as_text=True)
    received = date.today() - timedelta(days=1)
    response = client.post("/erasure/new", data={
        "csrf_token": csrf_token(page), "person_id": str(world.person.id), "requester": REQUESTER,
        "received_on": [str(received.day), str(received.month), str(received.year)], "request_text": ASKED})
    assert response.status_code == 302
    request_id = db.session().scalar(select(ErasureRequest.id).where(ErasureRequest.person_id == world.person.id))
    body = client.get(f"/erasure/{request_id}").get_data(as_text=True)
    assert f"MACE person {world.person.id}" in body and NAME not in body
    assert f'data-holding="{world.host.id}-mace_person"' in body
    assert client.get(f"/erasure/{request_id}/decide/mace_person").status_code == 200


def test_a_hold_on_an_agenda_item_about_the_person_keeps_the_person_and_lets_the_rest_of_the_batch_go(world):
    """The hold on what the person's destruction would take with it (an agenda item about them) is
    placed after the erasure was approved: the person waits, approved, and every other approved
    record is destroyed as usual, with its certificate."""
    request = _request(world)
    erasure.decide(world.host_dpo[0], request.id, RecordClass.mace_person, Outcome.erase, REASON)
    retention.set_hold(world.host_dpo[0], retention.HoldDetails(HoldKind.litigation, "A claim",
                                                                record_class=RecordClass.mace_agenda_item))
    other = retention_of(RecordClass.mace_action, world.action.id)
    make_due(other)
    retention.approve_destruction(world.host_dpo[0], [other.id], today())
    destroyed = destruction.destroy_approved()
    assert {(c.record_class, c.count) for c in destroyed} == {(RecordClass.mace_action, 1)}
    db.session.remove()
    assert db.session().get(MacePerson, world.person.id) is not None
    assert db.session().get(MaceAgendaItem, world.item.id) is not None
    assert retention_of(RecordClass.mace_person, world.person.id).status == RetentionStatus.approved
    assert retention_of(RecordClass.mace_action, world.action.id).status == RetentionStatus.destroyed
