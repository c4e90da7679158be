"""The annual report: the year's picture of missing as an xlsx workbook for the partnership board.

A sheet per theme (episodes by month, repeat missing, looked after, return interviews, school
notifications, MACE), each table with a native spreadsheet chart drawn from its cells, and a
Notes sheet. The figures are the dashboard's own (hub.reports.figures), for the collection year
(1 April to 31 March, named by the year it ends in, as hub.reports.returns names it). Being meant
for publication, every count goes through hub.reports.suppression before it is written:
additive tables (months by type, months by risk grade, where episodes began, MACE risk levels)
with their totals and secondary suppression; the other tables (nested counts such as "offered"
within "ended") cell by cell, and a percentage is hidden with its count. The figures' own
headlines quote counts, so the workbook writes its own titles instead.

The web button builds the viewer's own part of the picture (hub.permissions.report_scope); the
command line builds the whole area's, as the analyst sees it, audited with the cli channel.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, select

from hub import db
from hub.audit import service as audit
from hub.auth.models import User
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.exports import inert_text
from hub.missing.models import MissingEpisode, RiskGrade
from hub.people.models import Child
from hub.permissions import ReportScope, command_line_report_scope, report_scope
from hub.reports import figures, suppression
from hub.reports.returns import LONDON, CollectionYear, collection_year, latest_complete_year, latest_year
from hub.reports.suppression import SUPPRESSED

Progress = Callable[[int, int, str], None]


@dataclass
class Table:
    """A published table: its caption, headings, rows (first column the label) and the columns
    its chart draws (indexes into the headings; none for no chart)."""

    caption: str
    columns: list[str]
    rows: list[list[Any]]
    chart_columns: list[int] = field(default_factory=list)
    #: Rows drawn by the chart (a total row is not).
    chart_rows: int | None = None


@dataclass
class Theme:
    sheet: str
    title: str
    tables: list[Table]


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


# --- the workbook ------------------------------------------------------------------------------------

THEMES: list[tuple[str, Callable[[ReportScope, figures.ReportFilters, int], Theme | None]]] = []


def build(scope: ReportScope, year: CollectionYear, limit: int, whole_area: bool,
          progress: Progress | None = None, now: datetime | None = None) -> AnnualReport:
    """Every theme the scope has, then the notes; `progress(done, total, label)` after each."""
    filters = figures.ReportFilters(date_from=year.first_day, date_to=year.last_day)
    themes: list[Theme] = []
    for done, (label, make) in enumerate(THEMES, start=1):
        theme = make(scope, filters, limit)
        if theme is not None:
            themes.append(theme)
        if progress:
            progress(done, len(THEMES) + 1, label)
    now = now or utcnow()
    if provisional(year, now):
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


def _theme(label: str):
    def register(make):
        THEMES.append((label, make))
        return make
    return register


def _figure(scope: ReportScope, filters: figures.ReportFilters, key: str) -> figures.Figure | None:
    try:
        return figures.figure(scope, filters, key)
    except KeyError:  # the scope has no such figure (no episodes, or no MACE groups)
        return None


# --- publishing a figure's numbers ------------------------------------------------------------------

def _is_rate(heading: str) -> bool:
    return heading.lower().startswith("per cent")


def nested_table(caption: str, figure: figures.Figure, limit: int, chart: bool = True) -> Table:
    """A table whose rows overlap (parts of a first row, or separate measures): each count on its
    own, and a percentage hidden when its count or the count it divides by is hidden."""
    rates = [i for i, heading in enumerate(figure.columns) if i and _is_rate(heading)]
    counts = [i for i in range(1, len(figure.columns)) if i not in rates]
    base_hidden = bool(figure.rows) and any(suppression.hidden(_int(figure.rows[0][i]), limit) for i in counts)
    rows = []
    for row in figure.rows:
        hidden_count = any(suppression.hidden(_int(row[i]), limit) for i in counts)
        out = [row[0]]
        for i in range(1, len(figure.columns)):
            if i in counts:
                out.append(suppression.suppress_count(_int(row[i]), limit))
            else:
                out.append(SUPPRESSED if (hidden_count or base_hidden) and row[i] is not None else row[i])
        rows.append(out)
    return Table(caption, list(figure.columns), rows, counts if chart else [])


def additive_table(caption: str, first: str, labels: Sequence[str], headings: Sequence[str],
                   values: Sequence[Sequence[int]], limit: int, total: str = "Total") -> Table:
    """A table whose cells add up across and down: totals added, secondary suppression applied."""
    published = suppression.suppress_table([list(map(_int, row)) for row in values], limit)
    if len(headings) == 1:  # a single column's row totals repeat it (and are hidden with it)
        published = [row[:-1] for row in published]
    rows = [[label, *cells] for label, cells in zip([*labels, total], published)]
    columns = [first, *headings] + ([total] if len(headings) > 1 else [])
    return Table(caption, columns, rows, list(range(1, len(headings) + 1)), len(labels))


def _int(value: Any) -> int:
    return int(value or 0)


def _month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%B %Y")


def _columns(figure: figures.Figure, names: Sequence[str]) -> list[int]:
    return [figure.columns.index(name) for name in names]


# --- the themes --------------------------------------------------------------------------------------

@_theme("Episodes by month")
def episodes_by_month(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    figure = _figure(scope, filters, "episodes-by-month")
    if figure is None:
        return None
    months = [_month_label(row[0]) for row in figure.rows]
    grades = [g.label for g in RiskGrade]
    by_type, by_grade = _columns(figure, ["Missing", "Absent"]), _columns(figure, grades)
    return Theme("Episodes by month", "Episodes of children missing or absent, by month they started", [
        additive_table("Episodes by month and type", "Month", months, ["Missing", "Absent"],
                       [[row[i] for i in by_type] for row in figure.rows], limit),
        additive_table("Episodes by month and risk grade", "Month", months, grades,
                       [[row[i] for i in by_grade] for row in figure.rows], limit),
    ])


@_theme("Repeat missing")
def repeat_missing(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    figure = _figure(scope, filters, "repeat-missing")
    if figure is None:
        return None
    return Theme("Repeat missing", "Children who went missing or were absent, and how often",
                 [nested_table("Children by number of episodes in the year", figure, limit)])


@_theme("Looked after")
def looked_after(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    figure = _figure(scope, filters, "looked-after")
    if figure is None:
        return None
    places = [i for i, heading in enumerate(figure.columns) if heading.startswith("Episodes from")]
    children = Table("Children who went missing or were absent", ["Children", "Number of children"],
                     [[row[0], suppression.suppress_count(_int(row[1]), limit)] for row in figure.rows], [1])
    tables = [children, additive_table(
        "Episodes by where the child went missing from", "Children", [row[0] for row in figure.rows],
        [figure.columns[i] for i in places], [[row[i] for i in places] for row in figure.rows], limit,
        total="All episodes")]
    border = _figure(scope, filters, "cross-border")
    if border is not None and border.rows:
        tables.append(nested_table("Children placed across the area's borders", border, limit))
    return Theme("Looked after", "Looked-after children and other children", tables)


@_theme("Return interviews")
def return_interviews(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    figure = _figure(scope, filters, "return-interviews")
    if figure is None:
        return None
    return Theme("Return interviews", "Return home interviews after episodes that ended in the year",
                 [nested_table("Return home interviews (due within 72 hours of the return)", figure, limit)])


@_theme("School notifications")
def school_notifications(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    figure = _figure(scope, filters, "school-notifications")
    if figure is None:
        return None
    return Theme("School notifications", "Schools told of a pupil missing, and how quickly they acknowledged",
                 [nested_table("School notifications", figure, limit)])


@_theme("MACE")
def mace(scope: ReportScope, filters: figures.ReportFilters, limit: int) -> Theme | None:
    risk = _figure(scope, filters, "mace-risk")
    if risk is None:
        return None
    tables = [additive_table("Children on MACE agendas by risk level", "Risk level", [r[0] for r in risk.rows],
                             ["Children"], [[r[1]] for r in risk.rows], limit)]
    for key, caption in (("mace-actions", "MACE actions and disruption activity"),
                         ("mace-outcomes", "MACE outcomes confirmed on the agencies' own systems")):
        figure = _figure(scope, filters, key)
        if figure is not None:
            tables.append(nested_table(caption, figure, limit))
    return Theme("MACE", "Multi-agency child exploitation (MACE) groups", tables)


# --- writing -----------------------------------------------------------------------------------------

BOLD = Font(bold=True)


def _put(sheet: Worksheet, row: int, column: int, value: Any, bold: bool = False) -> None:
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = inert_text(value)
        cell.data_type = "s"  # never a formula
    else:
        cell.value = value
    if bold:
        cell.font = BOLD


def _write_theme(sheet: Worksheet, theme: Theme) -> None:
    _put(sheet, 1, 1, theme.title, bold=True)
    _put(sheet, 2, 1, f"Counts from 1 to the threshold shown as {SUPPRESSED}: see the Notes sheet.")
    row = 4
    for table in theme.tables:
        row = _write_table(sheet, row, table) + 2
    sheet.column_dimensions["A"].width = 48


def _write_table(sheet: Worksheet, top: int, table: Table) -> int:
    """The table from row `top` (caption, headings, rows) and its chart beside it; the last row used."""
    _put(sheet, top, 1, table.caption, bold=True)
    for c, heading in enumerate(table.columns, start=1):
        _put(sheet, top + 1, c, heading, bold=True)
    for r, values in enumerate(table.rows, start=top + 2):
        for c, value in enumerate(values, start=1):
            _put(sheet, r, c, value)
    last = top + 1 + len(table.rows)
    charted = bool(table.chart_columns) and (table.chart_rows if table.chart_rows is not None else len(table.rows)) > 0
    if charted:
        _add_chart(sheet, table, top + 1)
    return max(last, top + 16) if charted else last


def _add_chart(sheet: Worksheet, table: Table, heading_row: int) -> None:
    """A native bar chart over the table's own cells (a hidden count, "c", plots as nothing)."""
    chart = BarChart()
    chart.type = "col"
    chart.title = table.caption
    chart.height, chart.width = 7.5, 16
    last_row = heading_row + (table.chart_rows if table.chart_rows is not None else len(table.rows))
    for column in table.chart_columns:
        chart.add_data(Reference(sheet, min_col=column + 1, min_row=heading_row, max_row=last_row),
                       titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=heading_row + 1, max_row=last_row))
    anchor = sheet.cell(row=heading_row - 1, column=len(table.columns) + 2).coordinate
    sheet.add_chart(chart, anchor)


