"""The episode figures as the dashboard counted them before issue 22's one statement: one SQL
statement each over the period's episodes (hub.reports.episode_figures as of issue 14, the school
notifications included). Kept only as the reference the one statement's figures are compared with
(tests/reports/test_one_statement.py, bench.reports_counts); nothing in the hub uses it. In bench/, not
tests/: a benchmark may not import the tests (tests/test_honest_tests.py).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all

from hub import db
from hub.missing.rules import LONG_EPISODE, PREVENTION_CHECK_WITHIN, RETURN_INTERVIEW_WITHIN, TRIGGER_PLAN_WITHIN
from hub.models.auth import Organisation
from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.notifications import Notification, RecipientReason
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED, return_interview_offered_clause
from hub.reports.query import Figure, ReportQuery, agreeing, counted, rate, with_share


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _seconds(delta: timedelta) -> int:
    """A time limit in whole seconds: compared with hub.reports.sqltime's whole-second
    differences, so exactly at the limit counts as within it (<=), on both databases."""
    return int(delta.total_seconds())


def _period(q: ReportQuery) -> str:
    f = q.filters
    return f"{f.date_from:%-d %B %Y} to {f.date_to:%-d %B %Y}"


# --- episodes per month ------------------------------------------------------------------------

def episodes_by_month(q: ReportQuery) -> Figure:
    e = q.episodes()
    month = q.local.month(e.c.reported_start).label("month")
    rows = db.session().execute(select(month, e.c.classification, e.c.risk_grade, func.count())
                                .group_by(month, e.c.classification, e.c.risk_grade)).all()
    table = {m: [0] * 7 for m in q.filters.months()}
    grades = list(RiskGrade)
    for m, classification, grade, n in rows:
        line = table.setdefault(m, [0] * 7)
        line[0 if classification == Classification.missing else 1] += n
        line[2 + grades.index(grade)] += n
        line[6] += n
    total = sum(line[6] for line in table.values())
    missing = sum(line[0] for line in table.values())
    return Figure(
        key="episodes-by-month",
        title=f"{counted(total, 'episode', 'episodes')} began in the period: "
              f"{missing} missing and {total - missing} absent",
        subtitle=f"Episodes by the month they started (London time), {_period(q)}, by classification and risk grade",
        columns=["Month", "Missing", "Absent"] + [g.label for g in grades] + ["Total"],
        rows=[[m, *line] for m, line in sorted(table.items())], first_column="month",
        chart="stacked", series=[1, 2],
        notes=["An episode that spans a month end counts in the month it started."])


# --- the totals behind several figures ---------------------------------------------------------

def totals(q: ReportQuery) -> dict[str, int]:
    """Every whole-period count of the episodes in one statement."""
    e, seconds = q.episodes(), q.local.seconds_between
    found = e.c.found_at.is_not(None)
    due_plan = e.c.strategy_discussion_at.is_not(None)
    plan_time = seconds(e.c.trigger_plan_at, e.c.strategy_discussion_at)
    counts = {
        "episodes": func.count(),
        "children": func.count(func.distinct(e.c.child_id)),
        "missing": _count_if(e.c.classification == Classification.missing),
        "over_24h": _count_if(or_(seconds(e.c.found_at, e.c.reported_start) > _seconds(LONG_EPISODE),
                                  and_(~found, e.c.reported_start < q.now - LONG_EPISODE))),
        "found": _count_if(found),
        "checked": _count_if(and_(found, e.c.prevention_check_at.is_not(None))),
        "checked_4h": _count_if(and_(found, seconds(e.c.prevention_check_at, e.c.found_at)
                                     <= _seconds(PREVENTION_CHECK_WITHIN))),
        "rhi_offered": _count_if(and_(found, return_interview_offered_clause(
            e.c.return_interview_offered_at, e.c.return_interview_at, e.c.return_interview_declined))),
        "rhi_done": _count_if(and_(found, e.c.return_interview_at.is_not(None))),
        "rhi_72h": _count_if(and_(found, seconds(e.c.return_interview_at, e.c.found_at)
                                  <= _seconds(RETURN_INTERVIEW_WITHIN))),
        "rhi_declined": _count_if(and_(found, e.c.return_interview_declined.is_(True))),
        "looked_after": _count_if(e.c.looked_after.is_(True)),
        "iro_told": _count_if(and_(e.c.looked_after.is_(True), e.c.iro_informed_at.is_not(None))),
        "iro_24h": _count_if(and_(e.c.looked_after.is_(True), seconds(e.c.iro_informed_at, e.c.reported_start)
                                  <= _seconds(LONG_EPISODE))),
        "plans_due": _count_if(due_plan),
        "plans_on_file": _count_if(and_(due_plan, e.c.trigger_plan_at.is_not(None))),
        "plans_on_time": _count_if(and_(due_plan, plan_time <= _seconds(TRIGGER_PLAN_WITHIN))),
        "plans_late": _count_if(and_(due_plan, or_(
            plan_time > _seconds(TRIGGER_PLAN_WITHIN),
            and_(e.c.trigger_plan_at.is_(None), e.c.strategy_discussion_at < q.now - TRIGGER_PLAN_WITHIN)))),
    }
    row = db.session().execute(select(*[c.label(k) for k, c in counts.items()]).select_from(e)).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


def long_episodes(q: ReportQuery, t: dict[str, int]) -> Figure:
    share = rate(t["over_24h"], t["episodes"])
    return Figure(
        key="long-episodes",
        title=with_share(f"{t['over_24h']} of {counted(t['episodes'], 'episode', 'episodes')} lasted over 24 hours",
                         share),
        subtitle=f"Episodes that started {_period(q)}; still-open episodes count once they pass 24 hours",
        columns=["Episodes", "Number", "Per cent of episodes"],
        rows=[["24 hours or less (or still open, under 24 hours)", t["episodes"] - t["over_24h"],
               rate(t["episodes"] - t["over_24h"], t["episodes"])],
              ["Over 24 hours", t["over_24h"], share]],
        chart="hbar", series=[1])


def prevention_checks(q: ReportQuery, t: dict[str, int]) -> Figure:
    share = rate(t["checked_4h"], t["found"])
    return Figure(
        key="prevention-checks",
        title=with_share(f"{t['checked_4h']} of {counted(t['found'], 'return', 'returns')} had a prevention check "
                         "within 4 hours", share),
        subtitle=f"Police prevention (safe and well) checks after episodes that started {_period(q)} and have ended",
        columns=["Prevention checks", "Episodes", "Per cent of episodes ended"],
        rows=[["Episodes ended (child found)", t["found"], rate(t["found"], t["found"])],
              ["Check recorded", t["checked"], rate(t["checked"], t["found"])],
              ["Check within 4 hours of return", t["checked_4h"], share]],
        chart="hbar", series=[1])


def return_interviews(q: ReportQuery, t: dict[str, int]) -> Figure:
    share = rate(t["rhi_72h"], t["found"])
    return Figure(
        key="return-interviews",
        title=with_share(f"{t['rhi_72h']} of {counted(t['found'], 'return', 'returns')} had a return home interview "
                         "within 72 hours", share),
        subtitle=f"Return home interviews after episodes that started {_period(q)} and have ended",
        columns=["Return home interviews", "Episodes", "Per cent of episodes ended"],
        rows=[["Episodes ended (child found)", t["found"], rate(t["found"], t["found"])],
              ["Interview offered", t["rhi_offered"], rate(t["rhi_offered"], t["found"])],
              ["Interview done", t["rhi_done"], rate(t["rhi_done"], t["found"])],
              ["Done within 72 hours of return", t["rhi_72h"], share],
              ["Declined by the child", t["rhi_declined"], rate(t["rhi_declined"], t["found"])]],
        chart="hbar", series=[1],
        notes=[RETURN_INTERVIEW_OFFERED,
               "The national average is about 63% of return interviews within 72 hours."])


def iro_told(q: ReportQuery, t: dict[str, int]) -> Figure:
    return Figure(
        key="iro-told",
        title=f"The Independent Reviewing Officer was told of {t['iro_told']} of {t['looked_after']} "
              "looked-after children's episodes",
        subtitle=f"Episodes of looked-after children that started {_period(q)}",
        columns=["Independent Reviewing Officer", "Episodes", "Per cent"],
        rows=[["Episodes of looked-after children", t["looked_after"], rate(t["looked_after"], t["looked_after"])],
              ["IRO told", t["iro_told"], rate(t["iro_told"], t["looked_after"])],
              ["IRO told within 24 hours of the start", t["iro_24h"], rate(t["iro_24h"], t["looked_after"])]],
        chart="hbar", series=[1])


def trigger_plans(q: ReportQuery, t: dict[str, int]) -> Figure:
    return Figure(
        key="trigger-plans",
        title=f"{t['plans_late']} of {counted(t['plans_due'], 'trigger plan', 'trigger plans')} due "
              f"{agreeing(t['plans_late'], 'was', 'were')} late",
        subtitle=f"Trigger plans due within one week of a strategy discussion, episodes that started {_period(q)}",
        columns=["Trigger plans", "Episodes"],
        rows=[["Due (strategy discussion held)", t["plans_due"]], ["On file", t["plans_on_file"]],
              ["On file within a week", t["plans_on_time"]],
              ["Late (after a week, or not yet on file a week on)", t["plans_late"]]],
        chart="hbar")


# --- children: repeat missing, looked after, placements across borders ---------------------------

def repeat_missing(q: ReportQuery) -> Figure:
    e = q.episodes()
    per_child = select(e.c.child_id, func.count().label("n")).group_by(e.c.child_id).subquery()
    n = per_child.c.n
    row = db.session().execute(select(func.count(), _count_if(n >= 2), _count_if(n >= 3), _count_if(n >= 5))
                               .select_from(per_child)).one()
    children, two, three, five = (int(v or 0) for v in row)
    return Figure(
        key="repeat-missing",
        title=f"{counted(children, 'child', 'children')} went missing or {agreeing(children, 'was', 'were')} absent; "
              f"{two} of them more than once",
        subtitle=f"Children by the number of episodes that started {_period(q)}",
        columns=["Children", "Number", "Per cent of children"],
        rows=[["Went missing or absent (1 or more episodes)", children, rate(children, children)],
              ["2 or more episodes", two, rate(two, children)],
              ["3 or more episodes", three, rate(three, children)],
              ["5 or more episodes", five, rate(five, children)]],
        chart="hbar", series=[1])


def looked_after(q: ReportQuery) -> Figure:
    e = q.episodes()
    s = db.session()
    by_place = s.execute(select(e.c.looked_after, e.c.missing_from, func.count())
                         .group_by(e.c.looked_after, e.c.missing_from)).all()
    children = dict(s.execute(select(e.c.looked_after, func.count(func.distinct(e.c.child_id)))
                              .group_by(e.c.looked_after)).all())
    places = list(MissingFrom)
    rows = []
    for flag, label in ((True, "Looked-after children"), (False, "Other children")):
        counts = {place: n for la, place, n in by_place if bool(la) is flag}
        rows.append([label, int(children.get(flag, 0) or children.get(int(flag), 0) or 0),
                     sum(counts.values()), *[counts.get(p, 0) for p in places]])
    return Figure(
        key="looked-after",
        title=f"{counted(rows[0][1], 'looked-after child', 'looked-after children')} and "
              f"{counted(rows[1][1], 'other child', 'other children')} went missing or were absent",
        subtitle=f"Children and episodes that started {_period(q)}, by where the child went missing from",
        columns=["Children", "Children", "Episodes"] + [f"Episodes from {p.label.lower()}" for p in places],
        rows=rows, chart="bar", series=[3, 4, 5, 6],
        notes=["The hub records where an episode began (home, care placement, school, other), not the type of "
               "placement (foster care, children's home): placement types are shown as these."])


def cross_border(q: ReportQuery) -> Figure:
    e = q.episodes()
    # The crossing episodes once, as a common table expression read by both halves (SQLite and
    # PostgreSQL materialise a CTE used twice), so the period's episodes are scanned once, not twice.
    crossing = select(e.c.child_id, e.c.home_authority_id, e.c.receiving_authority_id).where(
        e.c.looked_after.is_(True), e.c.home_authority_id.is_not(None), e.c.receiving_authority_id.is_not(None),
        e.c.home_authority_id != e.c.receiving_authority_id).cte("crossing")
    placed_in = select(crossing.c.receiving_authority_id.label("org"), literal("in").label("way"),
                       func.count(func.distinct(crossing.c.child_id)).label("n"))\
        .group_by(crossing.c.receiving_authority_id)
    placed_out = select(crossing.c.home_authority_id.label("org"), literal("out").label("way"),
                        func.count(func.distinct(crossing.c.child_id)).label("n"))\
        .group_by(crossing.c.home_authority_id)
    both = union_all(placed_in, placed_out).subquery()
    query = select(Organisation.name, both.c.way, both.c.n).join(Organisation, Organisation.id == both.c.org)
    if q.filters.authority_id is not None:
        query = query.where(both.c.org == q.filters.authority_id)
    table: dict[str, list[int]] = {}
    for name, way, n in db.session().execute(query):
        table.setdefault(name, [0, 0])[0 if way == "in" else 1] += int(n)
    rows = [[name, *counts] for name, counts in sorted(table.items())]
    placed = sum(r[1] for r in rows)
    return Figure(
        key="cross-border",
        title=f"{counted(placed, 'looked-after child', 'looked-after children')} from other authorities went missing "
              "in an authority's area",
        subtitle=f"Looked-after children whose episode (started {_period(q)}) was found in another authority's area, "
                 "by authority",
        columns=["Authority", "Placed in the area by other authorities", "Own children placed elsewhere"],
        rows=rows, chart="bar",
        notes=["Where a child is placed is not recorded in the hub: an episode counts as across a border when its "
               "receiving authority (where the child was found) differs from the child's home authority."])


# --- school notifications -----------------------------------------------------------------------

def school_notifications(q: ReportQuery) -> Figure:
    e, n = q.episodes(), Notification
    # One row per message (its copies to one school's key adults share a group key), flagged when
    # any copy was acknowledged, in time, or escalated; then summed. Equal to four
    # count(DISTINCT group_key) with a CASE each, but one sort of the keys instead of four.
    message = (select(func.max(case((n.acknowledged_at.is_not(None), 1), else_=0)).label("acknowledged"),
                      func.max(case((n.acknowledged_at <= n.deadline_at, 1), else_=0)).label("in_time"),
                      func.max(case((n.escalated_at.is_not(None), 1), else_=0)).label("escalated"))
               # From the period's episodes to their notifications (by the index on episode_id), not
               # from every notification ever sent to the episodes.
               .select_from(e).join(n, n.episode_id == e.c.id).where(n.reason != RecipientReason.escalation))
    messages = message.group_by(n.group_key).subquery("messages")
    query = select(func.count(), func.sum(messages.c.acknowledged), func.sum(messages.c.in_time),
                   func.sum(messages.c.escalated))
    sent, acknowledged, in_time, escalated = (int(v or 0) for v in db.session().execute(query).one())
    return _notifications_figure(q, sent, acknowledged, in_time, escalated)


def _notifications_figure(q: ReportQuery, sent: int, acknowledged: int, in_time: int, escalated: int) -> Figure:
    return Figure(
        key="school-notifications",
        title=f"Schools acknowledged {in_time} of {counted(sent, 'notification', 'notifications')} before the deadline",
        subtitle=f"Notifications to schools about episodes that started {_period(q)}; copies to one school's key "
                 "adults count once",
        columns=["School notifications", "Notifications", "Per cent"],
        rows=[["Sent", sent, rate(sent, sent)], ["Acknowledged", acknowledged, rate(acknowledged, sent)],
              ["Acknowledged before the deadline", in_time, rate(in_time, sent)],
              ["Escalated (not acknowledged in time)", escalated, rate(escalated, sent)]],
        chart="hbar", series=[1])
