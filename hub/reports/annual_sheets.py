"""Writing the annual report's sheets (hub/reports/annual.py builds the workbook): each theme's
tables with their native charts, the months still to come left blank in a provisional year, and
the Notes sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from hub.exports import inert_text
from hub.reports.annual_themes import Table, Theme
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED
from hub.reports.returns import LONDON, CollectionYear
from hub.reports.suppression import SUPPRESSED, Key

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
