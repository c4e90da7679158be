"""MACE meetings: scheduling, the agenda (by hand and from proposals), attendance, minutes,
decisions, each agency's update, the risk level per child and the meeting's notes.

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
from sqlalchemy.orm import raiseload

from hub import db
from hub.audit import service as audit
from hub.auth.models import Organisation, User
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.forms import london_to_utc
from hub.mace import proposals as rules
from hub.mace.models import (
    Attendance, MaceAgencyUpdate, MaceAgendaChild, MaceAgendaItem, MaceAttendance, MaceGroup, MaceLocation,
    MaceMeeting, MaceMember, MacePerson, MaceProposalDecision, MeetingStatus, ProposalDecision, SubjectKind,
)
from hub.mace.service import SHORT_MAX, check_text, current_members, subject_names
from hub.people.models import Child
from hub.permissions import is_chairing, load_mace_object, mace_agenda_child_access

BY_CHAIR = "Added by the chair"
#: How far ahead (and back, to record a meeting already held) a meeting may be scheduled.
SCHEDULE_WINDOW = timedelta(days=366)


def meeting_for(actor: User, meeting_id: int, *, chair: bool = False, action: str = "read"
                ) -> tuple[MaceMeeting, MaceMember]:
    """The meeting and the actor's current membership of its group, or an audited 404."""
    return load_mace_object(actor, MaceMeeting, meeting_id, chair=chair, action=action)


def item_for(actor: User, item_id: int, *, chair: bool = False, action: str = "read"
             ) -> tuple[MaceAgendaItem, MaceMember]:
    return load_mace_object(actor, MaceAgendaItem, item_id, chair=chair, action=action)


