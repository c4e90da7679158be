"""Each agency's outcome of a MACE meeting, its confirmation, and the reminders when it is late.

After a meeting is held, every agency with a member recorded present owes an outcome for every
child on the meeting's agenda: what it did, confirmed to be on its own system with that system's
name and the record's reference (health: the child's health record; police: the occurrence; social
care: the case; a school: its safeguarding record). Only a current member representing the agency
records its outcome; other members see whether it was confirmed, never its text.

Reminders (`remind_due`, run by the notification worker each cycle): an agency that has not
confirmed everything by the end of the fifth working day after the meeting day gets one e-mail
through the outbox, to its current members of the group, on the next working day; after ten working
days the chair and co-chair are told once. Working days are weekdays that are not England and
Wales bank holidays. Each stamp is claimed by a conditional UPDATE (`... WHERE reminded_at IS NULL`),
so repeated or concurrent runs send once; the e-mails hold a link and no personal data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased

from hub import db
from hub.audit import service as audit
from hub.db import insert_ignoring_duplicates, unit_of_work, utcnow
from hub.errors import Invalid, NotFound
from hub.mace.service import SHORT_MAX, check_text
from hub.models.auth import Organisation, User
from hub.models.mace import Attendance, MaceAgendaItem, MaceAttendance, MaceMeeting, MaceMember, MaceOutcome
from hub.models.people import Child
from hub.notifications import calendar, outbox
from hub.notifications.service import base_url
from hub.permissions import is_chairing, load_mace_object, mace_agency_sees, may_record_mace_outcome
from hub.retention import scheduling as retention

#: Working days an agency has to confirm before it is reminded, and before the chair is told.
REMIND_AFTER = 5
ESCALATE_AFTER = 10
#: Meetings held longer ago than this are no longer chased (bounds each worker cycle's work).
CHASE_FOR = timedelta(days=60)

REMINDER_SUBJECT = "MACE meeting outcomes to confirm"
REMINDER_BODY = ("Your agency has not yet confirmed its outcomes from a MACE meeting on its own system.\n\n"
                 "Sign in to the safeguarding hub to record them:\n{link}\n")
ESCALATION_SUBJECT = "MACE meeting outcomes not confirmed after 10 working days"
ESCALATION_BODY = ("An agency has not confirmed its outcomes from a MACE meeting you chair, 10 working days after "
                   "the meeting.\n\nSign in to the safeguarding hub to see which:\n{link}\n")


# --- working days -------------------------------------------------------------------------------------

def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not calendar.is_bank_holiday(day)


def add_working_days(day: date, n: int) -> date:
    """The date `n` working days after `day`."""
    while n > 0:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day


def meeting_day(meeting: MaceMeeting) -> date:
    return meeting.held_at.astimezone(calendar.LONDON).date()


def reminder_due_on(meeting: MaceMeeting) -> date:
    """The working day after the agency's fifth working day to confirm."""
    return add_working_days(meeting_day(meeting), REMIND_AFTER + 1)


def escalation_due_on(meeting: MaceMeeting) -> date:
    return add_working_days(meeting_day(meeting), ESCALATE_AFTER + 1)


# --- who owes what --------------------------------------------------------------------------------------

def expected_outcomes(meeting_ids: Iterable[int],
                      organisation_id: int | None = None) -> dict[tuple[int, int], list[int]]:
    """(meeting, agency) -> the children it owes an outcome for: each agency with a member recorded
    present x each child on the agenda. Two queries, whatever the number of meetings."""
    ids = list(meeting_ids)
    if not ids:
        return {}
    s = db.session()
    present = select(MaceAttendance.meeting_id, MaceAttendance.organisation_id).where(
        MaceAttendance.meeting_id.in_(ids), MaceAttendance.attendance == Attendance.present).distinct()
    if organisation_id is not None:
        present = present.where(MaceAttendance.organisation_id == organisation_id)
    children: dict[int, list[int]] = defaultdict(list)
    for meeting_id, child_id in s.execute(select(MaceAgendaItem.meeting_id, MaceAgendaItem.child_id).where(
            MaceAgendaItem.meeting_id.in_(ids), MaceAgendaItem.child_id.is_not(None))
            .order_by(MaceAgendaItem.position, MaceAgendaItem.id)):
        if child_id not in children[meeting_id]:
            children[meeting_id].append(child_id)
    return {(m, o): children[m] for m, o in s.execute(present.order_by(MaceAttendance.organisation_id))
            if children[m]}


