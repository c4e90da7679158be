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

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

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


# --- a workbook's tables as one linked set -----------------------------------------------------------
#
# The tables of a workbook are not independent: a month's total is in the table by type and in the
# table by risk grade, the looked-after children and the other children add up to the children
# counted on another sheet, an offered interview is one of the episodes ended. Suppressing each table
# on its own lets a reader subtract across them (looked after = all children - the others). So the
# whole workbook is one set of counts, each under a key (the same key wherever the same count is
# printed), with the relations a reader knows: sums (parts and their total) and "at most" (a part of a
# nested count). A reader who knows every published count and every relation can bound each hidden
# one by linear programming; secondary suppression goes on until every hidden count's feasible range
# is at least the threshold wide.
#
# The range is proved, not estimated: for each hidden count the code finds integer changes of the
# hidden counts that keep every relation and every published count, and keep every count at 0 or
# more (a "move"), and measures how far the moves shift it down and up. A move is a real alternative
# table the reader cannot rule out, so the reader's range is at least as wide as the moves'. Moves
# come from the null space of the relations over the hidden counts (exact rational arithmetic), and
# from scaling a group of counts none of whose relations has a published entry.

Key = Hashable


@dataclass
class LinkedCounts:
    """Every count of a workbook under its key, and the relations between them."""

    values: dict[Key, int] = field(default_factory=dict)
    #: (parts, total): the parts add up to the total.
    sums: list[tuple[tuple[Key, ...], Key]] = field(default_factory=list)
    #: The counts printed somewhere. The others exist to state a relation (the children of both
    #: kinds together when no sheet prints them, the rest of a whole beyond its part).
    printed: set[Key] = field(default_factory=set)
    #: Counts every reader knows whatever is printed (set by `protect`): never hidden.
    known: set[Key] = field(default_factory=set)

    def count(self, key: Key, value: int, printed: bool = True) -> Key:
        """A count; the same key given twice must be the same number."""
        value = int(value or 0)
        if key in self.values and self.values[key] != value:
            raise ValueError(f"{key!r} is counted as {self.values[key]} and as {value}")
        self.values[key] = value
        if printed:
            self.printed.add(key)
        return key

    @property
    def unpublished(self) -> set[Key]:
        return set(self.values) - self.printed

    def total(self, parts: Sequence[Key], total: Key) -> None:
        """The parts add up to the total (a reader can subtract)."""
        if tuple(parts) != (total,):
            self.sums.append((tuple(parts), total))

    def at_most(self, part: Key, whole: Key) -> None:
        """The part is among the whole (part <= whole): the whole is the part and an unprinted rest."""
        rest_value = self.values[whole] - self.values[part]
        if rest_value < 0:  # not a relation of this data, so not one a reader could rely on
            return
        rest = self.count(("rest of", whole, "beyond", part), rest_value, printed=False)
        self.total([part, rest], whole)

    def protect(self, limit: int, known: set[Key] | frozenset[Key] = frozenset()) -> set[Key]:
        """The printed counts to show as c: primary (1 to limit - 1), then secondary until every
        hidden count's feasible range, given everything printed, is at least `limit` wide.
        `known`: counts every reader knows whatever is printed (a month still to come holds 0),
        never hidden, so never relied on to protect another."""
        self.known = set(known)
        hide = {k for k in self.printed if hidden(self.values[k], limit) and k not in self.known}
        #: Hidden counts whose every linked count is hidden already: nothing more to hide for them.
        settled: set[Key] = set()
        while True:
            hide = self._no_lone_unknown(hide)
            exposed = sorted((k for k, width in self.ranges(hide).items() if width < limit and k not in settled),
                             key=lambda k: (self.values[k], repr(k)))
            if not exposed:
                return hide
            more = self._next_to_hide(exposed[0], hide)
            if more is None:
                settled.add(exposed[0])
            else:
                hide.add(more)

    def unknown(self, hide: set[Key]) -> set[Key]:
        return set(hide) | self.unpublished

    def _no_lone_unknown(self, hide: set[Key]) -> set[Key]:
        """The quick rule first: a sum with one hidden count in it gives it away, so hide another."""
        hide, unpublished = set(hide), self.unpublished
        changed = True
        while changed:
            changed = False
            for parts, total in self.sums:
                entries = [*parts, total]
                unknown = [k for k in entries if k in hide or k in unpublished]
                if len(unknown) == 1 and unknown[0] in hide:
                    visible = [k for k in entries if k not in hide and k not in unpublished and k not in self.known]
                    if visible:
                        hide.add(self._smallest(visible, total))
                        changed = True
        return hide

    def _smallest(self, visible: Sequence[Key], total: Key) -> Key:
        """The entry to hide beside a hidden one: the smallest part (non-zero first), else the total."""
        parts = [k for k in visible if k != total]
        if not parts:
            return total
        return min(parts, key=lambda k: (self.values[k] == 0, self.values[k], repr(k)))

    def _next_to_hide(self, exposed: Key, hide: set[Key]) -> Key | None:
        """A printed count to hide so that `exposed` can move further: the smallest visible entry of
        a sum it is in, else of a sum of a hidden count linked to it, and so on outwards; None when
        every count linked to it is hidden."""
        unknown = self.unknown(hide)
        seen, frontier = {exposed}, [exposed]
        while frontier:
            candidates: list[tuple[Key, Key]] = []
            reached: list[Key] = []
            for parts, total in self.sums:
                entries = [*parts, total]
                if not any(k in frontier for k in entries):
                    continue
                candidates += [(k, total) for k in entries if k not in unknown and k not in self.known]
                reached += [k for k in entries if k in unknown and k not in seen]
            if candidates:
                return min(candidates, key=lambda kt: (kt[0] == kt[1], self.values[kt[0]] == 0,
                                                       self.values[kt[0]], repr(kt[0])))[0]
            seen.update(reached)
            frontier = list(dict.fromkeys(reached))
        return None

    def ranges(self, hide: set[Key]) -> dict[Key, float]:
        """For each hidden count, how far moves are proved to shift it (down plus up)."""
        unknown = self.unknown(hide)
        widths: dict[Key, float] = {}
        for group, relations in self._groups(unknown):
            moves = _null_space(group, relations, self.values)
            if not any(k not in unknown for rel in relations for k in (*rel[0], rel[1])):
                moves.append({k: self.values[k] for k in group if self.values[k]})  # scale the whole group
            for key in group:
                if key in hide:
                    widths[key] = max((_reach(move, key, self.values) for move in moves), default=0.0)
        related = {k for parts, total in self.sums for k in (*parts, total)}
        for key in hide - related:  # in no relation: nothing to subtract from
            widths[key] = float("inf")
        return widths

    def _groups(self, unknown: set[Key]) -> list[tuple[list[Key], list[tuple[tuple[Key, ...], Key]]]]:
        """The hidden counts in groups joined by the sums they share, each with those sums."""
        parent = {k: k for k in unknown}

        def root(k: Key) -> Key:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        touching = []
        for parts, total in self.sums:
            inside = [k for k in (*parts, total) if k in unknown]
            if inside:
                touching.append(((parts, total), inside))
                for k in inside[1:]:
                    parent[root(k)] = root(inside[0])
        groups: dict[Key, tuple[list[Key], list]] = {}
        for k in sorted(unknown, key=repr):
            groups.setdefault(root(k), ([], []))[0].append(k)
        for relation, inside in touching:
            groups[root(inside[0])][1].append(relation)
        return [g for g in groups.values() if g[1]]


