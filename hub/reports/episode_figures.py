"""The dashboard's figures about missing episodes, all counted from one read of the period's
episodes (issue 22: each figure's own statement read a county's year of ~10,000 episodes again).

`read(q)` is one statement over the viewer's episodes (hub.reports.query): a narrow row per
episode (its child, London month, classification, risk grade, where from, looked-after status)
and one bit for each condition a figure counts (`_conditions`: every time limit and every "was it
done", worked out in SQL in whole seconds as before, so the definitions stay in one place and the
same on SQLite and PostgreSQL). The figures are sums and distinct counts of those rows, in Python.
Two more statements whatever the size of the data: the names of the authorities episodes cross
into (by primary key), and the school notifications (notification rows, not episodes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, reduce
from operator import add
from typing import Any

from sqlalchemy import ColumnElement, Row, Subquery, and_, case, func, or_, select

from hub import db
from hub.auth.models import Organisation
from hub.missing.models import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.missing.rules import LONG_EPISODE, PREVENTION_CHECK_WITHIN, RETURN_INTERVIEW_WITHIN, TRIGGER_PLAN_WITHIN
from hub.notifications.models import Notification, NotificationReply, RecipientReason
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED, return_interview_offered_clause
from hub.reports.query import Figure, ReportQuery, agreeing, counted, rate, with_share

#: The condition (a bit of each row's flags) of an episode across a border: a looked-after
#: child's episode found in an authority other than the child's home authority.
CROSSING = "crossing"


def _seconds(delta: timedelta) -> int:
    """A time limit in whole seconds: compared with hub.reports.sqltime's whole-second
    differences, so exactly at the limit counts as within it (<=), on both databases."""
    return int(delta.total_seconds())


def _period(q: ReportQuery) -> str:
    f = q.filters
    return f"{f.date_from:%-d %B %Y} to {f.date_to:%-d %B %Y}"


# --- the one read ------------------------------------------------------------------------------

def _conditions(q: ReportQuery, e: Subquery) -> dict[str, ColumnElement[bool]]:
    """What the figures count of an episode, by the name of its total; each is one bit of the
    row's flags (an episode for which a condition is NULL in SQL does not count, as in a sum)."""
    seconds = q.local.seconds_between
    found = e.c.found_at.is_not(None)
    due_plan = e.c.strategy_discussion_at.is_not(None)
    plan_time = seconds(e.c.trigger_plan_at, e.c.strategy_discussion_at)
    return {
        "missing": e.c.classification == Classification.missing,
        "over_24h": or_(seconds(e.c.found_at, e.c.reported_start) > _seconds(LONG_EPISODE),
                        and_(~found, e.c.reported_start < q.now - LONG_EPISODE)),
        "found": found,
        "checked": and_(found, e.c.prevention_check_at.is_not(None)),
        "checked_4h": and_(found, seconds(e.c.prevention_check_at, e.c.found_at) <= _seconds(PREVENTION_CHECK_WITHIN)),
        "rhi_offered": and_(found, return_interview_offered_clause(
            e.c.return_interview_offered_at, e.c.return_interview_at, e.c.return_interview_declined)),
        "rhi_done": and_(found, e.c.return_interview_at.is_not(None)),
        "rhi_72h": and_(found, seconds(e.c.return_interview_at, e.c.found_at) <= _seconds(RETURN_INTERVIEW_WITHIN)),
        "rhi_declined": and_(found, e.c.return_interview_declined.is_(True)),
        "looked_after": e.c.looked_after.is_(True),
        "iro_told": and_(e.c.looked_after.is_(True), e.c.iro_informed_at.is_not(None)),
        "iro_24h": and_(e.c.looked_after.is_(True),
                        seconds(e.c.iro_informed_at, e.c.reported_start) <= _seconds(LONG_EPISODE)),
        "plans_due": due_plan,
        "plans_on_file": and_(due_plan, e.c.trigger_plan_at.is_not(None)),
        "plans_on_time": and_(due_plan, plan_time <= _seconds(TRIGGER_PLAN_WITHIN)),
        "plans_late": and_(due_plan, or_(
            plan_time > _seconds(TRIGGER_PLAN_WITHIN),
            and_(e.c.trigger_plan_at.is_(None), e.c.strategy_discussion_at < q.now - TRIGGER_PLAN_WITHIN))),
        CROSSING: and_(e.c.looked_after.is_(True), e.c.home_authority_id.is_not(None),
                       e.c.receiving_authority_id.is_not(None), e.c.home_authority_id != e.c.receiving_authority_id),
    }


@dataclass(frozen=True)
class PeriodEpisodes:
    """The period's episodes as the figures count them."""

    #: One per episode: child_id, month ('YYYY-MM', London), classification, risk_grade,
    #: missing_from, looked_after, home_authority_id, receiving_authority_id, flags.
    rows: list[Row[Any]]
    #: Each condition's bit in a row's flags.
    bits: dict[str, int]
    #: The names of the authorities of the episodes across a border, by id.
    authorities: dict[int, str]

    def has(self, row: Row[Any], condition: str) -> bool:
        return bool(row.flags & self.bits[condition])

    @cached_property
    def totals(self) -> dict[str, int]:
        """Every whole-period count of the episodes, by the name of its condition."""
        flags = Counter(row.flags for row in self.rows)
        counts = {"episodes": len(self.rows), "children": len({row.child_id for row in self.rows})}
        for name, bit in self.bits.items():
            if name != CROSSING:
                counts[name] = sum(n for mask, n in flags.items() if mask & bit)
        return counts