def _outcome_rows(meeting_ids: list[int],
                  organisation_id: int | None = None) -> dict[tuple[int, int, int], MaceOutcome]:
    if not meeting_ids:
        return {}
    query = select(MaceOutcome).where(MaceOutcome.meeting_id.in_(meeting_ids))
    if organisation_id is not None:
        query = query.where(MaceOutcome.organisation_id == organisation_id)
    return {(o.meeting_id, o.organisation_id, o.child_id): o for o in db.session().scalars(query)}


# --- the meeting's outcomes page ---------------------------------------------------------------------------

@dataclass
class OutcomeLine:
    child: Child
    outcome: MaceOutcome | None
    #: Whether the viewer may read the outcome's text (their own agency's).
    readable: bool

    @property
    def confirmed(self) -> bool:
        return self.outcome is not None and self.outcome.confirmed_at is not None


@dataclass
class AgencyOutcomes:
    organisation: Organisation
    lines: list[OutcomeLine]
    #: The viewer represents this agency and may record its outcomes.
    mine: bool

    @property
    def confirmed(self) -> bool:
        return all(line.confirmed for line in self.lines)

    @property
    def reminded_at(self) -> datetime | None:
        return next((line.outcome.reminded_at for line in self.lines if line.outcome and line.outcome.reminded_at),
                    None)


@dataclass
class OutcomesPage:
    meeting: MaceMeeting
    member: MaceMember
    agencies: list[AgencyOutcomes] = field(default_factory=list)


