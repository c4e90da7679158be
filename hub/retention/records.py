"""Destroying one record of the classes that are neither a share nor an episode: consent records,
MACE minutes, agenda items, actions and outcomes, Philomena profiles. Each removes the record and
what is only part of it; what merely points at it forgets it. Called only by
hub.retention.destruction.destroy_record (the one destroy step, which refuses a held record).

MACE minutes are a meeting's own notes and attendance: destroying them leaves the meeting's date
and group (no one's data) while its agenda items, actions and outcomes, each dated by its own
child, may be kept longer; the meeting row goes with its minutes if nothing hangs on it then.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, exists, select, update

from hub import db
from hub.models.consent import ConsentRecipient, ConsentRecord
from hub.models.mace import (
    MaceAction,
    MaceActionUpdate,
    MaceAgencyUpdate,
    MaceAgendaItem,
    MaceAttendance,
    MaceMeeting,
    MaceOutcome,
    MaceProposalDecision,
)
from hub.models.missing import PhilomenaProfile, ProfileRelease
from hub.models.retention import RecordClass
from hub.models.sharing import ShareRecord


def destroy_consent(consent_id: int) -> None:
    s = db.session()
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
    RecordClass.philomena_profile: destroy_profile,
}
