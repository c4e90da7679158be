"""Retention in the hub: review dates stored when records are written, the review queue of each
agency's DPO only, legal holds that stop every path to destruction, and the destruction
certificate, with nothing personal in the audit log."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from hub import db
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid, NotFound
from hub.mace.operations import intelligence, subjects
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.mace import MaceGroup, MaceIntelligenceSubject, MaceMember, MaceMembership, MemberRole
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import MessageStatus, OutboxMessage
from hub.models.people import Child
from hub.models.retention import HoldKind, RecordClass, RetentionRecord, RetentionSetting, RetentionStatus
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.notifications import outbox
from hub.retention import destruction, service
from hub.retention.rules import add_years
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import csrf_token, make_child, make_org, make_user, sign_in
from tests.support.retention import HOLD_REASON, People, World, build_world, make_due, retention_of, today

SECRET_SUMMARY = "Marked-summary-Zebedee-7731"
KEEP_REASON = "Marked-keep-reason-Xanthe"


def _share(sender: User, manager: User, child_id: int, recipient: Organisation) -> ShareRecord:
    return sharing.create_share(sender, sharing.ShareDraft(
        child_id=child_id, category=Category.other, summary=SECRET_SUMMARY, content="c", purpose="p",
        recipient_org_ids=[recipient.id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="r", authorised_by_user_id=manager.id,
        family_told=False, family_not_told_reason="risk"))


@pytest.fixture
def world(app) -> World:
    return build_world()


# --- review dates stored when records are written ------------------------------------------------

def test_a_share_gets_its_senders_class_owner_and_review_date_when_it_is_written(world):
    share = _share(world.worker1, world.manager1, world.child.id, world.school)
    record = retention_of(RecordClass.social_care_record, share.id)
    assert (record.owning_org_id, record.child_id, record.status) == (world.la1.id, world.child.id,
                                                                       RetentionStatus.scheduled)
    assert record.review_on == date(2035, 5, 17)  # the 25th birthday
    assert record.rule == "social_care_record: to the 25th birthday"


def test_a_looked_after_childs_share_is_a_case_record_kept_to_the_75th_birthday(world):
    child = make_child(dob=date(2011, 2, 3), looked_after=True, responsible_authority_id=world.la1.id)
    share = _share(world.worker1, world.manager1, child.id, world.school)
    assert retention_of(RecordClass.looked_after_case_record, share.id).review_on == date(2086, 2, 3)


def test_an_episode_is_the_forces_police_record_reviewed_at_6_years(world):
    episode = missing.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="RET/1", reported_start=utcnow(), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))
    record = retention_of(RecordClass.police_record, episode.id)
    assert record.owning_org_id == world.force.id
    assert record.review_on == add_years(today(), 6)


def test_a_child_who_moves_authority_keeps_each_authoritys_own_dates(world):
    """The first authority's record keeps its owner and date; the new authority's follows its own
    schedule."""
    first = _share(world.worker1, world.manager1, world.child.id, world.school)
    service.set_period(world.dpo2.user, RecordClass.social_care_record, 30, "Local schedule LS-4")
    with unit_of_work():
        db.session().get(Child, world.child.id).responsible_authority_id = world.la2.id
    second = _share(world.worker2, world.manager2, world.child.id, world.school)
    old, new = retention_of(RecordClass.social_care_record, first.id), retention_of(RecordClass.social_care_record,
                                                                                 second.id)
    assert (old.owning_org_id, old.review_on) == (world.la1.id, date(2035, 5, 17))
    assert (new.owning_org_id, new.review_on) == (world.la2.id, date(2040, 5, 17))


def test_changing_a_period_is_audited_and_refused_to_anyone_but_a_dpo(world):
    service.set_period(world.dpo1.user, RecordClass.social_care_record, 30, "Schedule ref CS-12")
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "retention-setting"))
    assert json.loads(event.detail) == {"record_class": "social_care_record", "period": 30, "before": 25,
                                        "default": 25, "basis": "birthday"}
    with pytest.raises(Invalid):
        service.set_period(world.dpo1.user, RecordClass.police_record, 10, "not ours")
    with pytest.raises(NotFound):
        service.set_period(world.worker1, RecordClass.social_care_record, 1, "shorter")


# --- the queue -----------------------------------------------------------------------------------

def _queue_body(app, people: People) -> tuple[int, str]:
    client = app.test_client()
    sign_in(client, people.user, people.secret)
    response = client.get("/retention/")
    return response.status_code, response.get_data(as_text=True)


def test_the_queue_shows_only_the_dpos_own_agencys_records_due(app, world):
    mine = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                             world.school).id)
    theirs = retention_of(RecordClass.social_care_record, _share(world.worker2, world.manager2, world.child.id,
                                                               world.school).id)
    not_due = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                                world.school).id)
    make_due(mine, theirs)
    status, body = _queue_body(app, world.dpo1)
    assert status == 200
    assert f'data-retention-id="{mine.id}"' in body
    assert f'data-retention-id="{theirs.id}"' not in body and f'data-retention-id="{not_due.id}"' not in body
    assert "Threlkeld" not in body and SECRET_SUMMARY not in body  # no child, no content
    status, body = _queue_body(app, world.dpo2)
    assert f'data-retention-id="{theirs.id}"' in body and f'data-retention-id="{mine.id}"' not in body
    # The hub's DPO reviews the host's records, not another agency's.
    status, body = _queue_body(app, People(*make_user(make_org(OrgKind.mace_host), Role.dpo)))
    assert status == 200 and "data-retention-id" not in body
    for outsider in (world.practitioner, world.admin):
        status, body = _queue_body(app, outsider)
        assert status == 403 and "data-retention-id" not in body
    refusals = db.session().scalars(select(AuditEvent.actor_user_id).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == "page")).all()
    assert {world.practitioner.user.id, world.admin.user.id} <= set(refusals)


def test_another_agencys_dpo_can_neither_keep_nor_approve_a_record(world):
    record = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                               world.school).id)
    make_due(record)
    with pytest.raises(NotFound):
        service.keep(world.dpo2.user, record.id, date.today() + timedelta(days=400), "mine now", today())
    with pytest.raises(NotFound):
        service.approve_destruction(world.dpo2.user, [record.id], today())
    assert db.session().scalar(select(AuditEvent.id).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == "retention-record",
        AuditEvent.object_id == str(record.id), AuditEvent.actor_user_id == world.dpo2.user.id))


def test_keeping_a_record_sets_a_new_review_date_and_takes_it_off_the_queue(app, world):
    record = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                               world.school).id)
    make_due(record)
    until = date.today() + timedelta(days=365)
    service.keep(world.dpo1.user, record.id, until, KEEP_REASON, today())
    record = db.session().get(RetentionRecord, record.id)
    assert (record.status, record.review_on, record.keep_reason) == (RetentionStatus.kept, until, KEEP_REASON)
    assert f'data-retention-id="{record.id}"' not in _queue_body(app, world.dpo1)[1]
    with pytest.raises(Invalid):
        service.keep(world.dpo1.user, record.id, date.today(), "today is not a future date", today())


# --- legal holds and destruction -----------------------------------------------------------------

def _due_share(world) -> tuple[ShareRecord, RetentionRecord]:
    share = _share(world.worker1, world.manager1, world.child.id, world.school)
    record = retention_of(RecordClass.social_care_record, share.id)
    make_due(record)
    return share, record


def test_a_hold_blocks_approval_in_the_queue(app, world):
    share, record = _due_share(world)
    service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.litigation, HOLD_REASON, child_id=world.child.id))
    with pytest.raises(Invalid, match="legal hold"):
        service.approve_destruction(world.dpo1.user, [record.id], today())
    client = app.test_client()
    sign_in(client, world.dpo1.user, world.dpo1.secret)
    page = client.get("/retention/").get_data(as_text=True)
    assert "Legal hold" in page
    client.post("/retention/approve", data={"csrf_token": csrf_token(page), "record_id": [str(record.id)]})
    assert db.session().scalar(select(RetentionRecord.status).where(RetentionRecord.id == record.id)) == \
        RetentionStatus.scheduled


def test_a_hold_set_after_approval_stops_the_worker_the_cli_and_the_destroy_step(world, runner):
    share, record = _due_share(world)
    service.approve_destruction(world.dpo1.user, [record.id], today())
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.subject_access, HOLD_REASON,
                                                                 record_class=RecordClass.social_care_record))
    assert destruction.destroy_approved() == []
    result = runner.invoke(args=["retention", "destroy"])
    assert result.exit_code == 0 and "Nothing approved" in result.output
    with pytest.raises(destruction.Held):
        destruction.destroy_record(db.session().get(RetentionRecord, record.id), utcnow())
    db.session().rollback()
    assert db.session().get(ShareRecord, share.id) is not None
    created = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "legal-hold",
                                                          AuditEvent.action == "create"))
    assert json.loads(created.detail) == {"kind": "subject_access", "record_class": "social_care_record"}
    # Another authority's DPO cannot lift it: a 404, as for a hold that does not exist.
    with pytest.raises(NotFound):
        service.lift_hold(world.dpo2.user, hold.id, "Not ours to lift")
    db.session().rollback()
    # Lifted, audited, and then the CLI destroys it.
    service.lift_hold(world.dpo1.user, hold.id, "Request answered")
    refused = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "legal-hold",
                                                          AuditEvent.actor_user_id == world.dpo2.user.id))
    assert refused is not None and refused.outcome == "refused"
    lifted = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "legal-hold",
                                                         AuditEvent.action == "update",
                                                         AuditEvent.actor_user_id == world.dpo1.user.id))
    assert (lifted.actor_user_id, json.loads(lifted.detail)) == (world.dpo1.user.id,
                                                                 {"change": "lifted", "kind": "subject_access"})
    result = runner.invoke(args=["retention", "destroy"])
    assert "Destroyed 1 social_care_record" in result.output
    db.session.remove()
    assert db.session().get(ShareRecord, share.id) is None
    assert db.session().get(RetentionRecord, record.id).status == RetentionStatus.destroyed


def test_another_agencys_hold_covers_nothing_of_this_one(world):
    share, record = _due_share(world)
    service.set_hold(world.dpo2.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON))
    service.approve_destruction(world.dpo1.user, [record.id], today())
    assert [c.count for c in destruction.destroy_approved()] == [1]


def test_a_hold_on_a_child_the_dpos_organisation_does_not_hold_is_refused(world):
    stranger = make_child(dob=date(2012, 1, 1))
    with pytest.raises(NotFound):
        service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON, child_id=stranger.id))


def test_destruction_writes_a_certificate_and_nothing_personal_reaches_the_audit_log(world):
    share, record = _due_share(world)
    episode = missing.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="RET/2", reported_start=utcnow(), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))
    police = retention_of(RecordClass.police_record, episode.id)
    make_due(police)
    force_dpo = make_user(world.force, Role.dpo)[0]
    service.keep(world.dpo1.user, record.id, date.today() + timedelta(days=30), KEEP_REASON, today())
    make_due(record)
    service.approve_destruction(world.dpo1.user, [record.id], today())
    service.approve_destruction(force_dpo, [police.id], today())
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON,
                                                                 child_id=world.child.id))
    service.lift_hold(world.dpo1.user, hold.id, HOLD_REASON + " lifted")
    certificates = destruction.destroy_approved()
    assert {(c.organisation_id, c.record_class, c.count, c.approved_by_user_id) for c in certificates} == {
        (world.la1.id, RecordClass.social_care_record, 1, world.dpo1.user.id),
        (world.force.id, RecordClass.police_record, 1, force_dpo.id)}
    assert db.session().get(MissingEpisode, episode.id) is None and db.session().get(ShareRecord, share.id) is None
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "destruction-certificate")).all()
    details = sorted((json.loads(e.detail) for e in events), key=lambda d: d["record_class"])
    assert details[0]["rule"] == "police_record: 6 years after written"
    assert set(details[0]) == {"organisation", "record_class", "count", "rule", "approved_by", "approved_from",
                               "approved_to"}
    assert all(e.child_id is None for e in events)
    everything = " ".join(f"{e.detail} {e.purpose} {e.legal_basis}" for e in db.session().scalars(select(AuditEvent)))
    for marked in (SECRET_SUMMARY, HOLD_REASON, KEEP_REASON, "Rowena", "Threlkeld", "2010-05-17"):
        assert marked not in everything


def test_old_sent_emails_are_purged_on_their_days_unless_a_hold_names_them(app):
    host = make_org(OrgKind.mace_host)
    hub_dpo, _ = make_user(host, Role.dpo)
    with unit_of_work():
        outbox.queue([outbox.Email("a@example.test", "s", "b"), outbox.Email("b@example.test", "s", "b")],
                     now=utcnow() - timedelta(days=31))
        outbox.queue([outbox.Email("c@example.test", "s", "b")], now=utcnow() - timedelta(days=29))
        db.session().execute(update(OutboxMessage).values(status=MessageStatus.sent))
    first = db.session().scalar(select(OutboxMessage.id).order_by(OutboxMessage.id))
    with unit_of_work():  # one old e-mail still waiting to be sent: never purged
        db.session().execute(update(OutboxMessage).where(OutboxMessage.id == first)
                             .values(status=MessageStatus.pending))
    hold = service.set_hold(hub_dpo, service.HoldDetails(HoldKind.inquiry, HOLD_REASON,
                                                         record_class=RecordClass.outbox_email))
    assert destruction.purge_outbox() is None
    service.lift_hold(hub_dpo, hold.id, "Inquiry closed")
    certificate = destruction.purge_outbox()
    assert (certificate.count, certificate.organisation_id, certificate.rule) == (
        1, host.id, "outbox_email: 30 days after written")
    assert db.session().scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_the_schedule_page_names_each_default_and_its_source(app, world):
    client = app.test_client()
    sign_in(client, world.dpo1.user, world.dpo1.secret)
    body = client.get("/retention/schedule").get_data(as_text=True)
    assert "Care Planning, Placement and Case Review (England) Regulations 2010, regulation 50" in body
    assert 'data-record-class="social_care_record"' in body and 'data-record-class="police_record"' not in body


def test_mace_intelligence_belongs_to_its_groups_host_and_is_destroyed_with_its_subjects(app):
    host, force = make_org(OrgKind.mace_host), make_org(OrgKind.police)
    (officer, _), (authoriser, _) = make_user(force, Role.police_officer), make_user(force, Role.police_officer)
    host_dpo, _ = make_user(host, Role.dpo)
    with unit_of_work() as s:
        group = MaceGroup(code="MACE-RET", name="Retention MACE", host_organisation_id=host.id)
        s.add(group)
        s.flush()
        s.add_all([MaceMembership(group_id=group.id, organisation_id=force.id),
                   MaceMembership(group_id=group.id, organisation_id=host.id)])
        s.add(MaceMember(group_id=group.id, user_id=officer.id, organisation_id=force.id, role=MemberRole.member,
                         start_date=date.today() - timedelta(days=30)))
    place = subjects.add_location(officer, group.id, subjects.LocationDetails("Rec ground", "park"))
    share = intelligence.share_intelligence(officer, group.id, sharing.ShareDraft(
        child_id=None, category=Category.police_intelligence, summary=SECRET_SUMMARY, content="c", purpose="p",
        recipient_org_ids=[], source_kind=SourceKind.organisation, source_description="Neighbourhood team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime, rationale="r",
        authorised_by_user_id=authoriser.id, source_evaluation="2", intelligence_assessment="B",
        handling_code="P", family_told=False, family_not_told_reason="risk"), intelligence.Subjects(
        location_ids=[place.id]))
    record = retention_of(RecordClass.mace_intelligence, share.id)
    # About a place, not a child: the no-date-of-birth fallback, 25 years after written.
    assert (record.owning_org_id, record.child_id, record.review_on) == (host.id, None, add_years(today(), 25))
    make_due(record)
    with pytest.raises(NotFound):  # the force sent it, but the group's host decides
        service.approve_destruction(make_user(force, Role.dpo)[0], [record.id], today())
    service.approve_destruction(host_dpo, [record.id], today())
    assert [c.record_class for c in destruction.destroy_approved()] == [RecordClass.mace_intelligence]
    assert db.session().get(ShareRecord, share.id) is None
    assert db.session().scalar(select(func.count()).select_from(MaceIntelligenceSubject)) == 0


def test_nobody_but_a_dpo_reaches_a_record_or_a_hold_even_of_their_own_agency(world):
    """The keeper's rule answers "none" to anyone who is not a DPO, before the organisation is
    compared: a social worker of the owning authority and the hub's administrator can neither open
    nor decide a record, nor open or lift a hold, each refusal audited."""
    record = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                               world.school).id)
    make_due(record)
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON))
    for user in (world.practitioner.user, world.admin.user):
        for attempt in (lambda u: service.record_for(u, record.id),
                        lambda u: service.keep(u, record.id, date.today() + timedelta(days=400), KEEP_REASON,
                                               today()),
                        lambda u: service.hold_for(u, hold.id),
                        lambda u: service.lift_hold(u, hold.id, "no longer needed")):
            with pytest.raises(NotFound):
                attempt(user)
        refused = set(db.session().scalars(select(AuditEvent.object_type).where(
            AuditEvent.outcome == "refused", AuditEvent.actor_user_id == user.id)))
        assert refused == {"retention-record", "legal-hold"}
    db.session.expire_all()
    assert retention_of(RecordClass.social_care_record, record.record_id).status == RetentionStatus.scheduled
    assert db.session().get(type(hold), hold.id).lifted_at is None


# --- each refusal of the retention service (issue 24, "every rule executed") -------------------------------

def _settings() -> int:
    return db.session().scalar(select(func.count()).select_from(RetentionSetting))


@pytest.mark.parametrize("period, reason, field, message", [
    (30, "  ", "reason", "Say why your organisation keeps these records for this period"),
    (30, "r" * (service.REASON_MAX + 1), "reason", f"Keep the reason to {service.REASON_MAX} characters"),
    (0, "Schedule ref CS-12", "period", "Enter a whole number from 1 to"),
    (None, "Schedule ref CS-12", "period", "Enter a whole number from 1 to"),
    (10_000, "Schedule ref CS-12", "period", "Enter a whole number from 1 to"),
], ids=["no-reason", "long-reason", "zero", "none", "too-long"])
def test_a_period_needs_a_sound_number_and_a_reason(world, period, reason, field, message):
    with pytest.raises(Invalid) as info:
        service.set_period(world.dpo1.user, RecordClass.social_care_record, period, reason)
    assert info.value.errors[field].startswith(message)
    assert _settings() == 0


def test_a_destroyed_record_is_not_kept_and_only_records_due_are_approved(world):
    _, record = _due_share(world)
    with pytest.raises(Invalid) as info:
        service.approve_destruction(world.dpo1.user, [], today())
    assert info.value.errors["record"] == "Choose the records to destroy"
    not_due = retention_of(RecordClass.social_care_record, _share(world.worker1, world.manager1, world.child.id,
                                                                world.school).id)
    with pytest.raises(Invalid) as info:
        service.approve_destruction(world.dpo1.user, [record.id, not_due.id], today())
    assert info.value.errors["record"] == "Only records due for review can be approved for destruction"
    assert db.session().get(RetentionRecord, record.id).status is RetentionStatus.scheduled  # refused whole
    with unit_of_work():
        db.session().execute(update(RetentionRecord).where(RetentionRecord.id == record.id)
                             .values(status=RetentionStatus.destroyed))
    with pytest.raises(Invalid) as info:
        service.keep(world.dpo1.user, record.id, date.today() + timedelta(days=30), KEEP_REASON, today())
    assert info.value.errors["until"] == "This record has already been destroyed"


def test_a_hold_names_a_class_the_organisation_keeps_and_is_lifted_once_with_a_reason(world):
    with pytest.raises(Invalid) as info:
        service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON,
                                                              record_class=RecordClass.police_record))
    assert info.value.errors["record_class"] == "Your organisation keeps no records of this class"
    with pytest.raises(Invalid) as info:
        service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, " "))
    assert "Say what the hold is for" in info.value.errors["reason"]
    assert service.holds_for(world.dpo1.user, include_lifted=True) == []
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.litigation, HOLD_REASON,
                                                                 child_id=world.child.id))
    with pytest.raises(Invalid) as info:
        service.lift_hold(world.dpo1.user, hold.id, "")
    assert info.value.errors["reason"] == "Say why the hold is lifted"
    service.lift_hold(world.dpo1.user, hold.id, "The claim was settled")
    with pytest.raises(Invalid) as info:
        service.lift_hold(world.dpo1.user, hold.id, "again")
    assert info.value.errors["reason"] == "This hold has already been lifted"
    assert service.holds_for(world.dpo1.user) == []
    lifted = service.holds_for(world.dpo1.user, include_lifted=True)
    assert [h.id for h in lifted] == [hold.id]
    service.record_holds_read(world.dpo1.user, lifted)
    read = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "legal-hold",
                                                         AuditEvent.action == "read")).one()
    assert json.loads(read.detail)["count"] == 1 and HOLD_REASON not in read.detail
    with pytest.raises(NotFound):
        service.holds_for(world.worker1)
