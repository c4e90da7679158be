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
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.exports import inert_text
from hub.models.auth import User
from hub.models.missing import MissingEpisode, RiskGrade
from hub.models.people import Child
from hub.permissions import ReportScope, command_line_report_scope, report_scope
from hub.reports import figures, suppression
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED
from hub.reports.returns import LONDON, CollectionYear, collection_year, latest_complete_year, latest_year
from hub.reports.suppression import SUPPRESSED, Key, LinkedCounts

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
    #: Where each count sits among the workbook's linked counts: (row, column) -> its key.
    counts: dict[tuple[int, int], Key] = field(default_factory=dict)
    #: A percentage's (row, column) -> the counts it is hidden with (its own and its base).
    rates: dict[tuple[int, int], list[Key]] = field(default_factory=dict)

    def published(self, hide: set[Key]) -> Table:
        """The table as printed: each hidden count, and each percentage of one, as c."""
        rows = [list(row) for row in self.rows]
        for (r, c), key in self.counts.items():
            if key in hide:
                rows[r][c] = SUPPRESSED
        for (r, c), keys in self.rates.items():
            if rows[r][c] is not None and any(k in hide for k in keys):
                rows[r][c] = SUPPRESSED
        return Table(self.caption, self.columns, rows, self.chart_columns, self.chart_rows)


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

THEMES: list[tuple[str, Callable[[ReportScope, figures.ReportFilters, LinkedCounts], Theme | None]]] = []


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


def nested_table(caption: str, figure: figures.Figure, counts: LinkedCounts, name: str,
                 within: Sequence[tuple[int, int]] = (), sums: Sequence[tuple[Sequence[int], int]] = (),
                 chart: bool = True, row_keys: dict[int, Key] | None = None) -> Table:
    """A table whose rows overlap (parts of a first row, or separate measures). Its counts join the
    workbook's linked counts under (name, row label, column), with the relations a reader knows:
    `within` (row, row of its whole) and `sums` (rows, row of their total), in every count column;
    `row_keys` names a row's count that is also counted elsewhere (a table of one count column).
    A percentage is hidden when its count, or the first row's count it is a share of, is hidden."""
    rates = [i for i, heading in enumerate(figure.columns) if i and _is_rate(heading)]
    columns = [i for i in range(1, len(figure.columns)) if i not in rates]
    table = Table(caption, list(figure.columns), [list(row) for row in figure.rows], columns if chart else [])
    for r, row in enumerate(figure.rows):
        for c in columns:
            key = (row_keys or {}).get(r, (name, row[0], figure.columns[c]))
            table.counts[(r, c)] = counts.count(key, _int(row[c]))
            table.rows[r][c] = _int(row[c])
    for r in range(len(figure.rows)):
        for c in rates:
            table.rates[(r, c)] = [table.counts[(r, i)] for i in columns] + [table.counts[(0, i)] for i in columns]
    for c in columns:
        for part, whole in within:
            counts.at_most(table.counts[(part, c)], table.counts[(whole, c)])
        for parts, total in sums:
            counts.total([table.counts[(p, c)] for p in parts], table.counts[(total, c)])
    return table


def additive_table(caption: str, first: str, labels: Sequence[str], headings: Sequence[str],
                   values: Sequence[Sequence[int]], counts: LinkedCounts, name: str, total: str = "Total",
                   row_totals: Sequence[Key] | None = None, grand: Key | None = None) -> Table:
    """A table whose cells add up across and down, with a total column and a total row. Its counts
    join the linked counts under (name, row label, heading); a row's total, and the grand total, may
    be given the key of the same count printed elsewhere (`row_totals`, `grand`), so that the
    workbook is suppressed knowing they are one number."""
    grid = [[_int(v) for v in row] for row in values]
    single = len(headings) == 1  # a single column's row totals would repeat it: not printed
    row_keys = list(row_totals) if row_totals is not None else [(name, label, total) for label in labels]
    grand_key = grand if grand is not None else (name, total, total)
    columns = [first, *headings] + ([] if single else [total])
    table = Table(caption, columns, [], list(range(1, len(headings) + 1)), len(labels))
    for r, (label, row) in enumerate(zip(labels, grid, strict=True)):
        keys = [counts.count((name, label, heading), v) for heading, v in zip(headings, row, strict=True)]
        for c, key in enumerate(keys, start=1):
            table.counts[(r, c)] = key
        if not single:
            table.counts[(r, len(headings) + 1)] = counts.count(row_keys[r], sum(row))
            counts.total(keys, row_keys[r])
        table.rows.append([label, *row] + ([] if single else [sum(row)]))
    column_sums = [sum(row[c] for row in grid) for c in range(len(headings))]
    column_keys = [grand_key] if single else [(name, total, heading) for heading in headings]
    for c, (key, value) in enumerate(zip(column_keys, column_sums, strict=True), start=1):
        table.counts[(len(labels), c)] = counts.count(key, value)
        counts.total([table.counts[(r, c)] for r in range(len(labels))], key)
    if not single:
        table.counts[(len(labels), len(headings) + 1)] = counts.count(grand_key, sum(column_sums))
        counts.total(column_keys, grand_key)
        counts.total(row_keys, grand_key)
    table.rows.append([total, *column_sums] + ([] if single else [sum(column_sums)]))
    return table


