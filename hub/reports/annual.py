"""The annual report: the year's picture of missing as an xlsx workbook for the partnership board.

A sheet per theme (episodes by month, repeat missing, looked after, return interviews, school
notifications, MACE), each table with a native spreadsheet chart drawn from its cells, and a
Notes sheet. The figures are the dashboard's own (hub.reports.figures), for the collection year
(1 April to 31 March, named by the year it ends in, as hub.reports.returns names it). Being meant
for publication, every count goes through hub.reports.suppression before it is written, and the
whole workbook is suppressed as one set of linked tables (suppression.LinkedCounts): each count
under one key wherever it is printed (a month's total in the table by type and in the table by risk
grade; the year's episodes on three sheets; all children on one sheet, looked-after and other
children on another), with every relation a reader could use: the sums of the additive tables,
the children of both kinds adding up to all children, and each nested count within its whole
("offered" within "ended"). A percentage is hidden with its count or the count it divides by. The
figures' own headlines quote counts, so the workbook writes its own titles instead.

The web button builds the viewer's own part of the picture (hub.permissions.report_scope); the
command line builds the whole area's, as the analyst sees it, audited with the cli channel. The
themes' tables are hub/reports/annual_themes.py; writing the sheets hub/reports/annual_sheets.py.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.missing import MissingEpisode
from hub.models.people import Child
from hub.permissions import ReportScope, command_line_report_scope, report_scope
from hub.reports import figures, suppression
from hub.reports.annual_sheets import (
    _future_month_counts,
    _leave_future_months_blank,
    _write_notes,
    _write_theme,
    provisional,
)
from hub.reports.annual_themes import THEMES, Theme
from hub.reports.returns import LONDON, CollectionYear, collection_year, latest_complete_year, latest_year
from hub.reports.suppression import LinkedCounts

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class AnnualReport:
    filename: str
    content: bytes
    sheets: list[str]


# --- who builds it -----------------------------------------------------------------------------------

def check_may_build(actor: User) -> ReportScope:
    """The viewer's reporting scope, or 404 (audited) for someone with no reports."""
    scope = report_scope(actor)
    if scope is None:
        audit.record_refusal(actor, "annual-report", None, action="export")
        raise NotFound("no reports for this user")
    return scope


def default_year(actor: User) -> int:
    """The year the form offers: the latest collection year with an episode the viewer's report
    counts (a year of zeros helps no one), else the last year ended."""
    scope = report_scope(actor)
    if scope is None or scope.episodes is None:
        return latest_complete_year()
    latest = db.session().scalar(select(func.max(MissingEpisode.reported_start))
                                 .join(Child, Child.id == MissingEpisode.child_id).where(scope.episodes))
    if latest is None:
        return latest_complete_year()
    return min(latest_year(latest.astimezone(LONDON).date()), latest_year())


def build_for(actor: User, year_number: int) -> AnnualReport:
    """The web button: the viewer's own part of the picture, audited as an export."""
    scope = check_may_build(actor)
    return _build_and_record(actor, scope, collection_year(year_number), whole_area=scope.whole_area)


def build_for_command_line(year_number: int, progress: Progress | None = None) -> AnnualReport:
    """`flask --app hub reports annual`: the whole area, as the analyst sees it."""
    return _build_and_record(None, command_line_report_scope(), collection_year(year_number), True, progress)


def _build_and_record(actor: User | None, scope: ReportScope, year: CollectionYear, whole_area: bool,
                      progress: Progress | None = None) -> AnnualReport:
    report = build(scope, year, suppression.threshold(), whole_area, progress)
    with unit_of_work():
        audit.record("report-export", actor=actor, object_type="annual-report", object_id=year.year,
                     detail={"report": "annual", "year": year.year, "sheets": len(report.sheets)})
    return report


def build(scope: ReportScope, year: CollectionYear, limit: int, whole_area: bool,
          progress: Progress | None = None, now: datetime | None = None) -> AnnualReport:
    """Every theme the scope has, then the notes; `progress(done, total, label)` after each. The
    counts of every sheet are suppressed together, as one set of linked tables."""
    filters = figures.ReportFilters(date_from=year.first_day, date_to=year.last_day)
    counts = LinkedCounts()
    themes: list[Theme] = []
    for done, (label, make) in enumerate(THEMES, start=1):
        theme = make(scope, filters, counts)
        if theme is not None:
            themes.append(theme)
        if progress:
            progress(done, len(THEMES) + 1, label)
    now = now or utcnow()
    ahead = provisional(year, now)
    # A month still to come is printed blank and everyone knows it holds nothing: it can never be
    # the count hidden beside a small one (a reader would take it as 0 and subtract).
    hide = counts.protect(limit, known=_future_month_counts(themes, now) if ahead else set())
    themes = [Theme(t.sheet, t.title, [table.published(hide) for table in t.tables]) for t in themes]
    if ahead:
        _leave_future_months_blank(themes, now)
    book = Workbook()
    book.remove(book.active)
    for theme in themes:
        _write_theme(book.create_sheet(theme.sheet), theme)
    _write_notes(book.create_sheet("Notes"), year, limit, whole_area, now)
    if progress:
        progress(len(THEMES) + 1, len(THEMES) + 1, "Notes")
    buffer = io.BytesIO()
    book.save(buffer)
    return AnnualReport(f"missing-annual-report-{year.year}.xlsx", buffer.getvalue(), book.sheetnames)
