"""The dashboard's figures about missing episodes, counted in SQL over the viewer's episodes
(hub.reports.query), whatever the number of rows, so a year of a large county stays fast.

Every episode figure is built from `counts()`: ONE statement that reads the period's episodes
once (a materialised common table expression) and returns only counts, a `UNION ALL` of small
`GROUP BY`s over them (a few hundred rows whatever the county), and the school notifications'
part, which reads another table, in a second statement (see `counts`). A figure alone (its
download, the annual workbook) asks the same code for the parts it needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from hub import db
from hub.missing.rules import LONG_EPISODE, PREVENTION_CHECK_WITHIN, RETURN_INTERVIEW_WITHIN, TRIGGER_PLAN_WITHIN
from hub.models.auth import Organisation
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import Notification, NotificationReply, RecipientReason
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


# --- the period's counts, one statement ----------------------------------------------------------

#: The parts of `counts()`, each one small GROUP BY over the period's episodes.
MONTHS, TOTALS, CHILDREN, PLACES, CROSSING = "months", "totals", "children", "places", "crossing"
#: The school notifications: the episodes' notifications, per message, summed.
NOTIFICATIONS = "notifications"
PARTS = (MONTHS, TOTALS, CHILDREN, PLACES, CROSSING, NOTIFICATIONS)
#: The counts of the notifications part.
MESSAGE_KEYS = ("sent", "acknowledged", "in_time", "escalated")

#: The whole-period counts of the totals part (one row of sums over the episodes).
TOTAL_KEYS = ("episodes", "missing", "over_24h", "found", "checked", "checked_4h", "rhi_offered", "rhi_done",
              "rhi_72h", "rhi_declined", "looked_after", "iro_told", "iro_24h", "plans_due", "plans_on_file",
              "plans_on_time", "plans_late")


@dataclass
class EpisodeCounts:
    """What `counts()` returns, by part (empty for a part not asked for)."""

    #: (London 'YYYY-MM', classification, risk grade, episodes).
    months: list[tuple[str, Classification, RiskGrade, int]] = field(default_factory=list)
    #: TOTAL_KEYS -> count.
    totals: dict[str, int] = field(default_factory=dict)
    #: (looked after now, episodes per child, children with that many): the children histogram.
    children: list[tuple[bool, int, int]] = field(default_factory=list)
    #: (looked after now, where from, episodes).
    places: list[tuple[bool, MissingFrom, int]] = field(default_factory=list)
    #: (authority's name, "in" or "out", distinct children placed across its border).
    crossing: list[tuple[str, str, int]] = field(default_factory=list)
    #: MESSAGE_KEYS -> count, of the messages to schools about the episodes.
    notifications: dict[str, int] = field(default_factory=dict)


def _totals_columns(q: ReportQuery, e) -> dict[str, ColumnElement[int]]:
    """Every whole-period count of the episodes, as sums over one scan."""
    seconds = q.local.seconds_between
    found = e.c.found_at.is_not(None)
    due_plan = e.c.strategy_discussion_at.is_not(None)
    plan_time = seconds(e.c.trigger_plan_at, e.c.strategy_discussion_at)
    columns = {
        "episodes": func.count(),
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
    if tuple(columns) != TOTAL_KEYS:  # the counts' row is read by position: the two must agree
        raise RuntimeError(f"the totals' columns are not TOTAL_KEYS: {tuple(columns)}")
    return columns


def _union_types(e) -> dict[str, Any]:
    """Every column of the union, with its type (so each branch's NULLs are typed and the rows
    come back as enums and booleans on both databases)."""
    return {"part": String(), "month": String(), "classification": e.c.classification.type,
            "grade": e.c.risk_grade.type, "looked_after": e.c.looked_after.type, "place": e.c.missing_from.type,
            "authority": String(), "way": String(), "per_child": Integer(), "n": Integer(),
            **{f"t_{k}": Integer() for k in TOTAL_KEYS}, **{f"m_{k}": Integer() for k in MESSAGE_KEYS}}


def _branch(types: dict[str, Any], part: str, **values: ColumnElement) -> list[ColumnElement]:
    """One branch's columns in the union's order, NULL (typed) where the part has no value."""
    if not set(values) <= set(types):
        raise RuntimeError(f"columns the union does not have: {set(values) - set(types)}")
    columns: list[ColumnElement] = [literal(part, String()).label("part")]
    for name, type_ in types.items():
        if name != "part":
            # A NULL is CAST, not only typed: PostgreSQL resolves a UNION's types pair by pair,
            # and two untyped NULLs would become text before meeting a boolean.
            columns.append((type_coerce(values[name], type_) if name in values else cast(null(), type_)).label(name))
    return columns


def _crossing_branches(q: ReportQuery, e, types: dict[str, Any]) -> list[Select]:
    """Distinct children placed across a border, per receiving ("in") and home ("out") authority,
    joined to the authority's name (within the authority filter, when there is one)."""
    crossing = and_(e.c.looked_after.is_(True), e.c.home_authority_id.is_not(None),
                    e.c.receiving_authority_id.is_not(None), e.c.home_authority_id != e.c.receiving_authority_id)
    branches = []
    for way, side in (("in", e.c.receiving_authority_id), ("out", e.c.home_authority_id)):
        per_authority = (select(side.label("org"), func.count(func.distinct(e.c.child_id)).label("n"))
                         .where(crossing).group_by(side).subquery(f"placed_{way}"))
        branch = (select(*_branch(types, CROSSING, authority=Organisation.name, way=literal(way, String()),
                                  n=per_authority.c.n))
                  .join_from(per_authority, Organisation, Organisation.id == per_authority.c.org))
        if q.filters.authority_id is not None:
            branch = branch.where(per_authority.c.org == q.filters.authority_id)
        branches.append(branch)
    return branches


