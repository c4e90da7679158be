"""What every figure is counted from: the filters, the viewer's scope and the episodes they give.

Definitions (the dashboard's notes repeat them):
- an episode belongs to the period when it *started* in it, in London local time (an episode that
  spans a month end counts in the month it started; days and months are Europe/London dates);
- the authority filter keeps the episodes of the authority's children (its home or placing
  authority) and episodes naming it as the home or receiving (where found) authority;
- the age band is the child's age in whole months at the start of the episode, from the month of
  birth (so a child counts a year older in their birth month, before the birthday);
- "looked after" is the child's status now (the hub keeps no history of it);
- the school filter keeps children on the school's roll at any time in the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, Subquery, and_, case, exists, func, or_, select

from hub import db
from hub.models.missing import MissingEpisode
from hub.models.people import Child, Enrolment
from hub.permissions import ReportScope
from hub.reports.sqltime import LocalTime, london_midnight

#: Age bands: code -> (label, first age, first age not in the band).
AGE_BANDS: dict[str, tuple[str, int, int]] = {
    "10_and_under": ("10 and under", 0, 11),
    "11_14": ("11 to 14", 11, 15),
    "15_17": ("15 to 17", 15, 18),
}


@dataclass(frozen=True)
class ReportFilters:
    """The dashboard's filters. Dates are London local dates, both ends included."""

    date_from: date
    date_to: date
    authority_id: int | None = None
    age_band: str | None = None
    looked_after: bool | None = None
    school_id: int | None = None

    def __post_init__(self) -> None:
        if self.age_band is not None and self.age_band not in AGE_BANDS:
            raise ValueError(f"unknown age band {self.age_band!r}")
        if self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")

    def months(self) -> list[str]:
        """Every 'YYYY-MM' from the first month to the last, so empty months show as 0."""
        months, year, month = [], self.date_from.year, self.date_from.month
        while (year, month) <= (self.date_to.year, self.date_to.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


@dataclass
class Figure:
    """One figure: a headline that says what it shows, a statistical subtitle, the table (the
    first column labels each row), and which columns the chart draws."""

    key: str
    title: str
    subtitle: str
    columns: list[str]
    rows: list[list[Any]]
    #: "bar" (grouped), "stacked" or "hbar"; "none" for a table only.
    chart: str = "bar"
    #: Indexes of the plotted columns (default: every column after the first).
    series: list[int] | None = None
    notes: list[str] = field(default_factory=list)
    #: What the first column holds: "text", or "month" ('YYYY-MM' in the data and the downloads,
    #: shown on pages and charts as 'January 2026').
    first_column: str = "text"
    #: Not shown: too few episodes the viewer may not open (hub.permissions.report_figures_withheld).
    withheld: bool = False

    def label(self, row: list[Any]) -> str:
        """A row's first column as the page and the chart show it."""
        return month_label(row[0]) if self.first_column == "month" else str(row[0])

    @property
    def plotted(self) -> list[int]:
        return self.series if self.series is not None else list(range(1, len(self.columns)))


def counted(n: int, one: str, many: str) -> str:
    """"1 child", "3 children": headlines read as sentences."""
    return f"{n} {one if n == 1 else many}"


def agreeing(n: int, one: str, many: str) -> str:
    """The word that agrees with a count of n: "1 child ... was absent", "3 ... were"."""
    return one if n == 1 else many


def month_label(key: str) -> str:
    """A figure's month ('2026-01', as the data and downloads keep it) as people read it:
    'January 2026'."""
    year, month = key.split("-")
    return f"{date(int(year), int(month), 1):%B %Y}"


def rate(part: int, whole: int) -> float | None:
    """A percentage to one decimal place, or None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None


def with_share(headline: str, share: float | None) -> str:
    """A headline with its percentage after it, when there is one: "3 of 12 returns ... (25.0%)"."""
    return headline + (f" ({share}%)" if share is not None else "")


class ReportQuery:
    """The episodes a viewer's figures count, for one set of filters, as a subquery; built once per
    page so that each figure is one statement over it."""

    def __init__(self, scope: ReportScope, filters: ReportFilters, now: datetime) -> None:
        self.scope, self.filters, self.now = scope, filters, now
        self.start = london_midnight(filters.date_from)
        self.end = london_midnight(filters.date_to + timedelta(days=1))
        dialect = db.session().get_bind().dialect.name
        self.local = LocalTime(dialect, filters.date_from.year, filters.date_to.year)
        self._episodes: Subquery | None = None

    @property
    def counts_episodes(self) -> bool:
        return self.scope.episodes is not None

    @property
    def counts_mace(self) -> bool:
        return self.scope.mace_groups is not None

    def episodes(self) -> Subquery:
        if self._episodes is None:
            self._episodes = self._episode_select().subquery("episodes")
        return self._episodes

    def episodes_cte(self) -> CTE:
        """The same episodes as a common table expression, MATERIALIZED: a statement that reads
        them several times (hub.reports.episode_figures.counts) scans the tables once. Both
        databases materialise a CTE read more than once anyway; saying so keeps it when a
        statement reads it once, and on PostgreSQL 12+ whatever the planner would prefer."""
        cte = self._episode_select().cte("episodes")
        return cte.prefix_with("MATERIALIZED", dialect="postgresql").prefix_with("MATERIALIZED", dialect="sqlite")

    def coverage(self, openable: Select) -> tuple[int, int, int]:
        """How many episodes the figures count; how many of them are not in `openable` (a SELECT
        of the episode ids the viewer may open); and how many the period alone, before the other
        filters, holds that are not (hub.permissions.report_figures_withheld weighs them)."""
        e = self.episodes()
        # Joined, not `IN (...)`: PostgreSQL runs an IN or NOT IN whose list it expects to be large
        # once per row (a plain SubPlan), where a join hashes the viewer's episodes once.
        opened = openable.subquery("openable")
        closed = case((opened.c.id.is_(None), 1), else_=0)
        counted, unopenable = db.session().execute(
            select(func.count(), func.coalesce(func.sum(closed), 0))
            .select_from(e.outerjoin(opened, opened.c.id == e.c.id))).one()
        period = (select(MissingEpisode.id).join(Child, Child.id == MissingEpisode.child_id)
                  .where(self.scope.episodes, MissingEpisode.reported_start >= self.start,
                         MissingEpisode.reported_start < self.end,
                         ~exists().where(opened.c.id == MissingEpisode.id)))
        in_period = db.session().scalar(select(func.count()).select_from(period.subquery()))
        return int(counted), int(unopenable or 0), int(in_period or 0)

    def _episode_select(self) -> Select:
        e = MissingEpisode
        query = (select(e.id, e.child_id, e.police_org_id, e.reported_start, e.classification, e.risk_grade,
                        e.missing_from, e.found_at, e.prevention_check_at, e.return_interview_offered_at,
                        e.return_interview_at, e.return_interview_declined, e.iro_informed_at,
                        e.home_authority_id, e.receiving_authority_id, e.strategy_discussion_at,
                        e.trigger_plan_at, e.push_factors, e.pull_factors, e.risk_factors, Child.looked_after)
                 .join(Child, Child.id == e.child_id)
                 .where(self.scope.episodes, e.reported_start >= self.start, e.reported_start < self.end))
        for clause in self._filter_clauses():
            query = query.where(clause)
        return query

    def _filter_clauses(self) -> list[ColumnElement[bool]]:
        f, e = self.filters, MissingEpisode
        clauses: list[ColumnElement[bool]] = []
        if f.authority_id is not None:
            a = f.authority_id
            clauses.append(or_(Child.responsible_authority_id == a, Child.placing_authority_id == a,
                               e.home_authority_id == a, e.receiving_authority_id == a))
        if f.looked_after is not None:
            clauses.append(Child.looked_after == f.looked_after)
        if f.school_id is not None:
            clauses.append(e.child_id.in_(self.on_roll(f.school_id)))
        if f.age_band is not None:
            _label, low, high = AGE_BANDS[f.age_band]
            months = self.local.month_number(e.reported_start) - self.local.date_month_number(Child.birth_month)
            clauses.append(and_(Child.birth_month.is_not(None), months >= low * 12, months < high * 12))
        return clauses

    def on_roll(self, school_id: int) -> Select:
        """Children on the school's roll at any time in the period."""
        f = self.filters
        return select(Enrolment.child_id).where(
            Enrolment.school_id == school_id, Enrolment.start_date <= f.date_to,
            or_(Enrolment.end_date.is_(None), Enrolment.end_date >= f.date_from))