def _read(actor: User, object_type: str, object_id: int, child_ids: list[int], basis: str = "mace-member",
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
        audit.record("create", actor=actor, object_type="mace-meeting", object_id=meeting.id,
                     detail={"group": group.id, "scheduled_for": when.isoformat()})
    return meeting


def new_meeting_page(actor: User, group_id: int) -> MaceGroup:
    group, _ = load_mace_object(actor, MaceGroup, group_id, chair=True)
    _read(actor, "mace-group", group.id, [], page="new-meeting")
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


def _items(meeting_id: int) -> list[ItemView]:
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
    items = _items(meeting.id)
    child_ids = [v.item.child_id for v in items if v.item.child_id is not None]
    if child_ids:
        held = {h.child_id: h for h in db.session().scalars(select(MaceAgendaChild).where(
            MaceAgendaChild.group_id == meeting.group_id, MaceAgendaChild.child_id.in_(child_ids)))}
        for view in items:
            view.held = held.get(view.item.child_id)
    page = MeetingPage(meeting, member, items, _attendance(meeting), _next_meeting(meeting))
    _read(actor, "mace-meeting", meeting.id, child_ids, items=[v.item.id for v in items])
    return page


# --- attendance, held, notes --------------------------------------------------------------------------------

def attendance_page(actor: User, meeting_id: int) -> tuple[MaceMeeting, list[tuple[MaceMember, Attendance | None]]]:
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    rows = _attendance(meeting)
    _read(actor, "mace-attendance", meeting.id, [], users=[m.user_id for m, _ in rows])
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
    _read(actor, "mace-meeting-notes", meeting.id, [])
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


# --- the agenda ------------------------------------------------------------------------------------------

@dataclass
class ItemDraft:
    kind: SubjectKind | None
    subject_id: int | None


@dataclass
class AgendaChoices:
    meeting: MaceMeeting
    children: list[Child]
    locations: list[MaceLocation]
    persons: list[MacePerson]


def agenda_choices(actor: User, meeting_id: int) -> AgendaChoices:
    """What the chair may add by hand: the group's children, locations and persons (a child not
    yet held is added by the hub record number of a child the chair may see)."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    s = db.session()
    gid = meeting.group_id
    children = sorted(s.scalars(select(Child).join(MaceAgendaChild, MaceAgendaChild.child_id == Child.id).where(
        MaceAgendaChild.group_id == gid, MaceAgendaChild.removed_at.is_(None)).options(raiseload("*"))),
        key=lambda c: c.full_name)
    locations = sorted(s.scalars(select(MaceLocation).where(MaceLocation.group_id == gid)), key=lambda x: x.name)
    persons = sorted(s.scalars(select(MacePerson).where(MacePerson.group_id == gid,
                                                        MacePerson.removed_at.is_(None))), key=lambda x: x.name)
    _read(actor, "mace-agenda-choices", meeting.id, [c.id for c in children])
    return AgendaChoices(meeting, children, locations, persons)


def _subject_errors(actor: User, meeting: MaceMeeting, draft: ItemDraft) -> tuple[dict[str, str], str | None]:
    """Whether the subject may go on the agenda; the access basis for a child."""
    s = db.session()
    if draft.kind is None or draft.subject_id is None:
        return {"subject": "Choose a child, location or person"}, None
    if draft.kind is SubjectKind.child:
        access = mace_agenda_child_access(actor, meeting.group_id, draft.subject_id)
        if not access:
            return {"subject": "There is no child with that hub record number that you may bring to the group"}, None
        return {}, access.basis
    model = MaceLocation if draft.kind is SubjectKind.location else MacePerson
    row = s.get(model, draft.subject_id)
    if row is None or row.group_id != meeting.group_id or getattr(row, "removed_at", None) is not None:
        return {"subject": f"Choose a {draft.kind.label.lower()} of this group"}, None
    return {}, None


def _add_item(actor: User, meeting: MaceMeeting, kind: SubjectKind, subject_id: int, reason: str,
              position: int) -> MaceAgendaItem:
    """Inside a unit of work: the item, and for a child the group's hold on the child."""
    s = db.session()
    item = MaceAgendaItem(meeting_id=meeting.id, position=position, reason=reason[:200], added_by_user_id=actor.id,
                          **{f"{kind.value}_id": subject_id})
    s.add(item)
    if kind is SubjectKind.child:
        held = s.scalar(select(MaceAgendaChild).where(MaceAgendaChild.group_id == meeting.group_id,
                                                      MaceAgendaChild.child_id == subject_id))
        if held is None:
            s.add(MaceAgendaChild(group_id=meeting.group_id, child_id=subject_id))
        elif held.removed_at is not None:
            held.removed_at = None
    s.flush()
    return item


def _next_position(meeting_id: int) -> int:
    top = db.session().scalar(select(func.max(MaceAgendaItem.position)).where(MaceAgendaItem.meeting_id == meeting_id))
    return (top or 0) + 1


def add_item(actor: User, meeting_id: int, draft: ItemDraft) -> MaceAgendaItem:
    """The chair puts a child, a location or a person on the agenda by hand."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    errors, basis = _subject_errors(actor, meeting, draft)
    if not errors and db.session().scalar(select(MaceAgendaItem.id).where(
            MaceAgendaItem.meeting_id == meeting.id,
            getattr(MaceAgendaItem, f"{draft.kind.value}_id") == draft.subject_id)):
        errors = {"subject": "That subject is already on the agenda"}
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        item = _add_item(actor, meeting, draft.kind, draft.subject_id, BY_CHAIR, _next_position(meeting.id))
        audit.record("create", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis=basis,
                     detail={"meeting": meeting.id, "kind": draft.kind.value, "subject": draft.subject_id})
    return item


# --- proposals -------------------------------------------------------------------------------------------

def proposals_page(actor: User, meeting_id: int) -> tuple[MaceMeeting, rules.Proposals]:
    """The chair's agenda proposals (children not yet held by the group among them: basis
    "mace-proposal")."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    found = rules.compute(meeting, actor)
    _read(actor, "mace-proposals", meeting.id, found.child_ids, basis="mace-proposal",
          proposals=len(found.proposals))
    return meeting, found