def meeting_outcomes(actor: User, meeting_id: int) -> OutcomesPage:
    """Per agency and child, whether the outcome is confirmed; the text of the viewer's own agency's
    outcomes only. A fixed number of queries; one audited read."""
    meeting, member = load_mace_object(actor, MaceMeeting, meeting_id)
    page = OutcomesPage(meeting, member)
    expected = expected_outcomes([meeting.id]) if meeting.held_at else {}
    s = db.session()
    org_ids = sorted({o for _, o in expected})
    child_ids = sorted({c for children in expected.values() for c in children})
    orgs = {o.id: o for o in s.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))} if org_ids else {}
    children = {c.id: c for c in s.scalars(select(Child).where(Child.id.in_(child_ids)))} if child_ids else {}
    rows = _outcome_rows([meeting.id])
    for (_, org_id), kids in sorted(expected.items(), key=lambda kv: orgs[kv[0][1]].name):
        sees = mace_agency_sees(member, org_id)
        page.agencies.append(AgencyOutcomes(orgs[org_id], [
            OutcomeLine(children[c], rows.get((meeting.id, org_id, c)), sees) for c in kids],
            may_record_mace_outcome(member, org_id)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-outcomes", object_id=meeting.id, basis="mace-member",
                     detail={"meeting": meeting.id, "organisations": org_ids, "children": child_ids})
    return page


@dataclass
class OutcomeDraft:
    organisation_id: int | None
    child_id: int | None
    outcome: str | None
    system_name: str | None
    system_reference: str | None


def record_outcome(actor: User, meeting_id: int, draft: OutcomeDraft) -> MaceOutcome:
    """A member of an attending agency records its outcome for a child discussed, confirmed to be
    on its own system (system name and record reference both required). Another agency's outcome
    is refused (audited, 404)."""
    meeting, member = load_mace_object(actor, MaceMeeting, meeting_id, action="update")
    if not draft.organisation_id or not may_record_mace_outcome(member, draft.organisation_id):
        audit.record_refusal(actor, "mace-outcome", meeting.id, draft.child_id, action="update")
        raise NotFound("MACE record not found")
    if meeting.held_at is None:
        raise Invalid("Outcomes are recorded once the meeting has been held")
    owed = expected_outcomes([meeting.id], draft.organisation_id).get((meeting.id, draft.organisation_id), [])
    errors: dict[str, str] = {}
    if draft.child_id not in owed:
        errors["child_id"] = "Choose a child discussed at the meeting (your agency must have been recorded present)"
    outcome = check_text(errors, "outcome", draft.outcome, "your agency's outcome")
    system_name = check_text(errors, "system_name", draft.system_name, "the name of your agency's system",
                             limit=100)
    reference = check_text(errors, "system_reference", draft.system_reference, "the record's reference on that system",
                           limit=SHORT_MAX)
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        row = s.scalar(select(MaceOutcome).where(MaceOutcome.meeting_id == meeting.id,
                                                 MaceOutcome.organisation_id == draft.organisation_id,
                                                 MaceOutcome.child_id == draft.child_id))
        action = "update" if row is not None else "create"
        if row is None:
            row = MaceOutcome(meeting_id=meeting.id, organisation_id=draft.organisation_id, child_id=draft.child_id)
            s.add(row)
        row.outcome, row.system_name, row.system_reference = outcome, system_name, reference
        row.confirmed_at, row.confirmed_by_user_id = utcnow(), actor.id
        s.flush()
        retention.schedule_outcome(row)
        audit.record(action, actor=actor, object_type="mace-outcome", object_id=row.id, child_id=row.child_id,
                     basis="mace-member", detail={"meeting": meeting.id, "organisation": draft.organisation_id,
                                                  "confirmed": True})
    return row


# --- outcomes waiting for my agency ------------------------------------------------------------------------

@dataclass
class Waiting:
    meeting: MaceMeeting
    child: Child
    outcome: MaceOutcome | None


def _owed(actor: User):
    """(meeting, agency, child) owed and not confirmed by the actor's agency, for held meetings of
    the actor's current groups: one SELECT, whatever the history (the count in the menu and on the
    home page runs on every page, so nothing here is loaded row by row or decrypted)."""
    today = date.today()
    confirmed = select(MaceOutcome.id).where(
        MaceOutcome.meeting_id == MaceAgendaItem.meeting_id,
        MaceOutcome.organisation_id == MaceAttendance.organisation_id,
        MaceOutcome.child_id == MaceAgendaItem.child_id, MaceOutcome.confirmed_at.is_not(None)).exists()
    return (select(MaceAgendaItem.meeting_id, MaceAttendance.organisation_id, MaceAgendaItem.child_id).distinct()
            .join(MaceMeeting, MaceMeeting.id == MaceAgendaItem.meeting_id)
            .join(MaceAttendance, (MaceAttendance.meeting_id == MaceAgendaItem.meeting_id)
                  & (MaceAttendance.attendance == Attendance.present))
            .join(MaceMember, (MaceMember.group_id == MaceMeeting.group_id) & (MaceMember.user_id == actor.id)
                  & (MaceMember.organisation_id == MaceAttendance.organisation_id))
            .where(MaceMeeting.held_at.is_not(None), MaceAgendaItem.child_id.is_not(None),
                   MaceMember.start_date <= today, or_(MaceMember.end_date.is_(None), MaceMember.end_date > today),
                   ~confirmed))


def waiting_count(actor: User) -> int:
    """How many outcomes the actor's agency owes (the home page): one COUNT."""
    return db.session().scalar(select(waiting_count_query(actor))) or 0


def waiting_count_query(actor: User):
    """The COUNT of `waiting_count`, as a scalar subquery (the menu asks it beside another)."""
    return select(func.count()).select_from(_owed(actor).subquery()).scalar_subquery()


def waiting_for(actor: User) -> list[Waiting]:
    """The outcomes the actor's agency owes for held meetings of the actor's current groups (not
    audited: the callers audit). Four queries, whatever the history."""
    s = db.session()
    owed = list(s.execute(_owed(actor)))
    if not owed:
        return []
    meeting_ids, child_ids = {m for m, _o, _c in owed}, {c for _m, _o, c in owed}
    meetings = {m.id: m for m in s.scalars(select(MaceMeeting).where(MaceMeeting.id.in_(meeting_ids)))}
    children = {c.id: c for c in s.scalars(select(Child).where(Child.id.in_(child_ids)))}
    drafts = {(o.meeting_id, o.organisation_id, o.child_id): o for o in s.scalars(select(MaceOutcome).where(
        MaceOutcome.meeting_id.in_(meeting_ids), MaceOutcome.child_id.in_(child_ids),
        MaceOutcome.organisation_id.in_({o for _m, o, _c in owed})))}
    owed.sort(key=lambda row: (meetings[row[0]].held_at, row[2]))
    return [Waiting(meetings[m], children[c], drafts.get((m, o, c))) for m, o, c in owed]


def my_outcomes(actor: User) -> list[Waiting]:
    """"Outcomes waiting for my agency" (audited read)."""
    waiting = waiting_for(actor)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-outcomes", basis="mace-member",
                     detail={"mine": True, "meetings": sorted({w.meeting.id for w in waiting}),
                             "children": sorted({w.child.id for w in waiting})})
    return waiting


