"""Reading the reports: the viewer's scope from hub.permissions, the figures, and one audit event
per view or export (the filters, never a name). A viewer with no reports gets a 404, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.models.auth import Organisation, User
from hub.models.roles import OrgKind
from hub.permissions import (
    ReportScope,
    report_figures_withheld,
    report_openable_episode_ids,
    report_school_choices,
    report_scope,
)
from hub.reports import downloads, figures, patterns, suppression
from hub.reports.query import AGE_BANDS, Figure, ReportFilters, ReportQuery

FORMATS = {"csv", "xlsx"}


@dataclass
class Dashboard:
    figures: list[Figure]
    whole_area: bool
    #: The episode figures are not shown (too few episodes the viewer may not open).
    withheld: bool = False
    #: A school's reports: its own notifications only.
    school_only: bool = False


@dataclass
class Download:
    content: bytes
    filename: str
    mimetype: str


@dataclass(frozen=True)
class FilterOptions:
    """The choices of the filter form: authorities and schools by id and name (no personal data)."""

    authorities: list[tuple[int, str]]
    schools: list[tuple[int, str]]


def _scope(actor: User, what: str) -> ReportScope:
    scope = report_scope(actor)
    if scope is None:
        audit.record_refusal(actor, "report", what)
        raise NotFound("no reports for this user")
    return scope


def _detail(filters: ReportFilters, **extra) -> dict:
    """The filters as the audit log keeps them: dates, organisation ids and codes, no person."""
    return {"from": filters.date_from.isoformat(), "to": filters.date_to.isoformat(),
            "authority": filters.authority_id, "age_band": filters.age_band,
            "looked_after": filters.looked_after, "school": filters.school_id, **extra}


def _school_only(scope: ReportScope | None) -> bool:
    return scope is not None and scope.episodes is None and scope.school_notifications is not None


def school_only(actor: User) -> bool:
    """Whether the viewer's reports are a school's: its own notifications, no episode."""
    return _school_only(report_scope(actor))


def withheld_note(limit: int) -> str:
    """What the page and the downloads say in place of withheld figures (never a 0)."""
    return (f"Not shown: these dates and filters leave fewer than {limit} episodes that you may not open yourself, "
            "and figures about so few could describe a child. Choose a longer period or fewer filters.")


def _withheld(actor: User, q: ReportQuery) -> bool:
    """hub.permissions decides, from how many of the page's episodes the viewer may not open."""
    if not q.counts_episodes:
        return False
    counted, unopenable, in_period = q.coverage(report_openable_episode_ids(actor))
    return report_figures_withheld(actor, counted=counted, unopenable=unopenable, unopenable_in_period=in_period,
                                   threshold=suppression.threshold())


def _withhold(figure: Figure) -> Figure:
    """The figure's place on the page, with no number: its subtitle (the period) and the note."""
    return Figure(key=figure.key, title="Not shown for so few episodes", subtitle=figure.subtitle,
                  columns=figure.columns, rows=[], chart="none", notes=[withheld_note(suppression.threshold())],
                  withheld=True)


def dashboard(actor: User, filters: ReportFilters, now: datetime | None = None) -> Dashboard:
    scope = _scope(actor, "dashboard")
    with unit_of_work():
        found = figures.dashboard(scope, filters, now)
        withheld = _withheld(actor, ReportQuery(scope, filters, now or utcnow()))
        if withheld:
            found = [_withhold(f) if f.key in figures.EPISODE_FIGURES else f for f in found]
        audit.record("report-view", actor=actor, object_type="report", object_id="dashboard",
                     detail=_detail(filters, figures=len(found), **({"withheld": True} if withheld else {})))
    return Dashboard(found, scope.whole_area, withheld, school_only=_school_only(scope))


def patterns_page(actor: User, filters: ReportFilters, now: datetime | None = None) -> patterns.PatternsPage:
    scope = _scope(actor, "patterns")
    with unit_of_work():
        q = ReportQuery(scope, filters, now or utcnow())
        withheld = _withheld(actor, q)
        found = patterns.page(q, actor, episodes=not withheld)
        found.withheld = withheld
        # The repeat list links to children's records: the event names them, so "who has seen
        # this child" finds the sight (as for any listing).
        audit.record("report-view", actor=actor, object_type="report", object_id="patterns",
                     children=[line.child_id for line in found.repeat_children],
                     detail=_detail(filters, linked_children=len(found.repeat_children),
                                    **({"withheld": True} if withheld else {})))
    return found


def export(actor: User, filters: ReportFilters, key: str, fmt: str, now: datetime | None = None) -> Download:
    """One figure's data as CSV or xlsx; an unknown figure or format, or one outside the
    viewer's scope, is a 404."""
    scope = _scope(actor, key)
    if fmt not in FORMATS:
        raise NotFound("no such format")
    with unit_of_work():
        figure = _figure(scope, filters, key, actor, now or utcnow())
        if (key in figures.EPISODE_FIGURES or key in patterns.PATTERN_FIGURES) and \
                _withheld(actor, ReportQuery(scope, filters, now or utcnow())):
            figure = _withhold(figure)
        described = describe(filters, episode_filters=not _school_only(scope))
        content = downloads.to_csv(figure) if fmt == "csv" else downloads.to_xlsx(figure, described)
        audit.record("report-export", actor=actor, object_type="report", object_id=key,
                     detail=_detail(filters, format=fmt))
    mimetype = downloads.CSV_TYPE if fmt == "csv" else downloads.XLSX_TYPE
    return Download(content, downloads.filename(figure, fmt), mimetype)


def _figure(scope: ReportScope, filters: ReportFilters, key: str, actor: User, now: datetime) -> Figure:
    try:
        if key in patterns.PATTERN_FIGURES:
            if scope.episodes is None:
                raise KeyError(key)
            return patterns.pattern_figure(ReportQuery(scope, filters, now), actor, key)
        return figures.figure(scope, filters, key, now)
    except KeyError as exc:
        raise NotFound("no such figure") from exc


def describe(filters: ReportFilters, episode_filters: bool = True) -> list[tuple[str, str]]:
    """The filters in words, for a download's notes and the page (a school's reports: the period
    and the school, the only filters that apply to them)."""
    names = dict(db.session().execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_([i for i in (filters.authority_id, filters.school_id) if i is not None]))).all()) \
        if filters.authority_id or filters.school_id else {}
    period = ("Period", f"{filters.date_from:%-d %B %Y} to {filters.date_to:%-d %B %Y} (London dates)")
    school = ("School", names.get(filters.school_id, "All schools"))
    if not episode_filters:
        return [period, school]
    return [
        period,
        ("Authority", names.get(filters.authority_id, "All authorities")),
        ("Age band", AGE_BANDS[filters.age_band][0] if filters.age_band else "All ages"),
        ("Looked after", {True: "Looked-after children", False: "Children not looked after",
                          None: "All children"}[filters.looked_after]),
        school,
    ]


def filter_options(actor: User) -> FilterOptions:
    """Authorities: every children's social care authority. Schools: a DSL's own (or their LA's),
    everyone else's every school."""
    s = db.session()
    authorities = list(s.execute(select(Organisation.id, Organisation.name).where(
        Organisation.kind == OrgKind.childrens_social_care).order_by(Organisation.name)).tuples())
    schools = select(Organisation.id, Organisation.name).where(Organisation.kind == OrgKind.school)
    own = report_school_choices(actor)
    if own is not None:
        schools = schools.where(Organisation.id.in_(own))
    return FilterOptions(authorities, list(s.execute(schools.order_by(Organisation.name)).tuples()))
