"""Patterns in the picture of missing, counted in SQL: places and people of concern linked to
several children, the days and hours when episodes start, repeat episodes from the same kind of
place, and the push and pull factors and return interview findings recorded.

Each pattern links to the records behind it only for a viewer whose own check lets them in (the
child's record: hub.permissions.child_access; a MACE place or person: current membership of its
group), and never for an analyst, who sees counts and kinds only: no name, no link.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, case, func, literal, select, union_all

from hub import db
from hub.missing.rules import PULL_FACTORS, PUSH_FACTORS, RISK_FACTORS
from hub.models.auth import User
from hub.models.mace import LocationKind, MaceLink, MaceLocation, MacePerson, PersonKind
from hub.models.missing import MissingFrom
from hub.permissions import report_linkable_children, report_linkable_groups, report_pattern_group_ids
from hub.reports.query import Figure, ReportQuery

#: A place or person is a pattern when linked to at least this many children.
SEVERAL = 2
#: Most rows a drill-down list shows (the counts above it cover everything).
LIST_LIMIT = 50
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
REPEAT_PLACES = [MissingFrom.home, MissingFrom.care_placement]


@dataclass
class Subject:
    """A place or person of concern linked to several children."""

    kind: str
    label: str
    children: int
    #: (endpoint, arguments) of the record's page, for a viewer who may open it.
    link: tuple[str, dict[str, int]] | None = None


@dataclass
class RepeatChild:
    child_id: int
    place: str
    episodes: int
    linkable: bool


@dataclass
class PatternsPage:
    subjects: list[Subject]
    #: The episode patterns; None when the viewer counts no episodes (a MACE chair only).
    grid: Figure | None
    grid_max: int
    repeats: Figure | None
    repeat_children: list[RepeatChild]
    factors: Figure | None
    themes: Figure | None
    notes: list[str] = field(default_factory=list)
    #: The episode patterns are withheld: too few episodes the viewer may not open.
    withheld: bool = False


# --- places and people linked to several children -------------------------------------------------

def _linked(column, extra: ColumnElement[bool], groups) -> Select:
    link = MaceLink
    return (select(link.group_id, column.label("subject_id"), literal(column.key).label("end"),
                   func.count(func.distinct(link.child_id)).label("n"))
            .where(link.child_id.is_not(None), column.is_not(None), link.ended_at.is_(None),
                   link.group_id.in_(groups), extra)
            .group_by(link.group_id, column).having(func.count(func.distinct(link.child_id)) >= SEVERAL))


def subjects(user: User) -> list[Subject]:
    """One statement counts; names are read (and decrypted) only for the rows a member may open."""
    groups = report_pattern_group_ids(user)
    live_person = MaceLink.person_id.in_(select(MacePerson.id).where(MacePerson.removed_at.is_(None)))
    both = union_all(_linked(MaceLink.location_id, literal(True), groups),
                     _linked(MaceLink.person_id, live_person, groups)).subquery()
    rows = db.session().execute(select(both).order_by(both.c.n.desc(), both.c.end, both.c.subject_id)
                                .limit(LIST_LIMIT)).all()
    open_groups = report_linkable_groups(user, sorted({r.group_id for r in rows}))
    places = _load(MaceLocation, [r.subject_id for r in rows if r.end == "location_id" and r.group_id in open_groups])
    people = _load(MacePerson, [r.subject_id for r in rows if r.end == "person_id" and r.group_id in open_groups])
    found = []
    for n, row in enumerate(rows, start=1):
        loaded = (places if row.end == "location_id" else people).get(row.subject_id)
        found.append(_subject(n, row, loaded))
    return found


def _load(model, ids: list[int]) -> dict:
    if not ids:
        return {}
    return {obj.id: obj for obj in db.session().scalars(select(model).where(model.id.in_(ids)))}


def _subject(n: int, row, loaded) -> Subject:
    if row.end == "location_id":
        kind = "Place of concern"
        if loaded is None:
            return Subject(kind, f"Place {n}", row.n)
        return Subject(kind, f"{loaded.name} ({LocationKind(loaded.kind).label.lower()})", row.n,
                       ("mace_subjects.location", {"location_id": loaded.id}))
    kind = "Person or peer group of concern"
    if loaded is None:
        return Subject(kind, f"Person or group {n}", row.n)
    return Subject(kind, f"{loaded.name} ({PersonKind(loaded.kind).label.lower()})", row.n,
                   ("mace_subjects.person", {"person_id": loaded.id}))


# --- when episodes start ------------------------------------------------------------------------------

def start_grid(q: ReportQuery) -> tuple[Figure, int]:
    e = q.episodes()
    day, hour = q.local.weekday(e.c.reported_start).label("day"), q.local.hour(e.c.reported_start).label("hour")
    counts = {(int(d), int(h)): n for d, h, n in
              db.session().execute(select(day, hour, func.count()).group_by(day, hour))}
    rows = []
    for index, name in enumerate(WEEKDAYS):
        sql_day = (index + 1) % 7  # the databases count Sunday as 0
        rows.append([name, *[counts.get((sql_day, h), 0) for h in range(24)]])
    busiest = max(((r[0], h, r[h + 1]) for r in rows for h in range(24)), key=lambda x: x[2])
    title = (f"Most episodes started on {busiest[0]}s between {busiest[1]:02d}:00 and {busiest[1]:02d}:59"
             if busiest[2] else "No episodes started in the period")
    return Figure(key="start-times", title=title,
                  subtitle="Episodes by the day of the week and hour (London time) they started",
                  columns=["Day"] + [f"{h:02d}:00" for h in range(24)], rows=rows, chart="none"), busiest[2]


# --- repeat episodes from the same kind of place --------------------------------------------------------

def repeats(q: ReportQuery, user: User) -> tuple[Figure, list[RepeatChild]]:
    e = q.episodes()
    per = (select(e.c.child_id, e.c.missing_from, func.count().label("n"))
           .where(e.c.missing_from.in_(REPEAT_PLACES)).group_by(e.c.child_id, e.c.missing_from)
           .having(func.count() >= 2)).subquery()
    rows = db.session().execute(select(per.c.child_id, per.c.missing_from, per.c.n)
                                .order_by(per.c.n.desc(), per.c.child_id)).all()
    summary = {place: [0, 0] for place in REPEAT_PLACES}
    for _child, place, n in rows:
        summary[place][0] += 1
        summary[place][1] += int(n)
    linkable = report_linkable_children(user, sorted({r.child_id for r in rows[:LIST_LIMIT]}))
    listed = [RepeatChild(r.child_id, MissingFrom(r.missing_from).label.lower(), int(r.n), r.child_id in linkable)
              for r in rows[:LIST_LIMIT] if r.child_id in linkable]
    children = sum(s[0] for s in summary.values())
    figure = Figure(
        key="repeat-places",
        title=f"{children} children went missing more than once from the same home or placement",
        subtitle="Children with two or more episodes from their home, or from their care placement, in the period",
        columns=["Went missing from", "Children", "Episodes"],
        rows=[[place.label, *summary[place]] for place in REPEAT_PLACES], chart="bar", series=[1])
    return figure, listed


# --- push and pull factors, return interview findings ---------------------------------------------------

def _code_counts(q: ReportQuery) -> tuple[Counter, Counter, Counter]:
    """How many episodes carry each push, pull and (with an interview done) risk factor code: the
    database groups the episodes by their code lists (few distinct lists), Python splits them."""
    e = q.episodes()
    found = case((e.c.return_interview_at.is_not(None), e.c.risk_factors), else_="")
    rows = db.session().execute(select(e.c.push_factors, e.c.pull_factors, found, func.count())
                                .group_by(e.c.push_factors, e.c.pull_factors, found)).all()
    push, pull, themes = Counter(), Counter(), Counter()
    for push_codes, pull_codes, found_codes, n in rows:
        for counter, codes in ((push, push_codes), (pull, pull_codes), (themes, found_codes)):
            for code in set(filter(None, (codes or "").split(","))):
                counter[code] += n
    return push, pull, themes


def factors(q: ReportQuery) -> tuple[Figure, Figure]:
    push, pull, found = _code_counts(q)
    factor_rows = ([["Push: " + label, push[code]] for code, label in PUSH_FACTORS.items()]
                   + [["Pull: " + label, pull[code]] for code, label in PULL_FACTORS.items()])
    top = max(factor_rows, key=lambda r: r[1]) if any(r[1] for r in factor_rows) else None
    factor_figure = Figure(
        key="push-pull-factors",
        title=(f"The factor most often recorded was: {top[0].split(': ', 1)[1].lower()} ({top[1]} episodes)"
               if top else "No push or pull factors were recorded in the period"),
        subtitle="Episodes in the period with each push or pull factor recorded (an episode may have several)",
        columns=["Factor", "Episodes"], rows=factor_rows, chart="hbar")
    theme_rows = sorted(([label, found[code]] for code, label in RISK_FACTORS.items() if found[code]),
                        key=lambda r: (-r[1], r[0]))
    theme_figure = Figure(
        key="return-interview-themes",
        title=(f"Return interviews most often found: {theme_rows[0][0].lower()} ({theme_rows[0][1]} episodes)"
               if theme_rows else "No findings were recorded after return interviews in the period"),
        subtitle="Risk factors recorded on episodes with a return home interview done, in the period",
        columns=["Finding", "Episodes"], rows=theme_rows, chart="hbar",
        notes=["The hub keeps an interview's findings as a share record (free text, encrypted), so its themes "
               "are counted from the risk factors recorded on the episode."])
    return factor_figure, theme_figure


PATTERN_FIGURES = ["start-times", "repeat-places", "push-pull-factors", "return-interview-themes"]


def pattern_figure(q: ReportQuery, user: User, key: str) -> Figure:
    """One pattern's figure (its download). KeyError when there is no such pattern."""
    if key == "start-times":
        return start_grid(q)[0]
    if key == "repeat-places":
        return repeats(q, user)[0]
    if key in ("push-pull-factors", "return-interview-themes"):
        push_pull, themes = factors(q)
        return push_pull if key == "push-pull-factors" else themes
    raise KeyError(key)


def page(q: ReportQuery, user: User, episodes: bool = True) -> PatternsPage:
    """The page; the episode patterns only when the viewer counts episodes and `episodes` (they
    are not withheld). A school counts none: its reports are its own notifications."""
    counts = q.counts_episodes and episodes
    grid, grid_max = start_grid(q) if counts else (None, 0)
    repeat_figure, listed = repeats(q, user) if counts else (None, [])
    push_pull, themes = factors(q) if counts else (None, None)
    return PatternsPage(subjects=subjects(user), grid=grid, grid_max=grid_max, repeats=repeat_figure,
                        repeat_children=listed, factors=push_pull, themes=themes)
