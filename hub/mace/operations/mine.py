"""Every member's own view of MACE: the meetings of their groups, and the counts the home page shows
(my open and overdue actions, the outcomes waiting for my agency, my groups' meetings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.mace.operations.actions import mine_clause
from hub.mace.operations.outcomes import waiting_count, waiting_count_query
from hub.models.auth import User
from hub.models.mace import MaceAction, MaceMeeting
from hub.permissions import member_group_ids

#: "Recent" meetings on the member's list: held or scheduled in this many days before today.
RECENT = timedelta(days=90)


@dataclass
class MyMeetings:
    upcoming: list[MaceMeeting]
    recent: list[MaceMeeting]


def _meetings(actor: User) -> MyMeetings:
    now = utcnow()
    meetings = list(db.session().scalars(select(MaceMeeting).where(
        MaceMeeting.group_id.in_(member_group_ids(actor)), MaceMeeting.scheduled_for >= now - RECENT)
        .order_by(MaceMeeting.scheduled_for)))
    upcoming = [m for m in meetings if m.held_at is None and m.scheduled_for >= now - timedelta(days=1)]
    recent = [m for m in reversed(meetings) if m not in upcoming]
    return MyMeetings(upcoming, recent)


def my_meetings(actor: User) -> MyMeetings:
    """"Meetings of my groups": upcoming ones, soonest first, and recent ones, newest first."""
    result = _meetings(actor)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-meetings", basis="mace-member",
                     detail={"mine": True, "meetings": [m.id for m in result.upcoming + result.recent]})
    return result


@dataclass
class HomeCounts:
    open_actions: int
    overdue_actions: int
    outcomes_waiting: int
    upcoming_meetings: int


def menu_waiting(actor: User) -> int:
    """The menu's MACE count on every page: my open actions and the outcomes my agency owes, in
    one statement (the home page's counts also load the meetings; the menu needs neither)."""
    actions = select(func.count()).select_from(MaceAction).where(mine_clause(actor)).scalar_subquery()
    return db.session().scalar(select(actions + waiting_count_query(actor))) or 0


def home_counts(actor: User, today: date | None = None) -> HomeCounts:
    """Counts only (no names): the home page's MACE section."""
    today = today or date.today()
    s = db.session()
    open_count, overdue = s.execute(select(func.count(), func.count().filter(MaceAction.due_on < today))
                                    .select_from(MaceAction).where(mine_clause(actor))).one()
    return HomeCounts(open_count, overdue, waiting_count(actor), len(_meetings(actor).upcoming))
