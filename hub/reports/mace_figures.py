"""The dashboard's MACE figures, for the groups in the viewer's scope (every group for the analyst,
the groups a chair chairs): one statement each. The authority filter keeps the groups covering
that authority's area; the child filters (age, looked after, school) do not apply to MACE figures."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select

from hub import db
from hub.models.mace import (
    DEFAULT_RISK_LEVELS,
    ActionKind,
    ActionStatus,
    Attendance,
    DisruptionKind,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceMeeting,
    MaceOutcome,
)
from hub.reports.query import Figure, ReportQuery, agreeing, counted, rate

OPEN_STATUSES = [ActionStatus.open, ActionStatus.in_progress]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _groups(q: ReportQuery) -> Select:
    groups = q.scope.mace_groups
    if q.filters.authority_id is not None:
        groups = select(MaceGroup.id).where(MaceGroup.id.in_(groups),
                                            MaceGroup.area_authority_id == q.filters.authority_id)
    return groups


def _period(q: ReportQuery) -> str:
    return f"{q.filters.date_from:%-d %B %Y} to {q.filters.date_to:%-d %B %Y}"


def children_by_risk(q: ReportQuery) -> Figure:
    a = MaceAgendaChild
    level = func.coalesce(a.risk_level, "Not set")
    rows = db.session().execute(
        select(level, func.count(func.distinct(a.child_id)))
        .where(a.group_id.in_(_groups(q)), a.added_at < q.end, or_(a.removed_at.is_(None), a.removed_at >= q.start))
        .group_by(level)).all()
    order = {name: i for i, name in enumerate(DEFAULT_RISK_LEVELS)}
    rows = sorted(([str(name), int(n)] for name, n in rows), key=lambda r: (order.get(r[0], len(order)), r[0]))
    total = sum(r[1] for r in rows)
    high = next((r[1] for r in rows if r[0] == DEFAULT_RISK_LEVELS[0]), 0)
    return Figure(
        key="mace-risk",
        title=f"{counted(total, 'child was', 'children were')} held on MACE agendas, {high} at the highest risk level",
        subtitle=f"Children held by MACE groups at any time {_period(q)}, by their current risk level",
        columns=["Risk level", "Children"], rows=rows, chart="bar",
        notes=["A child held by two groups at different levels counts once under each level."])


def actions(q: ReportQuery, today: date) -> Figure:
    x = MaceAction
    due_in_period = and_(x.due_on >= q.filters.date_from, x.due_on <= q.filters.date_to)
    cawn = and_(x.kind == ActionKind.disruption, x.disruption_kind == DisruptionKind.cawn,
                x.served_on >= q.filters.date_from, x.served_on <= q.filters.date_to)
    row = db.session().execute(select(
        _count_if(due_in_period),
        _count_if(and_(due_in_period, x.status.in_(OPEN_STATUSES), x.due_on < today)),
        _count_if(cawn),
        func.coalesce(func.sum(case((cawn, x.breaches), else_=0)), 0),
    ).where(x.group_id.in_(_groups(q)))).one()
    due, overdue, served, breaches = (int(v or 0) for v in row)
    return Figure(
        key="mace-actions",
        title=f"{overdue} of {counted(due, 'MACE action', 'MACE actions')} due in the period "
              f"{agreeing(overdue, 'is', 'are')} overdue; "
              f"{counted(served, 'warning notice', 'warning notices')} served",
        subtitle=f"MACE actions due {_period(q)}, and Child Abduction Warning Notices served in it with their "
                 "breaches",
        columns=["MACE actions and disruption", "Number"],
        rows=[["Actions due", due], ["Overdue (not done, past the due date)", overdue],
              ["Child Abduction Warning Notices served", served], ["Breaches of those notices", breaches]],
        chart="hbar")


def outcomes(q: ReportQuery) -> Figure:
    """Each agency recorded present owes an outcome for each child on a held meeting's agenda."""
    item, att, meeting = MaceAgendaItem, MaceAttendance, MaceMeeting
    confirmed = select(MaceOutcome.id).where(
        MaceOutcome.meeting_id == item.meeting_id, MaceOutcome.organisation_id == att.organisation_id,
        MaceOutcome.child_id == item.child_id, MaceOutcome.confirmed_at.is_not(None)).exists()
    owed = (select(item.meeting_id, att.organisation_id, item.child_id, case((confirmed, 0), else_=1).label("waiting"))
            .distinct()
            .join(meeting, meeting.id == item.meeting_id)
            .join(att, and_(att.meeting_id == item.meeting_id, att.attendance == Attendance.present))
            .where(meeting.group_id.in_(_groups(q)), meeting.held_at >= q.start, meeting.held_at < q.end,
                   item.child_id.is_not(None))).subquery()
    pairs = (select(owed.c.organisation_id, func.count().label("owed"), func.sum(owed.c.waiting).label("waiting"))
             .group_by(owed.c.meeting_id, owed.c.organisation_id)).subquery()
    row = db.session().execute(select(
        func.coalesce(func.sum(pairs.c.owed), 0), func.coalesce(func.sum(pairs.c.waiting), 0),
        _count_if(pairs.c.waiting > 0),
        func.count(func.distinct(case((pairs.c.waiting > 0, pairs.c.organisation_id)))))).one()
    owed_n, waiting, pairs_waiting, agencies = (int(v or 0) for v in row)
    return Figure(
        key="mace-outcomes",
        title=f"{counted(agencies, 'agency has', 'agencies have')} yet to confirm {waiting} of "
              f"{counted(owed_n, 'MACE outcome', 'MACE outcomes')} on their own systems",
        subtitle=f"Outcomes owed for children discussed at MACE meetings held {_period(q)}",
        columns=["MACE outcomes", "Number", "Per cent of outcomes owed"],
        rows=[["Outcomes owed", owed_n, rate(owed_n, owed_n)],
              ["Confirmed on the agency's own system", owed_n - waiting, rate(owed_n - waiting, owed_n)],
              ["Not yet confirmed", waiting, rate(waiting, owed_n)],
              ["Agency and meeting pairs with outcomes to confirm", pairs_waiting, None],
              ["Agencies yet to confirm", agencies, None]],
        chart="hbar", series=[1])
