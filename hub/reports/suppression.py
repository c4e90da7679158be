"""Small-number suppression for every figure meant for publication (the annual workbook).

Pure functions: numbers in, published values out; nothing read or written.

- **Primary**: a count of 1 up to the threshold minus one is shown as ``c`` (the symbol the
  Department for Education's statistics use for "confidential").
- **Zero is shown as 0.** UK government statistics (the GSS "symbols in tables" convention
  followed by DfE and ONS releases) publish true zeros: a zero discloses no individual, and
  hiding zeros would hide that something did not happen at all.
- **Secondary**: a published total lets a reader work a lone hidden cell out by subtraction.
  The table is seen with its totals as a set of sums (each row and column, its total included);
  wherever exactly one entry of a sum is hidden, the next smallest entry of it is hidden too
  (a non-zero cell first, since a hidden zero protects little; the total itself when no cell is
  left). Hiding one cell can expose another sum, so this repeats until nothing changes.
- **Totals** are the true sums of the true values, so the figures left visible stay consistent
  with them; a total below the threshold is hidden like any other count.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app, has_app_context

SUPPRESSED = "c"
DEFAULT_THRESHOLD = 10

Published = int | str
Position = tuple[int, int]


def threshold() -> int:
    """The configured threshold (HUB_REPORT_SUPPRESSION_THRESHOLD), or the default outside an app."""
    if has_app_context():
        return current_app.config["HUB"].report_suppression_threshold
    return DEFAULT_THRESHOLD


def hidden(value: int, limit: int) -> bool:
    """Primary suppression: a small count that is not zero."""
    return 0 < value < limit


def suppress_count(value: int, limit: int) -> Published:
    """A figure published on its own (no totals beside it to subtract from)."""
    return SUPPRESSED if hidden(value, limit) else value


def suppress_series(values: Sequence[int], limit: int, *, total: bool = True) -> list[Published]:
    """One row of counts, with its total last when `total`."""
    return suppress_table([list(values)], limit, totals=total)[0]


def suppress_table(values: Sequence[Sequence[int]], limit: int, *, totals: bool = True) -> list[list[Published]]:
    """A table of counts, suppressed. With `totals`, a total column and a total row are added
    (the last column and row; the grand total in the corner) and secondary suppression protects
    every cell against them. Without totals nothing can be subtracted, so primary suppression is
    enough."""
    grid = [list(row) for row in values]
    if totals:
        grid = _with_totals(grid)
    hide = {(r, c) for r, row in enumerate(grid) for c, value in enumerate(row) if hidden(value, limit)}
    if totals:
        hide = _secondary(grid, hide)
    return [[SUPPRESSED if (r, c) in hide else value for c, value in enumerate(row)] for r, row in enumerate(grid)]


def _with_totals(grid: list[list[int]]) -> list[list[int]]:
    rows = [row + [sum(row)] for row in grid]
    width = len(rows[0]) if rows else 1
    return rows + [[sum(row[c] for row in rows) for c in range(width)]]


def _sums(grid: list[list[int]]) -> list[list[Position]]:
    """Each row and each column of the table with totals, its total entry last."""
    height, width = len(grid), len(grid[0]) if grid else 0
    rows = [[(r, c) for c in range(width)] for r in range(height)]
    columns = [[(r, c) for r in range(height)] for c in range(width)]
    return rows + columns


def _secondary(grid: list[list[int]], hide: set[Position]) -> set[Position]:
    hide = set(hide)
    changed = True
    while changed:
        changed = False
        for entries in _sums(grid):
            if sum(1 for p in entries if p in hide) == 1:
                hide.add(_complement(grid, entries, hide))
                changed = True
    return hide


def _complement(grid: list[list[int]], entries: list[Position], hide: set[Position]) -> Position:
    """The entry to hide beside a lone hidden one: the smallest visible cell (non-zero first,
    then the earliest), else the sum's total."""
    cells = [p for p in entries[:-1] if p not in hide]
    if not cells:
        return entries[-1]
    return min(cells, key=lambda p: (grid[p[0]][p[1]] == 0, grid[p[0]][p[1]], p))