def read(q: ReportQuery) -> PeriodEpisodes:
    """The period's episodes, once (and the names of the authorities they cross into)."""
    e = q.episodes()
    conditions = _conditions(q, e)
    bits = {name: 1 << n for n, name in enumerate(conditions)}
    flags = reduce(add, [case((condition, bits[name]), else_=0) for name, condition in conditions.items()])
    s = db.session()
    rows = list(s.execute(select(
        e.c.child_id, q.local.month(e.c.reported_start).label("month"), e.c.classification, e.c.risk_grade,
        e.c.missing_from, e.c.looked_after, e.c.home_authority_id, e.c.receiving_authority_id,
        flags.label("flags"))))
    crossing = bits[CROSSING]
    crossed = {org for row in rows if row.flags & crossing
               for org in (row.home_authority_id, row.receiving_authority_id)}
    # Run whether or not any episode crosses a border: the page's statements are the same for any data.
    names = dict(s.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(crossed))).all())
    return PeriodEpisodes(rows, bits, names)


# --- episodes per month ------------------------------------------------------------------------

def episodes_by_month(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    counts = Counter((row.month, row.classification, row.risk_grade) for row in p.rows)
    table = {m: [0] * 7 for m in q.filters.months()}
    grades = list(RiskGrade)
    for (m, classification, grade), n in counts.items():
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


# --- the whole-period totals behind several figures ------------------------------------------

def long_episodes(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    t = p.totals
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


def prevention_checks(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    t = p.totals
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


def return_interviews(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    t = p.totals
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


def iro_told(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    t = p.totals
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


def trigger_plans(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    t = p.totals
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

def repeat_missing(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    per_child = Counter(row.child_id for row in p.rows).values()
    children = len(per_child)
    two, three, five = (sum(1 for n in per_child if n >= least) for least in (2, 3, 5))
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


def looked_after(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    by_place = Counter((bool(row.looked_after), row.missing_from) for row in p.rows)
    children: dict[bool, set[int]] = {True: set(), False: set()}
    for row in p.rows:
        children[bool(row.looked_after)].add(row.child_id)
    places = list(MissingFrom)
    rows = []
    for flag, label in ((True, "Looked-after children"), (False, "Other children")):
        counts = {place: n for (la, place), n in by_place.items() if la is flag}
        rows.append([label, len(children[flag]), sum(counts.values()), *[counts.get(place, 0) for place in places]])
    return Figure(
        key="looked-after",
        title=f"{counted(rows[0][1], 'looked-after child', 'looked-after children')} and "
              f"{counted(rows[1][1], 'other child', 'other children')} went missing or were absent",
        subtitle=f"Children and episodes that started {_period(q)}, by where the child went missing from",
        columns=["Children", "Children", "Episodes"] + [f"Episodes from {place.label.lower()}" for place in places],
        rows=rows, chart="bar", series=[3, 4, 5, 6],
        notes=["The hub records where an episode began (home, care placement, school, other), not the type of "
               "placement (foster care, children's home): placement types are shown as these."])


def cross_border(q: ReportQuery, p: PeriodEpisodes) -> Figure:
    # Distinct children each way: placed in the area where found, and out of their home authority.
    crossing: dict[tuple[int, int], set[int]] = {}
    for row in p.rows:
        if p.has(row, CROSSING):
            crossing.setdefault((row.receiving_authority_id, 0), set()).add(row.child_id)
            crossing.setdefault((row.home_authority_id, 1), set()).add(row.child_id)
    table: dict[str, list[int]] = {}
    for (org, way), children in crossing.items():
        if org in p.authorities and q.filters.authority_id in (None, org):
            table.setdefault(p.authorities[org], [0, 0])[way] += len(children)
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


def own_school_notifications(q: ReportQuery) -> Figure:
    """A school's reports: its own notifications, sent in the period (London dates), and its
    replies to the police, counted from the messages alone. Nothing of the episode is read (no
    risk grade, where from, looked-after status, plan): the filters other than the period and
    the school do not apply."""
    n, reply = Notification, NotificationReply
    message = (select(func.max(case((n.acknowledged_at.is_not(None), 1), else_=0)).label("acknowledged"),
                      func.max(case((n.acknowledged_at <= n.deadline_at, 1), else_=0)).label("in_time"),
                      func.max(case((n.escalated_at.is_not(None), 1), else_=0)).label("escalated"),
                      func.max(case((n.id.in_(select(reply.notification_id)), 1), else_=0)).label("replied"))
               .join(MissingEpisode, MissingEpisode.id == n.episode_id)
               .where(q.scope.school_notifications, n.reason != RecipientReason.escalation,
                      n.created_at >= q.start, n.created_at < q.end))
    if q.filters.school_id is not None:
        message = message.where(n.organisation_id == q.filters.school_id)
    messages = message.group_by(n.group_key).subquery("messages")
    row = db.session().execute(select(func.count(), func.sum(messages.c.acknowledged), func.sum(messages.c.in_time),
                                      func.sum(messages.c.escalated), func.sum(messages.c.replied))).one()
    sent, acknowledged, in_time, escalated, replied = (int(v or 0) for v in row)
    figure = _notifications_figure(q, sent, acknowledged, in_time, escalated)
    figure.subtitle = (f"Notifications your school was sent {_period(q)} about pupils on its roll now; copies to "
                       "the school's key adults count once")
    figure.title = (f"Your school acknowledged {in_time} of {counted(sent, 'notification', 'notifications')} "
                    "before the deadline")
    figure.rows.append(["Replied to the police", replied, rate(replied, sent)])
    figure.notes = [SCHOOL_ONLY_NOTE]
    return figure


SCHOOL_ONLY_NOTE = ("A school's reports count its own notifications and replies, never the details of an episode: "
                    "only the period and school filters apply.")
