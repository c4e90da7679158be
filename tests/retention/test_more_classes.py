"""Issue 23's later record classes: consent records, MACE minutes, agenda items, actions and
outcomes, Philomena profiles (each dated when written, through the same scheduling path, and
destroyed by the one destroy step), police shares as a class of their own, and operational data
(sign-in attempts, sessions, download files) purged by age; the delivery worker does both."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from hub import db
from hub import worker as hub_worker
from hub.consent import service as consent
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.mace.operations import actions, agenda, meetings, outcomes, subjects
from hub.missing.profiles import service as profiles
from hub.models.audit import AuditEvent
from hub.models.auth import SignInAttempt, UserSession
from hub.models.consent import ConsentRecord, GivenBy
from hub.models.mace import (
    ActionKind,
    Attendance,
    DisruptionKind,
    MaceAction,
    MaceAgendaItem,
    MaceAttendance,
    MaceMeeting,
    MaceOutcome,
    MacePerson,
    PersonKind,
    SubjectKind,
)
from hub.models.missing import ImportBatch, ImportFile, ImportStatus, MissingEpisode, PhilomenaProfile
from hub.models.people import Child
from hub.models.retention import HoldKind, RecordClass, RetentionRecord, RetentionStatus
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.notifications import delivery
from hub.retention import destruction, purge, service
from hub.retention.rules import add_years, london_day
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import involve, make_child, make_episode, make_org, make_user, sign_in

DOB = date(2010, 5, 17)


def _retention(record_class: RecordClass, record_id: int) -> RetentionRecord | None:
    return db.session().scalar(select(RetentionRecord).where(RetentionRecord.record_class == record_class,
                                                             RetentionRecord.record_id == record_id))


def _today() -> date:
    return london_day(utcnow())


def _due_and_approved(dpo, *records: RetentionRecord) -> None:
    with unit_of_work():
        db.session().execute(update(RetentionRecord).where(RetentionRecord.id.in_([r.id for r in records]))
                             .values(review_on=_today() - timedelta(days=1)))
    service.approve_destruction(dpo, [r.id for r in records], _today())


def _consent(actor, child_id: int, recipient_id: int) -> ConsentRecord:
    return consent.record_consent(actor, consent.ConsentDetails(
        child_id=child_id, given_by=GivenBy.parental_responsibility, giver_description="mother", given=True,
        purposes=[Category.other], recipient_org_ids=[recipient_id], obtained_on=date.today()))


# --- consent records ------------------------------------------------------------------------------

def test_a_consent_record_is_its_recorders_to_the_25th_birthday_and_stays_theirs_when_the_child_moves(app):
    la1, la2, school = (make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care),
                        make_org(OrgKind.school))
    child = make_child(dob=DOB, responsible_authority_id=la1.id)
    worker1, _ = make_user(la1, Role.social_worker)
    first = _consent(worker1, child.id, school.id)
    with unit_of_work():
        db.session().get(Child, child.id).responsible_authority_id = la2.id
    worker2, _ = make_user(la2, Role.social_worker)
    second = _consent(worker2, child.id, school.id)
    old, new = _retention(RecordClass.consent_record, first.id), _retention(RecordClass.consent_record, second.id)
    assert (old.owning_org_id, old.child_id, old.review_on, old.rule) == (
        la1.id, child.id, date(2035, 5, 17), "consent_record: to the 25th birthday")
    assert (new.owning_org_id, new.review_on) == (la2.id, date(2035, 5, 17))


def _share_relying_on(worker, manager, child_id: int, school_id: int, given: ConsentRecord) -> ShareRecord:
    return sharing.create_share(worker, sharing.ShareDraft(
        child_id=child_id, category=Category.other, summary="s", content="c", purpose="p",
        recipient_org_ids=[school_id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.consent,
        consent_record_id=given.id, rationale="r", authorised_by_user_id=manager.id, family_told=True,
        family_told_on=date.today()))


def test_a_consent_record_waits_while_a_share_relying_on_it_is_kept_and_goes_with_it(app):
    """The share's legal basis is shown as long as the share is: its consent record, approved,
    waits; once the share is approved too, both go in one run."""
    la, school = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school)
    child = make_child(dob=DOB, responsible_authority_id=la.id)
    (worker, _), (manager, _), (dpo, _) = (make_user(la, Role.social_worker), make_user(la, Role.social_worker),
                                           make_user(la, Role.dpo))
    given, spare = _consent(worker, child.id, school.id), _consent(worker, child.id, school.id)
    share = _share_relying_on(worker, manager, child.id, school.id, given)
    _due_and_approved(dpo, _retention(RecordClass.consent_record, given.id),
                      _retention(RecordClass.consent_record, spare.id))

    # The consent nobody relied on goes; the one the kept share relies on waits, approved.
    assert [(c.record_class, c.count) for c in destruction.destroy_approved()] == [(RecordClass.consent_record, 1)]
    db.session.remove()
    assert db.session().get(ConsentRecord, spare.id) is None
    assert db.session().get(ConsentRecord, given.id) is not None
    assert db.session().get(ShareRecord, share.id).consent_record_id == given.id
    assert _retention(RecordClass.consent_record, given.id).status == RetentionStatus.approved

    _due_and_approved(dpo, _retention(RecordClass.social_care_record, share.id))
    assert sorted((c.record_class.value, c.count) for c in destruction.destroy_approved()) == [
        ("consent_record", 1), ("social_care_record", 1)]
    db.session.remove()
    assert db.session().get(ConsentRecord, given.id) is None
    assert db.session().get(ShareRecord, share.id) is None


def test_a_consent_record_waits_while_a_share_relying_on_it_is_approved_but_held(app):
    la, school = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school)
    child = make_child(dob=DOB, responsible_authority_id=la.id)
    (worker, _), (manager, _), (dpo, _) = (make_user(la, Role.social_worker), make_user(la, Role.social_worker),
                                           make_user(la, Role.dpo))
    given = _consent(worker, child.id, school.id)
    share = _share_relying_on(worker, manager, child.id, school.id, given)
    _due_and_approved(dpo, _retention(RecordClass.consent_record, given.id),
                      _retention(RecordClass.social_care_record, share.id))
    service.set_hold(dpo, service.HoldDetails(kind=HoldKind.litigation, reason="Claim against the council",
                                              record_class=RecordClass.social_care_record))

    assert destruction.destroy_approved() == []
    db.session.remove()
    assert db.session().get(ConsentRecord, given.id) is not None
    assert db.session().get(ShareRecord, share.id).consent_record_id == given.id


# --- MACE ----------------------------------------------------------------------------------------

def _meeting(mace) -> MaceMeeting:
    return meetings.schedule(mace.user("chair"), mace.group.id, meetings.MeetingDetails(
        day=date.today() + timedelta(days=7), time="10:00", venue="Room 4"))


def test_mace_minutes_items_and_actions_are_the_hosts_dated_by_their_child_or_from_writing(mace):
    """A meeting's minutes and an item about a place name no child: the no-date-of-birth fallback
    (born the day it was written) makes the rule 25 years from writing."""
    chair = mace.user("chair")
    meeting = _meeting(mace)
    minutes = _retention(RecordClass.mace_minutes, meeting.id)
    assert (minutes.owning_org_id, minutes.child_id, minutes.review_on) == (mace.host.id, None,
                                                                            add_years(_today(), 25))
    child = mace.children[0]  # born 27 March 2012 (the factory's date)
    item = agenda.add_item(chair, meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    row = _retention(RecordClass.mace_agenda_item, item.id)
    assert (row.owning_org_id, row.child_id, row.review_on) == (mace.host.id, child.id, date(2037, 3, 27))
    place = subjects.add_location(chair, mace.group.id, subjects.LocationDetails("Bus station", "transport"))
    about_place = agenda.add_item(chair, meeting.id, agenda.ItemDraft(SubjectKind.location, place.id))
    assert _retention(RecordClass.mace_agenda_item, about_place.id).review_on == add_years(_today(), 25)
    with unit_of_work() as s:
        person = MacePerson(group_id=mace.group.id, kind=PersonKind.person, name="Adult A", justification="x",
                            part_3="s35", review_on=date.today() + timedelta(days=90), created_by_user_id=chair.id)
        s.add(person)
    cawn = actions.create_action(chair, meeting.id, actions.ActionDraft(
        description="Serve a notice", owner_organisation_id=mace.police.id, owner_user_id=mace.user("police").id,
        due_on=date.today() + timedelta(days=7), kind=ActionKind.disruption, disruption_kind=DisruptionKind.cawn,
        person_id=person.id, child_id=child.id, served_on=date.today() - timedelta(days=1),
        serving_officer="PC 123", review_on=date.today() + timedelta(days=180)))
    row = _retention(RecordClass.mace_action, cawn.id)
    assert (row.owning_org_id, row.child_id, row.review_on) == (mace.host.id, child.id, date(2037, 3, 27))


def test_an_outcome_is_its_agencys_dated_once_and_only_that_agencys_dpo_decides_it(mace):
    chair = mace.user("chair")
    meeting = _meeting(mace)
    child = mace.children[0]
    agenda.add_item(chair, meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    nurse = mace.user("nurse")
    with unit_of_work() as s:
        s.get(MaceMeeting, meeting.id).held_at = utcnow()
        s.add(MaceAttendance(meeting_id=meeting.id, user_id=nurse.id, organisation_id=nurse.organisation_id,
                             attendance=Attendance.present))
    draft = outcomes.OutcomeDraft(organisation_id=mace.health.id, child_id=child.id, outcome="On the record",
                                  system_name="SystmOne", system_reference="HR-1")
    row = outcomes.record_outcome(nurse, meeting.id, draft)
    outcomes.record_outcome(nurse, meeting.id, draft)  # confirmed again: still one retention row
    assert db.session().scalar(select(func.count()).select_from(RetentionRecord).where(
        RetentionRecord.record_class == RecordClass.mace_outcome)) == 1
    record = _retention(RecordClass.mace_outcome, row.id)
    assert (record.owning_org_id, record.review_on) == (mace.health.id, date(2037, 3, 27))
    host_dpo, _ = make_user(mace.host, Role.dpo)
    with pytest.raises(NotFound):  # the group's host does not decide an agency's outcome
        _due_and_approved(host_dpo, record)
    db.session().rollback()
    _due_and_approved(make_user(mace.health, Role.dpo)[0], record)
    destruction.destroy_approved()
    assert db.session().get(MaceOutcome, row.id) is None


def test_destroying_minutes_an_item_and_an_action_removes_each_and_only_what_is_part_of_it(mace):
    chair = mace.user("chair")
    meeting = _meeting(mace)
    item = agenda.add_item(chair, meeting.id, agenda.ItemDraft(SubjectKind.child, mace.children[0].id))
    action = actions.create_action(chair, meeting.id, actions.ActionDraft(
        description="Visit the park", owner_organisation_id=mace.police.id, owner_user_id=mace.user("police").id,
        due_on=date.today() + timedelta(days=7), item_id=item.id))
    with unit_of_work() as s:
        s.get(MaceMeeting, meeting.id).notes = "Minutes-Marked-Oswin"
        s.add(MaceAttendance(meeting_id=meeting.id, user_id=chair.id, organisation_id=chair.organisation_id,
                             attendance=Attendance.present))
    host_dpo, _ = make_user(mace.host, Role.dpo)
    minutes, item_row = _retention(RecordClass.mace_minutes, meeting.id), _retention(RecordClass.mace_agenda_item,
                                                                                     item.id)
    _due_and_approved(host_dpo, minutes, item_row)
    certificates = destruction.destroy_approved()
    assert {(c.record_class, c.count) for c in certificates} == {(RecordClass.mace_minutes, 1),
                                                                  (RecordClass.mace_agenda_item, 1)}
    db.session.remove()
    kept = db.session().get(MaceMeeting, meeting.id)  # the action still hangs on it: date and group stay
    assert kept is not None and kept.notes is None and kept.venue is None
    assert db.session().scalar(select(func.count()).select_from(MaceAttendance)) == 0
    assert db.session().get(MaceAgendaItem, item.id) is None
    assert db.session().get(MaceAction, action.id).item_id is None
    _due_and_approved(host_dpo, _retention(RecordClass.mace_action, action.id))
    destruction.destroy_approved()
    db.session.remove()
    assert db.session().get(MaceAction, action.id) is None


# --- Philomena profiles --------------------------------------------------------------------------

def test_a_profile_is_its_keepers_and_moves_with_the_child_keeping_its_date(app):
    la1, la2 = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    child = make_child(dob=DOB, responsible_authority_id=la1.id, looked_after=True)
    worker1, _ = make_user(la1, Role.social_worker)
    profile = profiles.save_profile(worker1, child.id, {"physical_description": "Tall"})
    record = _retention(RecordClass.philomena_profile, profile.id)
    assert (record.owning_org_id, record.review_on) == (la1.id, date(2035, 5, 17))
    with unit_of_work():  # placed by another authority: it keeps the profile now
        db.session().get(Child, child.id).placing_authority_id = la2.id
    worker2, _ = make_user(la2, Role.social_worker)
    profiles.save_profile(worker2, child.id, {"physical_description": "Tall, short hair"})
    db.session.expire_all()
    record = _retention(RecordClass.philomena_profile, profile.id)
    assert (record.owning_org_id, record.review_on) == (la2.id, date(2035, 5, 17))
    with pytest.raises(NotFound):  # the first authority's DPO decides it no more
        service.record_for(make_user(la1, Role.dpo)[0], record.id)
    db.session().rollback()
    _due_and_approved(make_user(la2, Role.dpo)[0], record)
    destruction.destroy_approved()
    assert db.session().get(PhilomenaProfile, profile.id) is None


# --- police shares --------------------------------------------------------------------------------

def test_a_police_share_is_its_own_class_and_destroying_it_never_touches_an_episode_of_the_same_id(app):
    force, la = make_org(OrgKind.police), make_org(OrgKind.childrens_social_care)
    child = make_child(dob=DOB, responsible_authority_id=la.id)
    (officer, _), (inspector, _), (dpo, _) = (make_user(force, Role.police_officer),
                                              make_user(force, Role.police_officer), make_user(force, Role.dpo))
    involve(child, force)
    episodes = [make_episode(officer, child, police_reference=f"PS/{n}") for n in range(3)]
    share = sharing.create_share(officer, sharing.ShareDraft(
        child_id=child.id, category=Category.other, summary="s", content="c", purpose="p",
        recipient_org_ids=[la.id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="r", authorised_by_user_id=inspector.id,
        family_told=False, family_not_told_reason="risk"))
    assert share.id in {e.id for e in episodes}  # the same id in both tables
    record = _retention(RecordClass.police_share, share.id)
    assert record.review_on == add_years(_today(), 6)
    _due_and_approved(dpo, record)
    destruction.destroy_approved()
    db.session.remove()
    assert db.session().get(ShareRecord, share.id) is None
    assert all(db.session().get(MissingEpisode, e.id) is not None for e in episodes)


# --- operational data, and the worker ---------------------------------------------------------------

def _old(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def test_operational_data_is_purged_on_its_days_unless_a_hold_names_its_class(app):
    host = make_org(OrgKind.mace_host)
    hub_dpo, _ = make_user(host, Role.dpo)
    officer, _ = make_user(make_org(OrgKind.police), Role.police_officer)
    with unit_of_work() as s:
        s.add_all([SignInAttempt(client_address="192.0.2.1", at=_old(91)),
                   SignInAttempt(client_address="192.0.2.2", at=_old(89))])
        s.add_all([UserSession(token_hash="a" * 64, user_id=officer.id, method="password+totp", created_at=_old(100),
                               last_seen_at=_old(95), ended_at=_old(95)),
                   UserSession(token_hash="b" * 64, user_id=officer.id, method="password+totp", created_at=_old(100),
                               last_seen_at=_old(1))])
        for status, days in ((ImportStatus.failed, 8), (ImportStatus.failed, 6), (ImportStatus.running, 30)):
            batch = ImportBatch(police_org_id=officer.organisation_id, filename="f.csv", sha256="0" * 64,
                                status=status, created_at=_old(days))
            s.add(batch)
            s.flush()
            s.add(ImportFile(batch_id=batch.id, data="ZmlsZQ=="))
    hold = service.set_hold(hub_dpo, service.HoldDetails(HoldKind.inquiry, "An inquiry into an attack",
                                                         record_class=RecordClass.sign_in_attempt))
    certificates = purge.purge_operational()
    assert {(c.record_class, c.count, c.organisation_id) for c in certificates} == {
        (RecordClass.user_session, 1, host.id), (RecordClass.import_file, 1, host.id)}
    assert db.session().scalar(select(func.count()).select_from(SignInAttempt)) == 2  # held
    assert db.session().scalar(select(func.count()).select_from(ImportFile)) == 2  # recent, and one importing
    service.lift_hold(hub_dpo, hold.id, "Inquiry closed")
    assert [(c.record_class, c.count, c.rule) for c in purge.purge_operational()] == [
        (RecordClass.sign_in_attempt, 1, "sign_in_attempt: 90 days after written")]
    assert db.session().scalar(select(SignInAttempt.client_address)) == "192.0.2.2"
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == destruction.CERTIFICATE)).all()
    assert sorted(json.loads(e.detail)["record_class"] for e in events) == ["import_file", "sign_in_attempt",
                                                                           "user_session"]
    assert all("192.0.2" not in e.detail for e in events)


def test_a_record_class_that_is_operational_is_never_destroyed_one_by_one(app):
    with pytest.raises(ValueError, match="purged by age"):
        destruction.destroy_record(RetentionRecord(id=0, record_class=RecordClass.user_session, record_id=1), utcnow())


def _wait_for(done, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_the_delivery_worker_destroys_what_was_approved_but_never_a_held_record(app, smtp):
    la, school = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school)
    (worker, _), (dpo, _) = make_user(la, Role.social_worker), make_user(la, Role.dpo)
    held_child = make_child(dob=DOB, responsible_authority_id=la.id)
    free_child = make_child(dob=DOB, responsible_authority_id=la.id)
    held_consent, free_consent = _consent(worker, held_child.id, school.id), _consent(worker, free_child.id,
                                                                                      school.id)
    _due_and_approved(dpo, _retention(RecordClass.consent_record, held_consent.id),
                      _retention(RecordClass.consent_record, free_consent.id))
    service.set_hold(dpo, service.HoldDetails(HoldKind.litigation, "A claim about the child",
                                              child_id=held_child.id))
    assert [d.name for d in hub_worker.delivery_duties()] == ["retention"]
    stop = threading.Event()
    thread = threading.Thread(target=hub_worker.run_all, args=(smtp.settings, "retention-worker", 50, 0.1, stop))
    thread.start()
    try:
        _wait_for(lambda: db.session().scalar(select(RetentionRecord.status).where(
            RetentionRecord.record_class == RecordClass.consent_record,
            RetentionRecord.record_id == free_consent.id).execution_options(populate_existing=True))
            == RetentionStatus.destroyed)
    finally:
        stop.set()
        thread.join(60)
    db.session.remove()
    assert db.session().get(ConsentRecord, free_consent.id) is None
    assert db.session().get(ConsentRecord, held_consent.id) is not None
    assert _retention(RecordClass.consent_record, held_consent.id).status == RetentionStatus.approved
    certificate = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == destruction.CERTIFICATE))
    assert json.loads(certificate.detail)["count"] == 1
    assert delivery.run_duty(hub_worker.delivery_duties()[0]) == 0  # run again: the hold still stands
    assert db.session().get(ConsentRecord, held_consent.id) is not None


def test_the_queue_lists_a_consent_record_due_without_a_link_to_a_share_of_the_same_id(app):
    la, school = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school)
    child = make_child(dob=DOB, responsible_authority_id=la.id)
    (worker, _), (dpo, secret) = make_user(la, Role.social_worker), make_user(la, Role.dpo)
    record = _retention(RecordClass.consent_record, _consent(worker, child.id, school.id).id)
    with unit_of_work():
        db.session().execute(update(RetentionRecord).where(RetentionRecord.id == record.id)
                             .values(review_on=_today() - timedelta(days=1)))
    client = app.test_client()
    sign_in(client, dpo, secret)
    body = client.get("/retention/").get_data(as_text=True)
    row = body[body.index(f'data-retention-id="{record.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Consent record" in row and "/sharing/" not in row