def counts_statement(q: ReportQuery, parts: Iterable[str] = PARTS) -> Select | CompoundSelect:
    """The one statement: the period's episodes as a CTE read once (materialised: every part
    scans it, not the tables), and a UNION ALL of one small GROUP BY per part. The notifications'
    part alone reads the episodes as a plain subquery (see `counts`)."""
    wanted = [p for p in PARTS if p in set(parts)]
    e = q.episodes() if wanted == [NOTIFICATIONS] else q.episodes_cte()
    types = _union_types(e)
    branches: list[Select] = []
    if MONTHS in wanted:
        month = q.local.month(e.c.reported_start)
        branches.append(select(*_branch(types, MONTHS, month=month, classification=e.c.classification,
                                        grade=e.c.risk_grade, n=func.count()))
                        .group_by(month, e.c.classification, e.c.risk_grade))
    if TOTALS in wanted:
        branches.append(select(*_branch(types, TOTALS, **{f"t_{k}": c for k, c in _totals_columns(q, e).items()}))
                        .select_from(e))
    if CHILDREN in wanted:
        # Per child, then per number of episodes: the children figures' distinct counts without a
        # DISTINCT (a child's looked-after status is the child's, the same on each of its episodes).
        per_child = (select(e.c.child_id, e.c.looked_after, func.count().label("k"))
                     .group_by(e.c.child_id, e.c.looked_after).subquery("per_child"))
        branches.append(select(*_branch(types, CHILDREN, looked_after=per_child.c.looked_after,
                                        per_child=per_child.c.k, n=func.count()))
                        .group_by(per_child.c.looked_after, per_child.c.k))
    if PLACES in wanted:
        branches.append(select(*_branch(types, PLACES, looked_after=e.c.looked_after, place=e.c.missing_from,
                                        n=func.count()))
                        .group_by(e.c.looked_after, e.c.missing_from))
    if CROSSING in wanted:
        branches.extend(_crossing_branches(q, e, types))
    if NOTIFICATIONS in wanted:
        messages = _school_messages(e)
        branches.append(select(*_branch(types, NOTIFICATIONS, m_sent=func.count(),
                                        m_acknowledged=func.sum(messages.c.acknowledged),
                                        m_in_time=func.sum(messages.c.in_time),
                                        m_escalated=func.sum(messages.c.escalated))))
    return branches[0] if len(branches) == 1 else union_all(*branches)


def counts(q: ReportQuery, parts: Iterable[str] = PARTS) -> EpisodeCounts:
    """The parts' counts: every part but the notifications from one statement (`counts_statement`),
    the notifications' part, when asked for, from its own.

    Why two: the notifications are another table, joined to each episode. Within the one
    statement (the CTE joined to the notifications) PostgreSQL hashes every notification ever sent
    (a scan of the table, growing with the hub's history) and SQLite was twice as slow; on their
    own, over the period's episodes as a subquery, both go from each episode to its notifications
    by the index on episode_id (bench.reports_counts, bench/README.md)."""
    wanted = set(parts)
    found = EpisodeCounts(totals=dict.fromkeys(TOTAL_KEYS, 0) if TOTALS in wanted else {},
                          notifications=dict.fromkeys(MESSAGE_KEYS, 0) if NOTIFICATIONS in wanted else {})
    statements = [counts_statement(q, group) for group in (wanted - {NOTIFICATIONS}, wanted & {NOTIFICATIONS})
                  if group]
    rows = [row for statement in statements for row in db.session().execute(statement).mappings()]
    for row in rows:
        part, n = row["part"], int(row["n"] or 0)
        if part == MONTHS:
            found.months.append((row["month"], row["classification"], row["grade"], n))
        elif part == TOTALS:
            found.totals = {k: int(row[f"t_{k}"] or 0) for k in TOTAL_KEYS}
        elif part == CHILDREN:
            found.children.append((bool(row["looked_after"]), int(row["per_child"]), n))
        elif part == PLACES:
            found.places.append((bool(row["looked_after"]), row["place"], n))
        elif part == NOTIFICATIONS:
            found.notifications = {k: int(row[f"m_{k}"] or 0) for k in MESSAGE_KEYS}
        else:
            found.crossing.append((row["authority"], row["way"], n))
    return found