def provisional(year: CollectionYear, now: datetime) -> bool:
    """A year not yet ended: its figures will change, and its months to come have no figures."""
    return now < year.ends


def _leave_future_months_blank(themes: list[Theme], now: datetime) -> None:
    """A month not yet begun is blank, not 0: nothing has been counted in it yet. Each sheet's
    title says the figures are provisional."""
    this_month = now.astimezone(LONDON).date().replace(day=1)
    for theme in themes:
        theme.title += " (provisional: the year has not ended)"
        for table in theme.tables:
            for row in table.rows:
                try:
                    month = datetime.strptime(str(row[0]), "%B %Y").date()
                except ValueError:
                    continue  # not a month's row (a total, a kind of place)
                if month > this_month:
                    row[1:] = [None] * (len(row) - 1)


def notes(year: CollectionYear, limit: int, whole_area: bool, now: datetime) -> list[tuple[str, str]]:
    return ([("Provisional", f"The collection year {year.label} has not ended: these figures are provisional and "
                             "will change. Months still to come are left blank.")]
            if provisional(year, now) else []) + [
        ("Period", f"The collection year {year.label}: 1 April {year.year - 1} to 31 March {year.year}. An "
                   "episode counts in the year and month in which it started (UK local time), even when it "
                   "ended later."),
        ("Area", "The whole area covered by the hub." if whole_area else
                 "The part of the area whose records the person who made this report may see."),
        ("Source", "The safeguarding hub: missing episodes recorded by the police (the daily download is the "
                   "authoritative start), children's social care and schools; school notifications; MACE "
                   "group records."),
        ("Missing and absent", "Missing: whereabouts cannot be established and the circumstances are out of "
                               "character or suggest risk of harm. Absent: not where the child is expected or "
                               "required to be."),
        ("Repeat missing", "Children with 2, 3 or 5 or more episodes that started in the year."),
        ("Looked after", "Whether a child is looked after is their status now: the hub keeps no history of it."),
        ("Return interviews", "Offered, held and declined, after episodes that ended in the year; an interview "
                              "is due within 72 hours of the child's return."),
        ("School notifications", "Schools are told of a pupil missing; acknowledged before the deadline (the "
                                 "start of the next school day) or escalated."),
        ("MACE", "Children on the agendas of multi-agency child exploitation groups by their current risk level, "
                 "actions due and overdue, Child Abduction Warning Notices, and outcomes owed by each agency "
                 "present."),
        ("Suppression", f"A count from 1 to {limit - 1} is shown as {SUPPRESSED} (the threshold is {limit}, set by "
                        "HUB_REPORT_SUPPRESSION_THRESHOLD). Zero is shown as 0: following UK government "
                        "statistical practice (the GSS symbols convention used by DfE and ONS), a true zero "
                        "discloses no one."),
        ("Secondary suppression", "Where a row or column with a total would have a single hidden count, the "
                                  "next smallest count in it is hidden too (a non-zero one first, else the "
                                  "total), repeated until no hidden count can be worked out by subtraction. "
                                  "Totals are the true totals."),
        ("Percentages", f"A percentage is shown as {SUPPRESSED} when its count, or the count it is a share of, "
                        "is hidden."),
        ("Charts", f"Each chart is drawn from the table beside it; a hidden count ({SUPPRESSED}) draws as "
                   "nothing."),
        ("Made", f"{now.astimezone(LONDON):%-d %B %Y %H:%M} (UK time)."),
    ]


def _write_notes(sheet: Worksheet, year: CollectionYear, limit: int, whole_area: bool, now: datetime) -> None:
    _put(sheet, 1, 1, "Notes", bold=True)
    _put(sheet, 3, 1, "Item", bold=True)
    _put(sheet, 3, 2, "Note", bold=True)
    for r, (item, text) in enumerate(notes(year, limit, whole_area, now), start=4):
        _put(sheet, r, 1, item, bold=True)
        _put(sheet, r, 2, text)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 110
