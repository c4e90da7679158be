"""Suppression across the annual workbook as one set of linked tables (issue 19, item 9), tested
against an attacker: an exact integer solver (tests/reports/attacker.py) that knows every count the
workbook prints and every relation between them (each table's totals and parts, the same count on
other sheets, the looked-after and other children adding up to all children, a nested count within
its whole) and bounds every hidden count. Each c must stay undetermined over at least the
threshold: its least and greatest possible values at least `limit` apart.

The attacker's relations are read from the workbook's layout here, independently of the relations
hub.reports.suppression was given."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.roles import OrgKind
from hub.permissions import command_line_report_scope
from hub.reports import annual
from hub.reports.returns import CollectionYear
from hub.reports.suppression import LinkedCounts, hidden
from tests.factories import make_child, make_org
from tests.reports.attacker import feasible_ranges
from tests.reports.world import add_episode

UTC = UTC
LIMIT = 10
C = "c"


# --- the attacker's view of a workbook --------------------------------------------------------------

def tables(sheet) -> dict[str, list[list]]:
    """Every table of a theme sheet by caption: headings, then rows (label first)."""
    found, r = {}, 4
    while r <= sheet.max_row:
        caption = sheet.cell(r, 1).value
        if caption in (None, ""):
            r += 1
            continue
        rows, r = [], r + 1
        while r <= sheet.max_row and sheet.cell(r, 1).value not in (None, ""):
            rows.append([sheet.cell(r, c).value for c in range(1, sheet.max_column + 1)])
            r += 1
        found[caption] = rows
    return found


class Reader:
    """What a reader of the workbook knows: printed counts, hidden ones, and the relations."""

    def __init__(self) -> None:
        self.published: dict = {}
        self.unknown: set = set()
        self.sums: list = []
        self.at_most: list = []

    def cell(self, key, value) -> object:
        if value == C:
            self.unknown.add(key)
        else:
            assert isinstance(value, int), (key, value)
            assert self.published.get(key, value) == value, f"{key} printed twice, differently"
            self.published[key] = value
        return key

    def grid(self, rows: list[list], name: str, row_total=None, grand=None) -> None:
        """An additive table with a total column and a total row."""
        headings = [h for h in rows[0][1:] if h is not None]
        body, width = rows[1:-1], len(headings) - 1
        for row in body:
            parts = [self.cell((name, row[0], h), row[1 + c]) for c, h in enumerate(headings[:-1])]
            total = self.cell(row_total(row[0]) if row_total else (name, row[0], "total"), row[1 + width])
            self.sums.append((parts, total))
        last = rows[-1]
        columns = [self.cell((name, "total", h), last[1 + c]) for c, h in enumerate(headings[:-1])]
        grand_key = self.cell(grand or (name, "total", "total"), last[1 + width])
        for c, h in enumerate(headings[:-1]):
            self.sums.append(([(name, row[0], h) for row in body], columns[c]))
        self.sums.append((columns, grand_key))
        self.sums.append(([row_total(row[0]) if row_total else (name, row[0], "total") for row in body], grand_key))

    def nested(self, rows: list[list], name: str, within: list[tuple[int, int]], first=None) -> list:
        keys = [self.cell(first if (first and r == 0) else (name, row[0]), row[1]) for r, row in enumerate(rows[1:])]
        self.at_most += [(keys[part], keys[whole]) for part, whole in within]
        return keys

    def attack(self) -> dict:
        return feasible_ranges(self.published, self.unknown, self.sums, self.at_most)


def read_workbook(content: bytes) -> Reader:
    book, reader = load_workbook(io.BytesIO(content)), Reader()
    months = tables(book["Episodes by month"])
    reader.grid(months["Episodes by month and type"], "type", lambda m: ("month", m), "all episodes")
    reader.grid(months["Episodes by month and risk grade"], "grade", lambda m: ("month", m), "all episodes")
    repeat = tables(book["Repeat missing"])["Children by number of episodes in the year"]
    reader.nested(repeat, "repeat", [(1, 0), (2, 1), (3, 2)], first="all children")
    looked_after = tables(book["Looked after"])
    kinds = looked_after["Children who went missing or were absent"][1:]
    children = [reader.cell(("children", row[0]), row[1]) for row in kinds]
    reader.sums.append((children, "all children"))
    reader.grid(looked_after["Episodes by where the child went missing from"], "place",
                lambda kind: ("episodes", kind), "all episodes")
    reader.at_most += [(("children", row[0]), ("episodes", row[0])) for row in kinds]
    reader.at_most.append(("all children", "all episodes"))
    interviews = tables(book["Return interviews"])
    ended = reader.nested(next(iter(interviews.values())), "rhi", [(1, 0), (2, 1), (3, 2), (4, 1)])[0]
    reader.at_most.append((ended, "all episodes"))
    return reader


def assert_every_c_is_protected(reader: Reader, limit: int = LIMIT) -> None:
    ranges = reader.attack()
    exposed = {k: r for k, r in ranges.items() if r[1] - r[0] < limit}
    assert not exposed, f"hidden counts the attacker narrows to under {limit}: {exposed}"


# --- data -----------------------------------------------------------------------------------------

def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def build() -> bytes:
    return annual.build(command_line_report_scope(), CollectionYear(2026), LIMIT, whole_area=True).content


def add_children_and_episodes(looked_after: int, others: int, episodes: list[tuple], rng: random.Random) -> None:
    """`looked_after` and `others` children; `episodes` (child index, start, classification, grade,
    place, interview) spread over them."""
    authority, police = make_org(OrgKind.childrens_social_care), make_org(OrgKind.police)
    kids = [make_child(f"Linked{n}", "Child", date(2011, 5, 1 + n % 28), looked_after=n < looked_after,
                       responsible_authority_id=authority.id) for n in range(looked_after + others)]
    for n in range(len(kids)):  # every child has at least one episode in the year
        episodes.append((n, utc(2025, 4 + n % 9, 3, 12), Classification.missing, RiskGrade.medium,
                         MissingFrom.home, None))
    for child, start, kind, grade, place, interview in episodes:
        found = start + timedelta(hours=rng.choice([3, 30]))
        extra = {}
        if interview == "done":
            extra = {"return_interview_offered_at": found + timedelta(hours=5),
                     "return_interview_at": found + timedelta(hours=rng.choice([20, 100]))}
        elif interview == "declined":
            extra = {"return_interview_offered_at": found + timedelta(hours=5), "return_interview_declined": True}
        elif interview == "offered":
            extra = {"return_interview_offered_at": found + timedelta(hours=5)}
        add_episode(kids[child % len(kids)], police, start, found, classification=kind, risk_grade=grade,
                    missing_from=place, **extra)


def random_episodes(rng: random.Random, children: int, n: int) -> list[tuple]:
    months = [utc(2025, m, 10, 12) for m in range(4, 13)] + [utc(2026, m, 10, 12) for m in (1, 2, 3)]
    return [(rng.randrange(children), rng.choice(months[: rng.randint(2, 12)]),
             rng.choice([Classification.missing, Classification.missing, Classification.absent]),
             rng.choice(list(RiskGrade)), rng.choice(list(MissingFrom)),
             rng.choice([None, "offered", "done", "declined"])) for _ in range(n)]


# --- the tests ------------------------------------------------------------------------------------

def test_looked_after_children_cannot_be_worked_out_as_all_children_less_the_others(app):
    """The case the issue names: 3 looked-after children and 40 others. On its own the Looked after
    sheet hides the 3; the Repeat missing sheet prints all 43 children, so 3 = 43 - 40 unless the
    workbook hides more."""
    rng = random.Random(19)
    add_children_and_episodes(3, 40, [], rng)
    reader = read_workbook(build())
    assert ("children", "Looked-after children") in reader.unknown
    assert_every_c_is_protected(reader)


@pytest.mark.parametrize("seed", range(6))
def test_no_hidden_count_of_a_generated_workbook_can_be_narrowed_by_the_attacker(app, seed):
    rng = random.Random(seed)
    looked_after, others = rng.randint(1, 12), rng.randint(5, 30)
    add_children_and_episodes(looked_after, others,
                              random_episodes(rng, looked_after + others, rng.randint(10, 80)), rng)
    reader = read_workbook(build())
    assert reader.unknown, "the data should have small counts to hide"
    assert_every_c_is_protected(reader)


def test_counts_that_are_not_hidden_are_printed_true(app):
    """The attacker above would be fooled by a workbook that printed false numbers: the printed
    counts must be the real ones, and every table must still add up."""
    rng = random.Random(5)
    add_children_and_episodes(4, 20, random_episodes(rng, 24, 40), rng)
    reader = read_workbook(build())
    unsuppressed = read_workbook(annual.build(command_line_report_scope(), CollectionYear(2026), 1,
                                              whole_area=True).content)
    assert not unsuppressed.unknown
    for key, value in reader.published.items():
        assert unsuppressed.published[key] == value, key


# --- the linked counts on their own, many shapes ------------------------------------------------------

def linked_tables(rng: random.Random) -> LinkedCounts:
    """Two tables sharing their row totals (months by type and by grade), a partition of children
    whose whole is printed elsewhere, and a nested count."""
    counts, months = LinkedCounts(), range(rng.randint(1, 12))
    small = [0, 0, 1, 2, 3, 5, 8, 9, 11, 14, 25, 40]
    for m in months:
        by_type = [rng.choice(small), rng.choice(small)]
        by_grade = [0] * 4
        for _ in range(sum(by_type)):
            by_grade[rng.randrange(4)] += 1
        for name, row in (("type", by_type), ("grade", by_grade)):
            keys = [counts.count((name, m, c), v) for c, v in enumerate(row)]
            counts.total(keys, counts.count(("month", m), sum(row)))
    for name, width in (("type", 2), ("grade", 4)):
        columns = []
        for c in range(width):
            columns.append(counts.count((name, "total", c), sum(counts.values[(name, m, c)] for m in months)))
            counts.total([(name, m, c) for m in months], columns[-1])
        counts.total(columns, counts.count("all", sum(counts.values[("month", m)] for m in months)))
    counts.total([("month", m) for m in months], "all")
    la, other = rng.choice(small), rng.choice(small)
    counts.total([counts.count("la", la), counts.count("other", other)], counts.count("children", la + other))
    counts.count("two or more", rng.randint(0, la + other))
    counts.at_most("two or more", "children")
    return counts


@pytest.mark.parametrize("seed", range(40))
def test_linked_tables_of_many_shapes_leave_every_c_undetermined(seed):
    counts = linked_tables(random.Random(seed))
    hide = counts.protect(LIMIT)
    assert {k for k in counts.printed if hidden(counts.values[k], LIMIT)} <= hide
    published = {k: v for k, v in counts.values.items() if k in counts.printed and k not in hide}
    ranges = feasible_ranges(published, hide | counts.unpublished, counts.sums)
    for key in hide:
        low, high = ranges[key]
        assert high - low >= LIMIT, (seed, key, counts.values[key], low, high)


def test_a_count_every_reader_knows_is_never_the_one_hidden_beside_a_small_one():
    """A provisional year's months to come print blank and hold 0: hiding one of them beside a
    small count protects nothing, since a reader takes it as 0 and subtracts."""
    counts = LinkedCounts()
    months = [counts.count(("month", m), v) for m, v in (("Apr", 3), ("May", 0), ("Jun", 0), ("Jul", 5))]
    counts.total(months, counts.count(("month", "total"), 8))
    future = {("month", "May"), ("month", "Jun")}
    hide = counts.protect(10, known=future)
    assert ("month", "Apr") in hide and len(hide) >= 2 and not hide & future