# --- reminders and escalation -----------------------------------------------------------------------------

def remind_due(now: datetime | None = None) -> int:
    """Remind each late agency once, and tell the chairs once after ten working days; never once the
    agency has confirmed. Safe to run every few seconds and from several workers at once. Returns
    the number of reminders and escalations sent."""
    now = now or utcnow()
    today = now.astimezone(calendar.LONDON).date()
    s = db.session()
    meetings = {m.id: m for m in s.scalars(select(MaceMeeting).where(
        MaceMeeting.held_at.is_not(None), MaceMeeting.held_at >= now - CHASE_FOR))
        if reminder_due_on(m) <= today}
    if not meetings:
        return 0
    rows = _outcome_rows(list(meetings))
    sent = 0
    for (meeting_id, org_id), kids in expected_outcomes(meetings).items():
        lines = [rows.get((meeting_id, org_id, c)) for c in kids]
        if all(line is not None and line.confirmed_at for line in lines):
            continue
        meeting = meetings[meeting_id]
        if not any(line is not None and line.reminded_at for line in lines):
            sent += _chase(meeting, org_id, kids, now, escalate=False)
        if escalation_due_on(meeting) <= today and not any(line is not None and line.escalated_at for line in lines):
            sent += _chase(meeting, org_id, kids, now, escalate=True)
    return sent


def _insert_ignoring_duplicates(s, rows: list[dict]) -> None:
    insert_ignoring_duplicates(s, MaceOutcome, rows, ["meeting_id", "organisation_id", "child_id"])


def _claim(s, meeting_id: int, org_id: int, column, now: datetime) -> bool:
    """Stamp the agency's rows for the meeting, if no row is stamped yet: True for the one run that
    did (the others see the stamp, or wait for its row locks and then see it)."""
    other = aliased(MaceOutcome)
    stamped = exists().where(other.meeting_id == meeting_id, other.organisation_id == org_id,
                             getattr(other, column.key).is_not(None))
    result = s.execute(update(MaceOutcome).where(
        MaceOutcome.meeting_id == meeting_id, MaceOutcome.organisation_id == org_id, column.is_(None), ~stamped)
        .values({column.key: now}).execution_options(synchronize_session=False))
    return result.rowcount > 0


def _chase(meeting: MaceMeeting, org_id: int, children: list[int], now: datetime, *, escalate: bool) -> int:
    """One claimed reminder (or escalation), its e-mails and its audit event, in one transaction."""
    column = MaceOutcome.escalated_at if escalate else MaceOutcome.reminded_at
    with unit_of_work() as s:
        _insert_ignoring_duplicates(s, [{"meeting_id": meeting.id, "organisation_id": org_id, "child_id": c,
                                         "created_at": now} for c in children])
        if not _claim(s, meeting.id, org_id, column, now):
            return 0
        today = now.astimezone(calendar.LONDON).date()
        members = [m for m in s.scalars(select(MaceMember).where(MaceMember.group_id == meeting.group_id))
                   if m.current_on(today) and m.user.active
                   and (is_chairing(m) if escalate else m.organisation_id == org_id)]
        link = f"{base_url()}/mace/meetings/{meeting.id}/outcomes"
        subject, body = (ESCALATION_SUBJECT, ESCALATION_BODY) if escalate else (REMINDER_SUBJECT, REMINDER_BODY)
        addresses = sorted({m.user.email for m in members})
        outbox.queue([outbox.Email(a, subject, body.format(link=link)) for a in addresses], now)
        audit.record("escalate" if escalate else "remind", object_type="mace-outcomes", object_id=meeting.id,
                     detail={"meeting": meeting.id, "organisation": org_id, "recipients": len(addresses)})
    return 1

