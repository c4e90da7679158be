"""MACE meetings: scheduling, the meeting's page, attendance, holding it and its notes (the agenda
and its items are in agenda.py).

The group's chair (or co-chair) runs the meeting; any current named member reads it and adds
their own agency's update. Every function loads through hub.permissions.load_mace_object (an
audited 404 for anyone else), checks its input (hub.errors.Invalid, nothing stored), and writes
its audit event in the same unit of work as the change. Pages read a fixed number of SQL
statements whatever the size of the agenda.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.forms import london_to_utc
from hub.mace.operations import proposals as rules
from hub.mace.service import SHORT_MAX, check_text, current_members, subject_names
from hub.models.auth import Organisation, User
from hub.models.mace import (
    Attendance,
    MaceAgencyUpdate,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceMeeting,
    MaceMember,
    MeetingStatus,
)
from hub.permissions import is_chairing, load_mace_object
from hub.retention import scheduling as retention

#: How far ahead (and back, to record a meeting already held) a meeting may be scheduled.
SCHEDULE_WINDOW = timedelta(days=366)


def meeting_for(actor: User, meeting_id: int, *, chair: bool = False, action: str = "read"
                ) -> tuple[MaceMeeting, MaceMember]:
    """The meeting and the actor's current membership of its group, or an audited 404."""
    return load_mace_object(actor, MaceMeeting, meeting_id, chair=chair, action=action)


def item_for(actor: User, item_id: int, *, chair: bool = False, action: str = "read"
             ) -> tuple[MaceAgendaItem, MaceMember]:
    return load_mace_object(actor, MaceAgendaItem, item_id, chair=chair, action=action)


def read_event(actor: User, object_type: str, object_id: int, child_ids: list[int], basis: str = "mace-member",
          **detail) -> None:
    """One read event per page: the child's id when there is one child, else the list."""
    child_id = child_ids[0] if len(child_ids) == 1 else None
    if len(child_ids) > 1:
        detail["children"] = sorted(child_ids)
    with unit_of_work():
        audit.record("read", actor=actor, object_type=object_type, object_id=object_id, child_id=child_id,
                     basis=basis, detail=detail or None)


# --- scheduling ------------------------------------------------------------------------------------------

@dataclass
class MeetingDetails:
    day: date | None
    time: str | None
    venue: str | None


def schedule(actor: User, group_id: int, details: MeetingDetails) -> MaceMeeting:
    """The chair schedules a meeting of the group (London date and time, and a venue)."""
    group, _ = load_mace_object(actor, MaceGroup, group_id, chair=True, action="create")
    errors: dict[str, str] = {}
    venue = check_text(errors, "venue", details.venue, "the venue", required=False, limit=SHORT_MAX)
    when = london_to_utc(details.day, details.time)
    if when is None:
        errors["day"] = "Enter the date of the meeting"
    elif abs(when - utcnow()) > SCHEDULE_WINDOW:
        errors["day"] = "The meeting date must be within a year of today"
    if not details.time:
        errors["time"] = "Enter the time the meeting starts"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        meeting = MaceMeeting(group_id=group.id, scheduled_for=when, venue=venue, created_by_user_id=actor.id)
        s.add(meeting)
        s.flush()
        retention.schedule_meeting(meeting)
        audit.record("create", actor=actor, object_type="mace-meeting", object_id=meeting.id,
                     detail={"group": group.id, "scheduled_for": when.isoformat()})
    return meeting


def new_meeting_page(actor: User, group_id: int) -> MaceGroup:
    group, _ = load_mace_object(actor, MaceGroup, group_id, chair=True)
    read_event(actor, "mace-group", group.id, [], page="new-meeting")
    return group


# --- the meeting page ---------------------------------------------------------------------------------------

@dataclass
class ItemView:
    item: MaceAgendaItem
    name: str
    updates: list[tuple[MaceAgencyUpdate, str]] = field(default_factory=list)
    #: The group's current view of a child (risk level and review due), when the item is a child.
    held: MaceAgendaChild | None = None


@dataclass
class MeetingPage:
    meeting: MaceMeeting
    membership: MaceMember
    items: list[ItemView]
    #: Each current member (or one recorded at the meeting) with their attendance, if recorded.
    attendance: list[tuple[MaceMember, Attendance | None]]
    #: The group's next meeting after this one, once it is scheduled (the notes' agreed date is
    #: only a plan until then).
    next_meeting: MaceMeeting | None = None

    @property
    def is_chair(self) -> bool:
        return is_chairing(self.membership)

    @property
    def child_ids(self) -> list[int]:
        return [v.item.child_id for v in self.items if v.item.child_id is not None]


def item_views(meeting_id: int) -> list[ItemView]:
    """The agenda in order with the subjects' names and the agencies' updates (five statements)."""
    s = db.session()
    items = list(s.scalars(select(MaceAgendaItem).where(MaceAgendaItem.meeting_id == meeting_id)
                           .order_by(MaceAgendaItem.position, MaceAgendaItem.id)))
    names = subject_names(items)
    updates: dict[int, list] = defaultdict(list)
    if items:
        for update, org_name in s.execute(
                select(MaceAgencyUpdate, Organisation.name).join(Organisation, Organisation.id ==
                                                                 MaceAgencyUpdate.organisation_id)
                .where(MaceAgencyUpdate.item_id.in_([i.id for i in items])).order_by(MaceAgencyUpdate.id)):
            updates[update.item_id].append((update, org_name))
    return [ItemView(i, names[i.id], updates[i.id]) for i in items]