def decide(actor: User, meeting_id: int, keys: list[str], decision: ProposalDecision) -> list[MaceAgendaItem]:
    """The chair accepts (onto the agenda) or dismisses several proposals at once; each answer is
    kept against the proposal's key, so it is not proposed again until its evidence changes."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    if not keys:
        raise Invalid({"keys": "Choose at least one proposal"})
    open_ = {p.key: p for p in rules.compute(meeting, actor).proposals}
    if any(k not in open_ for k in keys):
        raise Invalid({"keys": "A proposal you chose is no longer open: the list has been refreshed"})
    chosen = [open_[k] for k in dict.fromkeys(keys)]
    items: list[MaceAgendaItem] = []
    with unit_of_work() as s:
        position = _next_position(meeting.id)
        placed: set[tuple[str, int]] = set()
        for p in chosen:
            s.add(MaceProposalDecision(group_id=meeting.group_id, meeting_id=meeting.id, proposal_key=p.key,
                                       decision=decision, decided_by_user_id=actor.id))
            if decision is ProposalDecision.accepted and p.kind != "group" and (p.kind, p.subject_id) not in placed:
                placed.add((p.kind, p.subject_id))
                items.append(_add_item(actor, meeting, SubjectKind(p.kind), p.subject_id, p.reason, position))
                position += 1
        audit.record("update", actor=actor, object_type="mace-proposals", object_id=meeting.id,
                     basis="mace-proposal", detail={"decision": decision.value, "proposals": [p.key for p in chosen],
                                                    "items": [i.id for i in items]})
    return items


# --- an agenda item: minutes, decisions, risk, agency updates ----------------------------------------------

@dataclass
class ItemPage:
    view: ItemView
    meeting: MaceMeeting
    membership: MaceMember
    default_review_on: date

    @property
    def is_chair(self) -> bool:
        return is_chairing(self.membership)


def item_page(actor: User, item_id: int) -> ItemPage:
    item, member = item_for(actor, item_id)
    meeting = db.session().get(MaceMeeting, item.meeting_id)
    view = next(v for v in _items(meeting.id) if v.item.id == item.id)
    if item.child_id is not None:
        view.held = db.session().scalar(select(MaceAgendaChild).where(
            MaceAgendaChild.group_id == meeting.group_id, MaceAgendaChild.child_id == item.child_id))
    page = ItemPage(view, meeting, member, date.today() + timedelta(days=meeting.group.review_interval_days))
    _read(actor, "mace-agenda-item", item.id, [item.child_id] if item.child_id else [],
          meeting=meeting.id, kind=item.subject_kind.value, subject=item.subject_id)
    return page


@dataclass
class MinutesDraft:
    minutes: str | None
    decisions: str | None


def record_minutes(actor: User, item_id: int, draft: MinutesDraft) -> MaceAgendaItem:
    """The chair records the item's minutes and decisions."""
    item, _ = item_for(actor, item_id, chair=True, action="update")
    errors: dict[str, str] = {}
    minutes = check_text(errors, "minutes", draft.minutes, "the minutes", required=False)
    decisions = check_text(errors, "decisions", draft.decisions, "the decisions", required=False)
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        item.minutes, item.decisions = minutes, decisions
        audit.record("update", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis="mace-member", detail={"fields": ["minutes", "decisions"]})
    return item


def add_update(actor: User, item_id: int, text: str | None) -> MaceAgencyUpdate:
    """Any current member adds their agency's update on the item."""
    item, member = item_for(actor, item_id, action="create")
    errors: dict[str, str] = {}
    text = check_text(errors, "text", text, "your agency's update")
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        update = MaceAgencyUpdate(item_id=item.id, organisation_id=member.organisation_id, user_id=actor.id, text=text)
        s.add(update)
        s.flush()
        audit.record("create", actor=actor, object_type="mace-agency-update", object_id=update.id,
                     child_id=item.child_id, basis="mace-member", detail={"item": item.id})
    return update


@dataclass
class RiskDraft:
    level: str | None
    review_on: date | None


def set_risk(actor: User, item_id: int, draft: RiskDraft) -> MaceAgendaItem:
    """The chair sets a child's risk level on the group's own scale, with its review date (by
    default the group's interval from today; never later, and in the future). The group's
    current view of the child follows."""
    item, _ = item_for(actor, item_id, chair=True, action="update")
    meeting = db.session().get(MaceMeeting, item.meeting_id)
    group = meeting.group
    latest = date.today() + timedelta(days=group.review_interval_days)
    review_on = draft.review_on or latest
    errors: dict[str, str] = {}
    if item.child_id is None:
        errors[""] = "A risk level is set for a child only"
    if draft.level not in group.risk_levels:
        errors["level"] = f"Choose a risk level from the group's scale: {', '.join(group.risk_levels)}"
    if review_on <= date.today():
        errors["review_on"] = "The review date must be in the future"
    elif review_on > latest:
        errors["review_on"] = (f"The review date must be no later than {latest:%-d %B %Y} (the group reviews "
                               f"risk levels at least every {group.review_interval_days} days)")
    if errors:
        raise Invalid(errors)
    s = db.session()
    with unit_of_work():
        item.risk_level, item.risk_review_on = draft.level, review_on
        held = s.scalar(select(MaceAgendaChild).where(MaceAgendaChild.group_id == group.id,
                                                      MaceAgendaChild.child_id == item.child_id))
        if held is None:
            held = MaceAgendaChild(group_id=group.id, child_id=item.child_id)
            s.add(held)
        held.risk_level, held.risk_set_at, held.risk_review_due = draft.level, utcnow(), review_on
        audit.record("update", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis="mace-member",
                     detail={"risk_level": draft.level, "review_on": review_on.isoformat()})
    return item