def _int(value: Any) -> int:
    return int(value or 0)


def _columns(figure: figures.Figure, names: Sequence[str]) -> list[int]:
    return [figure.columns.index(name) for name in names]


# --- the themes --------------------------------------------------------------------------------------

#: The keys of counts printed on more than one sheet.
ALL_EPISODES = ("episodes", "all")
ALL_CHILDREN = ("children", "all")
LOOKED_AFTER_ROWS = ("Looked-after children", "Other children")


@_theme("Episodes by month")
def episodes_by_month(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    figure = _figure(scope, filters, "episodes-by-month")
    if figure is None:
        return None
    months = [figure.label(row) for row in figure.rows]
    grades = [g.label for g in RiskGrade]
    by_type, by_grade = _columns(figure, ["Missing", "Absent"]), _columns(figure, grades)
    # A month's episodes are the total of its row in both tables: one count, two places.
    month_totals = [("episodes", month) for month in months]
    return Theme("Episodes by month", "Episodes of children missing or absent, by month they started", [
        additive_table("Episodes by month and type", "Month", months, ["Missing", "Absent"],
                       [[row[i] for i in by_type] for row in figure.rows], counts, "by type",
                       row_totals=month_totals, grand=ALL_EPISODES),
        additive_table("Episodes by month and risk grade", "Month", months, grades,
                       [[row[i] for i in by_grade] for row in figure.rows], counts, "by risk grade",
                       row_totals=month_totals, grand=ALL_EPISODES),
    ])


@_theme("Repeat missing")
def repeat_missing(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    figure = _figure(scope, filters, "repeat-missing")
    if figure is None:
        return None
    # Rows: all children, 2 or more episodes, 3 or more, 5 or more: each within the one before.
    table = nested_table("Children by number of episodes in the year", figure, counts, "repeat",
                         within=[(1, 0), (2, 1), (3, 2)], row_keys={0: ALL_CHILDREN})
    return Theme("Repeat missing", "Children who went missing or were absent, and how often", [table])


@_theme("Looked after")
def looked_after(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    figure = _figure(scope, filters, "looked-after")
    if figure is None:
        return None
    places = [i for i, heading in enumerate(figure.columns) if heading.startswith("Episodes from")]
    kinds = [row[0] for row in figure.rows]
    children = Table("Children who went missing or were absent", ["Children", "Number of children"],
                     [[row[0], _int(row[1])] for row in figure.rows], [1])
    for r, row in enumerate(figure.rows):
        children.counts[(r, 1)] = counts.count(("children", row[0]), _int(row[1]))
    # Every child is looked after or not: the two add up to the children on the Repeat missing sheet.
    counts.count(ALL_CHILDREN, sum(_int(row[1]) for row in figure.rows), printed=False)
    counts.total([children.counts[(r, 1)] for r in range(len(figure.rows))], ALL_CHILDREN)
    episodes_of = [("episodes", kind) for kind in kinds]
    tables = [children, additive_table(
        "Episodes by where the child went missing from", "Children", kinds,
        [figure.columns[i] for i in places], [[row[i] for i in places] for row in figure.rows], counts, "by place",
        total="All episodes", row_totals=episodes_of, grand=ALL_EPISODES)]
    for r, key in enumerate(episodes_of):  # each child had at least one episode
        counts.at_most(children.counts[(r, 1)], key)
    counts.at_most(ALL_CHILDREN, ALL_EPISODES)
    border = _figure(scope, filters, "cross-border")
    if border is not None and border.rows:
        tables.append(nested_table("Children placed across the area's borders", border, counts, "cross-border"))
    return Theme("Looked after", "Looked-after children and other children", tables)


@_theme("Return interviews")
def return_interviews(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    figure = _figure(scope, filters, "return-interviews")
    if figure is None:
        return None
    # Rows: ended, offered, done, done within 72 hours, declined (see figures' definitions).
    table = nested_table("Return home interviews (due within 72 hours of the return)", figure, counts,
                         "return interviews", within=[(1, 0), (2, 1), (3, 2), (4, 1)])
    counts.at_most(table.counts[(0, 1)], ALL_EPISODES)
    return Theme("Return interviews", "Return home interviews after episodes that started in the year",
                 [table])


@_theme("School notifications")
def school_notifications(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    figure = _figure(scope, filters, "school-notifications")
    if figure is None:
        return None
    # Rows: sent, acknowledged, acknowledged before the deadline, escalated.
    return Theme("School notifications", "Schools told of a pupil missing, and how quickly they acknowledged",
                 [nested_table("School notifications", figure, counts, "school notifications",
                               within=[(1, 0), (2, 1), (3, 0)])])


@_theme("MACE")
def mace(scope: ReportScope, filters: figures.ReportFilters, counts: LinkedCounts) -> Theme | None:
    risk = _figure(scope, filters, "mace-risk")
    if risk is None:
        return None
    tables = [additive_table("Children on MACE agendas by risk level", "Risk level", [r[0] for r in risk.rows],
                             ["Children"], [[r[1]] for r in risk.rows], counts, "mace risk")]
    actions = _figure(scope, filters, "mace-actions")
    if actions is not None:  # rows: due, overdue (of those due), notices served, breaches
        tables.append(nested_table("MACE actions and disruption activity", actions, counts, "mace actions",
                                   within=[(1, 0)]))
    outcomes = _figure(scope, filters, "mace-outcomes")
    if outcomes is not None:  # rows: owed = confirmed + not yet confirmed; pairs; agencies
        tables.append(nested_table("MACE outcomes confirmed on the agencies' own systems", outcomes, counts,
                                   "mace outcomes", sums=[([1, 2], 0)]))
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


def _month_to_come(label: Any, now: datetime) -> bool:
    """The row's label is a month after the current one (London time)."""
    for spelling in ("%B %Y", "%Y-%m"):
        try:
            month = datetime.strptime(str(label), spelling).date()
        except ValueError:
            continue  # not a month's row (a total, a kind of place)
        return month > now.astimezone(LONDON).date().replace(day=1)
    return False


def _future_month_counts(themes: list[Theme], now: datetime) -> set[Key]:
    return {key for theme in themes for table in theme.tables for (r, _c), key in table.counts.items()
            if _month_to_come(table.rows[r][0], now)}


def _leave_future_months_blank(themes: list[Theme], now: datetime) -> None:
    """A month not yet begun is blank, not 0: nothing has been counted in it yet. Each sheet's
    title says the figures are provisional."""
    for theme in themes:
        theme.title += " (provisional: the year has not ended)"
        for table in theme.tables:
            for row in table.rows:
                if _month_to_come(row[0], now):
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
        ("Return interviews", "Offered, held and declined, for the episodes that started in the year and have "
                              "ended (the child found), whenever they ended; an interview is due within 72 "
                              f"hours of the child's return. {RETURN_INTERVIEW_OFFERED}"),
        ("School notifications", "Schools are told of a pupil missing; acknowledged before the deadline (the "
                                 "start of the next school day) or escalated."),
        ("MACE", "Children on the agendas of multi-agency child exploitation groups by their current risk level, "
                 "actions due and overdue, Child Abduction Warning Notices, and outcomes owed by each agency "
                 "present."),
        ("Suppression", f"A count from 1 to {limit - 1} is shown as {SUPPRESSED} (the threshold is {limit}, set by "
                        "HUB_REPORT_SUPPRESSION_THRESHOLD). Zero is shown as 0: following UK government "
                        "statistical practice (the GSS symbols convention used by DfE and ONS), a true zero "
                        "discloses no one."),
        ("Secondary suppression", "The sheets are suppressed together, as one set of linked tables: a count "
                                  "printed on two sheets is one count, and the relations a reader could use are "
                                  "all taken into account (each table's totals and parts, looked-after and other "
                                  "children adding up to all children, a part such as interviews offered within "
                                  "its whole). Where a row or column would have a single hidden count, the next "
                                  "smallest count in it is hidden too (a non-zero one first, else the total); and "
                                  "further counts are hidden until every hidden count could, given everything "
                                  f"published, be anything over a range at least {limit} wide. Totals are the "
                                  "true totals."),
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