def _attendance(meeting: MaceMeeting) -> list[tuple[MaceMember, Attendance | None]]:
    s = db.session()
    marks = {a.user_id: a.attendance for a in s.scalars(
        select(MaceAttendance).where(MaceAttendance.meeting_id == meeting.id))}
    day = rules.meeting_day(meeting)
    members = [m for m in s.scalars(select(MaceMember).where(MaceMember.group_id == meeting.group_id)
                                    .order_by(MaceMember.id))
               if m.current_on(day) or m.current_on(date.today()) or m.user_id in marks]
    seen: set[int] = set()
    found = []
    for m in members:
        if m.user_id not in seen:
            seen.add(m.user_id)
            found.append((m, marks.get(m.user_id)))
    return found


def _next_meeting(meeting: MaceMeeting) -> MaceMeeting | None:
    """The group's first meeting scheduled after this one (one statement)."""
    return db.session().scalar(select(MaceMeeting).where(
        MaceMeeting.group_id == meeting.group_id, MaceMeeting.scheduled_for > meeting.scheduled_for)
        .order_by(MaceMeeting.scheduled_for, MaceMeeting.id).limit(1))


def meeting_page(actor: User, meeting_id: int) -> MeetingPage:
    """A meeting for a current member: agenda, updates, risk levels, attendance (one read event)."""
    meeting, member = meeting_for(actor, meeting_id)
    items = item_views(meeting.id)
    child_ids = [v.item.child_id for v in items if v.item.child_id is not None]
    if child_ids:
        held = {h.child_id: h for h in db.session().scalars(select(MaceAgendaChild).where(
            MaceAgendaChild.group_id == meeting.group_id, MaceAgendaChild.child_id.in_(child_ids)))}
        for view in items:
            view.held = held.get(view.item.child_id)
    page = MeetingPage(meeting, member, items, _attendance(meeting), _next_meeting(meeting))
    read_event(actor, "mace-meeting", meeting.id, child_ids, items=[v.item.id for v in items])
    return page


# --- attendance, held, notes --------------------------------------------------------------------------------

def attendance_page(actor: User, meeting_id: int) -> tuple[MaceMeeting, list[tuple[MaceMember, Attendance | None]]]:
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    rows = _attendance(meeting)
    read_event(actor, "mace-attendance", meeting.id, [], users=[m.user_id for m, _ in rows])
    return meeting, rows


def record_attendance(actor: User, meeting_id: int, marks: dict[int, Attendance | None]) -> list[MaceAttendance]:
    """The chair records each current member as present, sending apologies or absent."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    if meeting.status is MeetingStatus.held:
        raise Invalid("Attendance cannot change once the meeting is recorded as held")
    members = {m.user_id: m for m in current_members(meeting.group_id, rules.meeting_day(meeting))}
    members |= {m.user_id: m for m in current_members(meeting.group_id) if m.user_id not in members}
    errors = {f"member_{uid}": "Choose present, apologies or absent" for uid in members if marks.get(uid) is None}
    if set(marks) - set(members):
        errors[""] = "Attendance can only be recorded for the group's current members"
    if errors:
        raise Invalid(errors)
    s = db.session()
    with unit_of_work():
        existing = {a.user_id: a for a in s.scalars(select(MaceAttendance).where(
            MaceAttendance.meeting_id == meeting.id))}
        rows = []
        for uid, mark in marks.items():
            row = existing.get(uid) or MaceAttendance(meeting_id=meeting.id, user_id=uid,
                                                      organisation_id=members[uid].organisation_id)
            row.attendance = mark
            s.add(row)
            rows.append(row)
        audit.record("update", actor=actor, object_type="mace-attendance", object_id=meeting.id,
                     detail={str(uid): mark.value for uid, mark in sorted(marks.items())})
    return rows


def record_held(actor: User, meeting_id: int) -> MaceMeeting:
    """The chair records the meeting as held: outcome deadlines count from now."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    s = db.session()
    if meeting.status is MeetingStatus.held:
        raise Invalid("The meeting is already recorded as held")
    if rules.meeting_day(meeting) > date.today():
        raise Invalid("The meeting cannot be recorded as held before the day it is scheduled for")
    present = s.scalar(select(func.count()).select_from(MaceAttendance).where(
        MaceAttendance.meeting_id == meeting.id, MaceAttendance.attendance == Attendance.present))
    if not present:
        raise Invalid("Record who was present before recording the meeting as held")
    with unit_of_work():
        meeting.status = MeetingStatus.held
        meeting.held_at = utcnow()
        audit.record("update", actor=actor, object_type="mace-meeting", object_id=meeting.id,
                     detail={"status": "held"})
    return meeting


@dataclass
class NotesDraft:
    notes: str | None
    next_meeting_on: date | None


def notes_page(actor: User, meeting_id: int) -> MaceMeeting:
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    read_event(actor, "mace-meeting-notes", meeting.id, [])
    return meeting


def record_notes(actor: User, meeting_id: int, draft: NotesDraft) -> MaceMeeting:
    """The chair records the meeting's notes and decisions as a whole, and the next meeting date."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    errors: dict[str, str] = {}
    notes = check_text(errors, "notes", draft.notes, "the meeting's notes", required=False)
    day = rules.meeting_day(meeting)
    if draft.next_meeting_on is not None and not day < draft.next_meeting_on <= day + SCHEDULE_WINDOW:
        errors["next_meeting_on"] = "The next meeting must be after this one and within a year of it"
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        meeting.notes = notes
        meeting.next_meeting_on = draft.next_meeting_on
        audit.record("update", actor=actor, object_type="mace-meeting", object_id=meeting.id,
                     detail={"fields": ["notes", "next_meeting_on"]})
    return meeting