def totals(q: ReportQuery) -> dict[str, int]:
    """The whole-period counts alone (TOTAL_KEYS), from the same statement."""
    return counts(q, (TOTALS,)).totals


# --- episodes per month ------------------------------------------------------------------------

def episodes_by_month(q: ReportQuery, c: EpisodeCounts) -> Figure:
    table = {m: [0] * 7 for m in q.filters.months()}
    grades = list(RiskGrade)
    for m, classification, grade, n in c.months:
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


# --- the figures built from the totals ------------------------------------------------------------

def long_episodes(q: ReportQuery, c: EpisodeCounts) -> Figure:
    t = c.totals
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


def prevention_checks(q: ReportQuery, c: EpisodeCounts) -> Figure:
    t = c.totals
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


def return_interviews(q: ReportQuery, c: EpisodeCounts) -> Figure:
    t = c.totals
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


def iro_told(q: ReportQuery, c: EpisodeCounts) -> Figure:
    t = c.totals
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


def trigger_plans(q: ReportQuery, c: EpisodeCounts) -> Figure:
    t = c.totals
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

def repeat_missing(q: ReportQuery, c: EpisodeCounts) -> Figure:
    def at_least(k: int) -> int:
        return sum(n for _la, per_child, n in c.children if per_child >= k)

    children, two, three, five = at_least(1), at_least(2), at_least(3), at_least(5)
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


def looked_after(q: ReportQuery, c: EpisodeCounts) -> Figure:
    places = list(MissingFrom)
    rows = []
    for flag, label in ((True, "Looked-after children"), (False, "Other children")):
        counts_from = {place: n for la, place, n in c.places if la is flag}
        children = sum(n for la, _per_child, n in c.children if la is flag)
        rows.append([label, children, sum(counts_from.values()), *[counts_from.get(p, 0) for p in places]])
    return Figure(
        key="looked-after",
        title=f"{counted(rows[0][1], 'looked-after child', 'looked-after children')} and "
              f"{counted(rows[1][1], 'other child', 'other children')} went missing or were absent",
        subtitle=f"Children and episodes that started {_period(q)}, by where the child went missing from",
        columns=["Children", "Children", "Episodes"] + [f"Episodes from {p.label.lower()}" for p in places],
        rows=rows, chart="bar", series=[3, 4, 5, 6],
        notes=["The hub records where an episode began (home, care placement, school, other), not the type of "
               "placement (foster care, children's home): placement types are shown as these."])


def cross_border(q: ReportQuery, c: EpisodeCounts) -> Figure:
    table: dict[str, list[int]] = {}
    for name, way, n in c.crossing:
        table.setdefault(name, [0, 0])[0 if way == "in" else 1] += n
    rows = [[name, *pair] for name, pair in sorted(table.items())]
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

def _school_messages(e) -> Subquery:
    """One row per message to a school about the episodes `e` (its copies to one school's key
    adults share a group key), flagged when any copy was acknowledged, in time, or escalated: the
    notifications part sums them. Equal to four count(DISTINCT group_key) with a CASE each, but
    one sort of the keys instead of four."""
    n = Notification
    message = (select(func.max(case((n.acknowledged_at.is_not(None), 1), else_=0)).label("acknowledged"),
                      func.max(case((n.acknowledged_at <= n.deadline_at, 1), else_=0)).label("in_time"),
                      func.max(case((n.escalated_at.is_not(None), 1), else_=0)).label("escalated"))
               # From the period's episodes to their notifications (by the index on episode_id), not
               # from every notification ever sent to the episodes.
               .select_from(e).join(n, n.episode_id == e.c.id).where(n.reason != RecipientReason.escalation))
    return message.group_by(n.group_key).subquery("messages")


def school_notifications(q: ReportQuery, c: EpisodeCounts) -> Figure:
    m = c.notifications
    return _notifications_figure(q, m["sent"], m["acknowledged"], m["in_time"], m["escalated"])


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


#: Each figure built from `counts()`, with the parts it reads, in no particular order.
FROM_COUNTS: dict[str, tuple[Callable[[ReportQuery, EpisodeCounts], Figure], tuple[str, ...]]] = {
    "episodes-by-month": (episodes_by_month, (MONTHS,)),
    "long-episodes": (long_episodes, (TOTALS,)),
    "repeat-missing": (repeat_missing, (CHILDREN,)),
    "looked-after": (looked_after, (CHILDREN, PLACES)),
    "cross-border": (cross_border, (CROSSING,)),
    "prevention-checks": (prevention_checks, (TOTALS,)),
    "return-interviews": (return_interviews, (TOTALS,)),
    "iro-told": (iro_told, (TOTALS,)),
    "trigger-plans": (trigger_plans, (TOTALS,)),
    "school-notifications": (school_notifications, (NOTIFICATIONS,)),
}
