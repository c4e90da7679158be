"""Erasure requests (UK GDPR Art 17): a DPO records a request about a child, every agency holding
records about the child sees what it holds and decides for its own (erase, or the exception that
keeps them), the receiving DPO produces the reply, and the subject access pack says what was
destroyed, when and under which rule. Nothing personal reaches the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.db import utcnow
from hub.erasure import service as erasure
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.erasure import ErasureRequest, Outcome, RequestStatus
from hub.models.people import Child
from hub.models.retention import HoldKind, RecordClass, RetentionRecord, RetentionStatus
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.retention import destruction
from hub.retention import service as retention
from hub.retention.rules import london_day
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from hub.subject_access import service as subject_access
from tests.factories import csrf_token, involve, make_child, make_episode, make_org, make_user, sign_in

REQUESTER = "Marked-requester-Philippa"
ASKED = "Marked-request-erase-everything-Quentin"
REASON = "Marked-reason-Rosalind"


@dataclass
class World:
    la: Organisation
    other_la: Organisation
    force: Organisation
    school: Organisation
    child: Child
    worker: User
    officer: User
    la_dpo: tuple[User, str]
    force_dpo: tuple[User, str]
    other_dpo: tuple[User, str]
    shares: list[ShareRecord]
    episode_id: int


def _share(sender: User, manager: User, child_id: int, recipient: Organisation) -> ShareRecord:
    return sharing.create_share(sender, sharing.ShareDraft(
        child_id=child_id, category=Category.other, summary="Summary-Marked-Tobias", content="c", purpose="p",
        recipient_org_ids=[recipient.id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="r", authorised_by_user_id=manager.id,
        family_told=False, family_not_told_reason="risk"))


@pytest.fixture
def world(app) -> World:
    la, other_la = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    force, school = make_org(OrgKind.police), make_org(OrgKind.school)
    child = make_child(given="Wilhelmina", family="Oddbody", dob=date(2010, 5, 17), responsible_authority_id=la.id)
    involve(child, force)
    (worker, _), (manager, _) = make_user(la, Role.social_worker), make_user(la, Role.social_worker)
    officer, _ = make_user(force, Role.police_officer)
    shares = [_share(worker, manager, child.id, school) for _ in range(2)]
    episode = make_episode(officer, child, police_reference="ER/1")
    return World(la, other_la, force, school, child, worker, officer, make_user(la, Role.dpo),
                 make_user(force, Role.dpo), make_user(other_la, Role.dpo), shares, episode.id)


def _today() -> date:
    return london_day(utcnow())


def _request(world: World) -> ErasureRequest:
    return erasure.record_request(world.la_dpo[0], erasure.RequestDetails(
        world.child.id, date.today() - timedelta(days=2), REQUESTER, ASKED), _today())


def _holdings(user: User, request_id: int) -> dict[tuple[int, RecordClass], erasure.Holding]:
    return {(h.organisation_id, h.record_class): h for h in erasure.request_page(user, request_id).holdings}


def test_each_agency_sees_what_it_and_the_others_hold_and_decides_for_its_own_only(world):
    request = _request(world)
    seen = _holdings(world.la_dpo[0], request.id)
    assert {key: h.remaining for key, h in seen.items()} == {
        (world.la.id, RecordClass.social_care_record): 2, (world.force.id, RecordClass.police_record): 1}
    assert seen[(world.force.id, RecordClass.police_record)].suggested is Outcome.keep_law_enforcement
    assert seen[(world.la.id, RecordClass.social_care_record)].suggested is Outcome.keep_legal_obligation
    assert [h.mine for h in seen.values()] == [True, False]
    # The force's DPO sees it (the force holds a record about the child) and decides its own.
    assert _holdings(world.force_dpo[0], request.id)[(world.force.id, RecordClass.police_record)].mine
    with pytest.raises(NotFound):  # a class the force does not hold: not its decision
        erasure.decide(world.force_dpo[0], request.id, RecordClass.social_care_record, Outcome.erase, REASON)
    db.session().rollback()
    erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.keep_law_enforcement, REASON)
    with pytest.raises(Invalid, match="already decided"):
        erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.erase, REASON)
    assert db.session().get(RetentionRecord, _retention_id(RecordClass.police_record, world.episode_id)).status \
        == RetentionStatus.scheduled


def _retention_id(record_class: RecordClass, record_id: int) -> int:
    return db.session().scalar(select(RetentionRecord.id).where(RetentionRecord.record_class == record_class,
                                                                RetentionRecord.record_id == record_id))


def test_erasing_approves_destruction_at_once_and_the_pack_says_what_when_and_under_which_rule(world):
    request = _request(world)
    erasure.decide(world.la_dpo[0], request.id, RecordClass.social_care_record, Outcome.erase, REASON)
    rows = db.session().scalars(select(RetentionRecord).where(
        RetentionRecord.record_class == RecordClass.social_care_record)).all()
    rule = f"erasure: UK GDPR Art 17(1), request {request.id}"
    assert {(r.status, r.rule) for r in rows} == {(RetentionStatus.approved, rule)}  # not due, approved anyway
    certificates = destruction.destroy_approved()
    assert [(c.record_class, c.count, c.rule) for c in certificates] == [(RecordClass.social_care_record, 2, rule)]
    db.session.remove()
    assert all(db.session().get(ShareRecord, s.id) is None for s in world.shares)
    pack = subject_access.pack(db.session().get(User, world.la_dpo[0].id), world.child.id)
    destroyed = next(s for s in pack.sections if s.title == subject_access.DESTROYED_TITLE)
    assert [r.values[0] for r in destroyed.rows] == ["Children's social care record (child not looked after)"] * 2
    assert all(r.values[4] == rule and r.values[3] for r in destroyed.rows)  # when, and the rule
    # The force's DPO's pack lists only the force's destroyed records: none.
    force_pack = subject_access.pack(db.session().get(User, world.force_dpo[0].id), world.child.id)
    assert next(s for s in force_pack.sections if s.title == subject_access.DESTROYED_TITLE).rows == []
    # The request page counts what was erased under it.
    dpo = db.session().get(User, world.la_dpo[0].id)
    seen = _holdings(dpo, request.id)[(world.la.id, RecordClass.social_care_record)]
    assert (seen.remaining, seen.erased, seen.decision.outcome) == (0, 2, Outcome.erase)


def test_an_agency_that_erased_all_it_held_still_sees_its_decision(world):
    request = _request(world)
    erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.erase, REASON)
    destruction.destroy_approved()
    db.session.remove()
    force_dpo = db.session().get(User, world.force_dpo[0].id)
    seen = _holdings(force_dpo, request.id)[(world.force.id, RecordClass.police_record)]
    assert (seen.remaining, seen.erased, seen.decision.outcome) == (0, 1, Outcome.erase)
    with pytest.raises(NotFound):  # an agency that neither holds nor decided sees nothing
        erasure.request_page(db.session().get(User, world.other_dpo[0].id), request.id)


def test_records_erased_under_an_earlier_request_are_not_listed_under_a_later_one(world):
    first = _request(world)
    erasure.decide(world.la_dpo[0], first.id, RecordClass.social_care_record, Outcome.erase, REASON)
    destruction.destroy_approved()
    db.session.remove()
    later = erasure.record_request(db.session().get(User, world.force_dpo[0].id), erasure.RequestDetails(
        world.child.id, date.today() - timedelta(days=1), REQUESTER, ASKED), _today())
    seen = _holdings(db.session().get(User, world.force_dpo[0].id), later.id)
    assert {key: (h.remaining, h.erased) for key, h in seen.items()} == {
        (world.force.id, RecordClass.police_record): (1, 0)}  # nothing left of the authority's to decide on


def test_a_held_class_cannot_be_erased_but_can_be_kept_for_the_claim(world):
    request = _request(world)
    retention.set_hold(world.la_dpo[0], retention.HoldDetails(HoldKind.litigation, "A claim", child_id=world.child.id))
    assert _holdings(world.la_dpo[0], request.id)[(world.la.id, RecordClass.social_care_record)].held == 2
    with pytest.raises(Invalid, match="legal hold"):
        erasure.decide(world.la_dpo[0], request.id, RecordClass.social_care_record, Outcome.erase, REASON)
    db.session().rollback()
    assert {r.status for r in db.session().scalars(select(RetentionRecord).where(
        RetentionRecord.record_class == RecordClass.social_care_record))} == {RetentionStatus.scheduled}
    erasure.decide(world.la_dpo[0], request.id, RecordClass.social_care_record, Outcome.keep_legal_claims, REASON)


def test_the_reply_waits_for_every_agency_and_is_the_receiving_dpos_alone(world):
    request = _request(world)
    erasure.decide(world.la_dpo[0], request.id, RecordClass.social_care_record, Outcome.keep_legal_obligation,
                   REASON)
    with pytest.raises(Invalid, match="1 agency decision is still"):
        erasure.reply(world.la_dpo[0], request.id)
    erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.keep_law_enforcement, REASON)
    with pytest.raises(NotFound):  # the force decided, but did not receive the request
        erasure.reply(world.force_dpo[0], request.id)
    db.session().rollback()
    reply = erasure.reply(world.la_dpo[0], request.id)
    assert reply.view.complete and reply.view.child.id == world.child.id
    erasure.answer(world.la_dpo[0], request.id)
    assert db.session().get(ErasureRequest, request.id).status == RequestStatus.answered
    with pytest.raises(Invalid):
        erasure.answer(world.la_dpo[0], request.id)


def test_a_decision_needs_an_outcome_and_a_reason_and_none_is_taken_once_the_request_is_answered(world):
    request = _request(world)
    dpo = world.la_dpo[0]
    refusals = [(None, REASON, "Choose whether to erase the records or which exception keeps them"),
                (Outcome.erase, "   ", "Say why the records are erased"),
                (Outcome.keep_legal_obligation, "",
                 "Say why (the duty, the claim or the law the records are kept under)"),
                (Outcome.erase, "x" * (erasure.REASON_MAX + 1), f"Keep this to {erasure.REASON_MAX} characters")]
    for outcome, reason, said in refusals:
        with pytest.raises(Invalid) as refused:
            erasure.decide(dpo, request.id, RecordClass.social_care_record, outcome, reason)
        assert refused.value.errors == {"outcome" if outcome is None else "reason": said}
        db.session().rollback()
    assert _holdings(dpo, request.id)[(world.la.id, RecordClass.social_care_record)].decision is None
    assert not db.session().scalars(select(AuditEvent).where(
        AuditEvent.object_type == erasure.OBJECT_TYPE, AuditEvent.action == "update")).all()
    erasure.decide(dpo, request.id, RecordClass.social_care_record, Outcome.keep_legal_obligation, REASON)
    erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.keep_law_enforcement, REASON)
    erasure.answer(dpo, request.id)
    with pytest.raises(Invalid) as answered:  # answered: not even the force may change its mind now
        erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.erase, REASON)
    assert answered.value.errors == {"outcome": "This request has been answered"}
    db.session().rollback()
    assert db.session().get(RetentionRecord, _retention_id(RecordClass.police_record, world.episode_id)).status \
        == RetentionStatus.scheduled


def test_who_may_not_record_see_or_decide(world):
    practitioner = world.worker
    for user in (practitioner, make_user(make_org(OrgKind.mace_host), Role.hub_admin)[0]):
        with pytest.raises(NotFound):
            erasure.record_request(user, erasure.RequestDetails(world.child.id, date.today(), REQUESTER, ASKED),
                                   _today())
    # Another authority's DPO: not a child it holds, and no records of its own about the child.
    with pytest.raises(NotFound):
        erasure.record_request(world.other_dpo[0], erasure.RequestDetails(world.child.id, date.today(), REQUESTER,
                                                                          ASKED), _today())
    request = _request(world)
    for user in (world.other_dpo[0], practitioner):
        with pytest.raises(NotFound):
            erasure.request_page(user, request.id)
        with pytest.raises(NotFound):
            erasure.decide(user, request.id, RecordClass.social_care_record, Outcome.erase, REASON)
    with pytest.raises(NotFound):  # nor list the requests
        erasure.requests_for(practitioner)
    assert erasure.requests_for(world.other_dpo[0]) == []  # a DPO lists only what concerns their organisation
    refused = set(db.session().scalars(select(AuditEvent.actor_user_id).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == erasure.OBJECT_TYPE)))
    assert {world.other_dpo[0].id, practitioner.id} <= refused
    with pytest.raises(Invalid):  # received tomorrow
        erasure.record_request(world.la_dpo[0], erasure.RequestDetails(world.child.id, date.today() + timedelta(days=2),
                                                                       REQUESTER, ASKED), _today())


def test_nothing_personal_reaches_the_audit_log(world):
    request = _request(world)
    erasure.decide(world.la_dpo[0], request.id, RecordClass.social_care_record, Outcome.erase, REASON)
    erasure.decide(world.force_dpo[0], request.id, RecordClass.police_record, Outcome.keep_law_enforcement, REASON)
    erasure.request_page(world.la_dpo[0], request.id)
    erasure.reply(world.la_dpo[0], request.id)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == erasure.OBJECT_TYPE)).all()
    assert {e.action for e in events} >= {"create", "read", "update", "export"}
    assert all(e.child_id == world.child.id for e in events)
    decided = [json.loads(e.detail) for e in events if e.action == "update"]
    assert {d["decision"] for d in decided} == {"erase", "keep_law_enforcement"}
    everything = " ".join(f"{e.detail} {e.purpose} {e.legal_basis}" for e in db.session().scalars(select(AuditEvent)))
    for marked in (REQUESTER, ASKED, REASON, "Wilhelmina", "Oddbody", "2010-05-17"):
        assert marked not in everything


def test_the_pages_walk_a_request_from_record_to_reply(app, world):
    dpo, secret = world.la_dpo
    client = app.test_client()
    sign_in(client, dpo, secret)
    page = client.get("/erasure/new").get_data(as_text=True)
    received = date.today() - timedelta(days=1)
    response = client.post("/erasure/new", data={
        "csrf_token": csrf_token(page), "child_id": str(world.child.id), "requester": REQUESTER,
        "received_on": [str(received.day), str(received.month), str(received.year)],
        "request_text": ASKED})
    assert response.status_code == 302
    request_id = db.session().scalar(select(ErasureRequest.id))
    body = client.get(f"/erasure/{request_id}").get_data(as_text=True)
    assert "Oddbody" in body and f'data-holding="{world.la.id}-social_care_record"' in body
    assert "Produce the reply" not in body
    url = f"/erasure/{request_id}/decide/social_care_record"
    form = client.get(url).get_data(as_text=True)
    assert 'value="keep_legal_obligation" checked' in form
    client.post(url, data={"csrf_token": csrf_token(form), "outcome": "erase", "reason": REASON})
    assert client.get(f"/erasure/{request_id}/decide/police_record").status_code == 404  # the force's to decide
    force_client = app.test_client()
    sign_in(force_client, *world.force_dpo)
    form = force_client.get(f"/erasure/{request_id}/decide/police_record").get_data(as_text=True)
    force_client.post(f"/erasure/{request_id}/decide/police_record", data={
        "csrf_token": csrf_token(form), "outcome": "keep_law_enforcement", "reason": REASON})
    assert REQUESTER not in force_client.get(f"/erasure/{request_id}").get_data(as_text=True)
    assert force_client.get(f"/erasure/{request_id}/reply").status_code == 404
    reply = client.get(f"/erasure/{request_id}/reply").get_data(as_text=True)
    assert REQUESTER in reply and ASKED in reply and REASON in reply and "Art 17(3)(b)" in reply
    show = client.get(f"/erasure/{request_id}").get_data(as_text=True)
    client.post(f"/erasure/{request_id}/answer", data={"csrf_token": csrf_token(show)})
    assert db.session().get(ErasureRequest, request_id).status == RequestStatus.answered
    assert f'data-erasure-id="{request_id}"' in client.get("/erasure/").get_data(as_text=True)
    other = app.test_client()
    sign_in(other, *world.other_dpo)
    assert f'data-erasure-id="{request_id}"' not in other.get("/erasure/").get_data(as_text=True)
    outsider = app.test_client()
    practitioner, practitioner_secret = make_user(world.la, Role.social_worker)
    sign_in(outsider, practitioner, practitioner_secret)
    assert outsider.get("/erasure/").status_code == 403