def _null_space(group: list[Key], relations: list[tuple[tuple[Key, ...], Key]],
                values: dict[Key, int]) -> list[dict[Key, int]]:
    """A basis of the changes to the group's counts that keep every relation (parts minus total
    unchanged), by exact Gauss-Jordan elimination on sparse rows, each made integral. The large
    counts come first, so they are the pivots that absorb a change and the small ones are the free
    variables (a move then shifts few small counts, and goes further)."""
    order = sorted(group, key=lambda k: (-values[k], repr(k)))
    column = {k: i for i, k in enumerate(order)}
    rows: list[dict[int, Fraction]] = []
    for parts, total in relations:
        row: dict[int, Fraction] = {}
        for k in parts:
            if k in column:
                row[column[k]] = row.get(column[k], Fraction(0)) + 1
        if total in column:
            row[column[total]] = row.get(column[total], Fraction(0)) - 1
        row = {c: x for c, x in row.items() if x}
        if row:
            rows.append(row)
    pivots: dict[int, dict[int, Fraction]] = {}  # pivot column -> its row (1 in the pivot column)
    for c in range(len(order)):
        at = next((i for i, row in enumerate(rows) if c in row), None)
        if at is None:
            continue
        row = rows.pop(at)
        lead = row[c]
        row = {j: x / lead for j, x in row.items()}
        for other in [*rows, *pivots.values()]:
            factor = other.get(c)
            if factor:
                for j, x in row.items():
                    y = other.get(j, 0) - factor * x
                    if y:
                        other[j] = y
                    else:
                        other.pop(j, None)
        pivots[c] = row
    moves = []
    for free in (c for c in range(len(order)) if c not in pivots):
        move = {order[free]: Fraction(1)}
        for p, row in pivots.items():
            if row.get(free):
                move[order[p]] = -row[free]
        scale = math.lcm(*(f.denominator for f in move.values()))
        steps = {k: int(f * scale) for k, f in move.items()}
        divisor = math.gcd(*steps.values())
        moves.append({k: s // divisor for k, s in steps.items()})
    return moves


def _reach(steps: dict[Key, int], key: Key, values: dict[Key, int]) -> float:
    """How far whole multiples of the (integral) move shift `key`, down plus up, with every count
    staying at 0 or more."""
    if not steps.get(key):
        return 0.0
    up = min((values[k] // -s for k, s in steps.items() if s < 0), default=None)
    down = min((values[k] // s for k, s in steps.items() if s > 0), default=None)
    if up is None or down is None:
        return float("inf")
    return float((up + down) * abs(steps[key]))
