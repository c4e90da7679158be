"""Destroying one record of the classes that are neither a share nor an episode: consent records,
MACE minutes, agenda items, actions, outcomes and persons of concern, Philomena profiles. Each removes the record and
what is only part of it; what merely points at it forgets it. Called only by
hub.retention.destruction.destroy_record (the one destroy step, which refuses a held record).

MACE minutes are a meeting's own notes and attendance: destroying them leaves the meeting's date
and group (no one's data) while its agenda items, actions and outcomes, each dated by its own
child, may be kept longer; the meeting row goes with its minutes if nothing hangs on it then.

A MACE person of concern (destroyed only under an erasure request: hub.erasure) takes with it what
hangs only on the person: the group's links to them and the agenda items about them (an item has
exactly one subject; their retention rows were approved with the person's and are marked destroyed
here). What merely names the person forgets them: an intelligence item's subject row naming them
goes (the item stays unless erased on its own), a disruption action's `person_id` is cleared.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, exists, select, update

from hub import db
from hub.db import utcnow
from hub.models.consent import ConsentRecipient, ConsentRecord
from hub.models.mace import (
    MaceAction,
    MaceActionUpdate,
    MaceAgencyUpdate,
    MaceAgendaItem,
    MaceAttendance,
    MaceIntelligenceSubject,
    MaceLink,
    MaceMeeting,
    MaceOutcome,
    MacePerson,
    MaceProposalDecision,
)
from hub.models.missing import PhilomenaProfile, ProfileRelease
from hub.models.retention import RecordClass, RetentionRecord, RetentionStatus
from hub.models.sharing import ShareRecord
from hub.retention.holds import Held, held
from hub.retention.rules import SHARE_CLASSES


def destroy_consent(consent_id: int) -> None:
    """The consent record and its recipients; a share that relied on it and goes in the same
    batch forgets it. A share relying on it that is kept (not approved for destruction, or held)
    keeps it too: the share's legal basis must be shown for as long as the share is, so the
    consent waits, approved, until the share goes (the destroy step's Held)."""
    s = db.session()
    going = exists().where(RetentionRecord.record_class.in_(SHARE_CLASSES),
                           RetentionRecord.record_id == ShareRecord.id,
                           RetentionRecord.status.in_((RetentionStatus.approved, RetentionStatus.destroyed)),
                           ~held())
    if s.scalar(select(exists().where(ShareRecord.consent_record_id == consent_id, ~going))):
        raise Held(f"consent record {consent_id} is relied on by a share that is kept")
    s.execute(update(ShareRecord).where(ShareRecord.consent_record_id == consent_id).values(consent_record_id=None))
    s.execute(delete(ConsentRecipient).where(ConsentRecipient.consent_id == consent_id))
    s.execute(delete(ConsentRecord).where(ConsentRecord.id == consent_id))


def destroy_minutes(meeting_id: int) -> None:
    s = db.session()
    s.execute(delete(MaceAttendance).where(MaceAttendance.meeting_id == meeting_id))
    s.execute(update(MaceMeeting).where(MaceMeeting.id == meeting_id).values(notes=None, venue=None))
    _drop_meeting_if_bare(meeting_id)


def destroy_agenda_item(item_id: int) -> None:
    s = db.session()
    s.execute(delete(MaceAgencyUpdate).where(MaceAgencyUpdate.item_id == item_id))
    s.execute(update(MaceAction).where(MaceAction.item_id == item_id).values(item_id=None))
    s.execute(delete(MaceAgendaItem).where(MaceAgendaItem.id == item_id))


def destroy_action(action_id: int) -> None:
    s = db.session()
    s.execute(delete(MaceActionUpdate).where(MaceActionUpdate.action_id == action_id))
    s.execute(delete(MaceAction).where(MaceAction.id == action_id))


def destroy_outcome(outcome_id: int) -> None:
    db.session().execute(delete(MaceOutcome).where(MaceOutcome.id == outcome_id))


def destroy_profile(profile_id: int) -> None:
    """The profile and its photo; the release rows (which episode it went to, when) go with it,
    while the share each release made stays the share's own record."""
    s = db.session()
    s.execute(delete(ProfileRelease).where(ProfileRelease.profile_id == profile_id))
    s.execute(delete(PhilomenaProfile).where(PhilomenaProfile.id == profile_id))


def destroy_person(person_id: int) -> None:
    """The person of concern, their links and the agenda items about them; intelligence and
    disruption actions that name them forget them. The agenda items' retention rows say destroyed
    (the destroy step checked the person's own row for a hold; the erasure decision refused if any
    of these rows was held)."""
    s = db.session()
    items = list(s.scalars(select(MaceAgendaItem.id).where(MaceAgendaItem.person_id == person_id)))
    if items and s.scalar(select(exists().where(RetentionRecord.record_class == RecordClass.mace_agenda_item,
                                                RetentionRecord.record_id.in_(items), held()))):
        # A hold placed on an item after the erasure was approved: the hold wins, nothing goes.
        raise Held(f"an agenda item about MACE person {person_id} is under a legal hold")
    for item_id in items:
        destroy_agenda_item(item_id)
    if items:
        s.execute(update(RetentionRecord).where(
            RetentionRecord.record_class == RecordClass.mace_agenda_item, RetentionRecord.record_id.in_(items),
            RetentionRecord.status != RetentionStatus.destroyed).values(
            status=RetentionStatus.destroyed, destroyed_at=utcnow(), keep_reason=None))
    s.execute(delete(MaceLink).where(MaceLink.person_id == person_id))
    s.execute(delete(MaceIntelligenceSubject).where(MaceIntelligenceSubject.person_id == person_id))
    s.execute(update(MaceAction).where(MaceAction.person_id == person_id).values(person_id=None))
    s.execute(delete(MacePerson).where(MacePerson.id == person_id))


def _drop_meeting_if_bare(meeting_id: int) -> None:
    """Delete the meeting row, its minutes destroyed, if no item, action, outcome or proposal
    decision hangs on it (else the bare date and group stay for them)."""
    s = db.session()
    hangs = [exists().where(model.meeting_id == meeting_id)
             for model in (MaceAgendaItem, MaceAction, MaceOutcome, MaceProposalDecision, MaceAttendance)]
    if not any(s.scalar(select(h)) for h in hangs):
        s.execute(delete(MaceMeeting).where(MaceMeeting.id == meeting_id))


#: record class -> the step that destroys one record of it, by id.
DESTROYERS: dict[RecordClass, Callable[[int], None]] = {
    RecordClass.consent_record: destroy_consent,
    RecordClass.mace_minutes: destroy_minutes,
    RecordClass.mace_agenda_item: destroy_agenda_item,
    RecordClass.mace_action: destroy_action,
    RecordClass.mace_outcome: destroy_outcome,
    RecordClass.mace_person: destroy_person,
    RecordClass.philomena_profile: destroy_profile,
}
