"""The annual report's themes (hub/reports/annual.py builds the workbook): each theme's tables from
the dashboard's figures, every count placed under its key among the workbook's linked counts
(suppression.LinkedCounts), so that the whole workbook is suppressed as one set of tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.models.missing import RiskGrade
from hub.permissions import ReportScope
from hub.reports import figures
from hub.reports.suppression import SUPPRESSED, Key, LinkedCounts


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


# --- the workbook ------------------------------------------------------------------------------------

THEMES: list[tuple[str, Callable[[ReportScope, figures.ReportFilters, LinkedCounts], Theme | None]]] = []


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
