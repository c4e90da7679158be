"""The annual report workbook: it opens, has a sheet per theme with native charts and the Notes,
its small counts read c (with secondary suppression against the totals), the collection-year
boundary is the UK's midnight, and the command line and the button both make it (audited)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hub import db
from hub.models.audit import AuditEvent
from hub.models.missing import Classification
from hub.models.roles import OrgKind, Role
from hub.permissions import command_line_report_scope
from hub.reports import annual, annual_themes
from hub.reports.figures import Figure
from hub.reports.returns import CollectionYear
from hub.reports.suppression import LinkedCounts
from tests.factories import make_child, make_org, make_user, report_episode, sign_in

UTC = UTC
THEMES = ["Episodes by month", "Repeat missing", "Looked after", "Return interviews", "School notifications", "MACE"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def world(app):
    """Hand-counted, collection year 2026 (1 April 2025 to 31 March 2026):
    May 2025: 12 missing, 3 absent; June 2025: 15 missing, 11 absent; March 2026: 20 missing, all
    at 31 March 23:30 BST; and one more at 1 April 2026 00:30 BST, which is the next year's."""
    w = type("World", (), {})()
    w.authority, w.police, w.host = (make_org(OrgKind.childrens_social_care), make_org(OrgKind.police),
                                     make_org(OrgKind.mace_host))
    kids = [make_child(f"Year{n}", "Child", date(2011, 2, n + 1), looked_after=n % 2 == 0,
                       responsible_authority_id=w.authority.id) for n in range(5)]
    missing, absent = Classification.missing, Classification.absent
    plan = ([(utc(2025, 5, 10, 12), missing)] * 12 + [(utc(2025, 5, 11, 12), absent)] * 3
            + [(utc(2025, 6, 10, 12), missing)] * 15 + [(utc(2025, 6, 11, 12), absent)] * 11
            + [(utc(2026, 3, 31, 22, 30), missing)] * 20 + [(utc(2026, 3, 31, 23, 30), missing)])
    officer, _ = make_user(w.police, Role.police_officer)
    for n, (start, kind) in enumerate(plan):
        report_episode(officer, kids[n % 5], police_reference=f"MP/A/{n}", reported_start=start,
                       found_at=start.replace(hour=23, minute=59), classification=kind)
    w.analyst, w.analyst_secret = make_user(w.host, Role.analyst)
    w.worker, w.worker_secret = make_user(w.authority, Role.social_worker)
    w.dpo, w.dpo_secret = make_user(w.host, Role.dpo)
    return w


def open_book(content: bytes):
    return load_workbook(io.BytesIO(content))


def table(sheet, caption: str) -> list[list]:
    """The rows of the table under `caption` (headings first), down to the first empty row."""
    top = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == caption)
    rows, r = [], top + 1
    while sheet.cell(r, 1).value not in (None, ""):
        rows.append([c.value for c in sheet[r] if c.column <= sheet.max_column])
        r += 1
    return [[v for v in row if v is not None] for row in rows]


def build(year: int = 2026) -> annual.AnnualReport:
    return annual.build(command_line_report_scope(), CollectionYear(year), 10, whole_area=True)


def test_the_workbook_opens_with_a_sheet_per_theme_native_charts_and_the_notes(world):
    book = open_book(build().content)
    assert book.sheetnames == THEMES + ["Notes"]
    for name in THEMES:
        assert book[name]._charts, f"{name} has no chart"
    assert not book["Notes"]._charts


def test_small_counts_read_c_and_a_lone_one_cannot_be_worked_out_from_the_totals(world):
    rows = table(open_book(build().content)["Episodes by month"], "Episodes by month and type")
    assert rows[0] == ["Month", "Missing", "Absent", "Total"]
    by_month = {row[0]: row[1:] for row in rows[1:]}
    # 3 absent in May is hidden; so is May's 12 (the next smallest of its row), June's 11 (of the
    # Absent column) and June's 15 (of the Missing column, and then of June's row).
    assert by_month["May 2025"] == ["c", "c", 15]
    assert by_month["June 2025"] == ["c", "c", 26]
    assert by_month["March 2026"] == [20, 0, 20]  # 31 March 23:30 BST is in the year; 00:30 on 1 April is not
    assert by_month["April 2025"] == [0, 0, 0]
    assert by_month["Total"] == [47, 14, 61]


def test_the_next_year_starts_at_the_uk_midnight(world):
    rows = table(open_book(build(2027).content)["Episodes by month"], "Episodes by month and type")
    assert {row[0]: row[1:] for row in rows[1:]}["April 2026"] == ["c", 0, "c"]


def test_the_notes_give_the_threshold_the_rule_zero_and_the_period(world):
    notes = {row[0].value: row[1].value for row in open_book(build().content)["Notes"].iter_rows(min_row=4)}
    assert "1 April 2025 to 31 March 2026" in notes["Period"]
    assert "from 1 to 9 is shown as c" in notes["Suppression"] and "HUB_REPORT_SUPPRESSION_THRESHOLD" in notes[
        "Suppression"]
    assert "Zero is shown as 0" in notes["Suppression"]
    assert "next smallest" in notes["Secondary suppression"]


def test_a_chart_draws_from_the_cells_of_its_table(world):
    sheet = open_book(build().content)["Episodes by month"]
    chart = sheet._charts[0]
    refs = [s.val.numRef.f for s in chart.series]
    assert refs[0].startswith("'Episodes by month'!$B$") and refs[1].startswith("'Episodes by month'!$C$")


def test_the_command_line_writes_the_workbook_prints_progress_and_is_audited_as_cli(world, runner, tmp_path):
    out = tmp_path / "annual.xlsx"
    result = runner.invoke(args=["reports", "annual", "--year", "2026", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "[1/7] Episodes by month" in result.output and "[7/7] Notes" in result.output
    assert open_book(out.read_bytes()).sheetnames == THEMES + ["Notes"]
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "report-export"))
    assert event.actor_user_id is None and event.request_id.startswith("cli-")
    assert json.loads(event.detail) == {"report": "annual", "year": 2026, "sheets": 7}


def test_the_command_line_refuses_a_year_out_of_range(world, runner, tmp_path):
    result = runner.invoke(args=["reports", "annual", "--year", "1999", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and "Enter a collection year from 2015" in result.output


def test_the_button_gives_the_analyst_the_workbook(world, client):
    sign_in(client, world.analyst, world.analyst_secret)
    form = client.get("/reports/annual")
    html = form.get_data(as_text=True)
    # The form offers the latest year with data: the episode of 1 April 2026 00:30 BST is 2027's.
    assert form.status_code == 200 and 'value="2027"' in html and "<strong>c</strong>" in html
    response = client.get("/reports/annual?year=2026")
    assert response.status_code == 200
    assert 'filename="missing-annual-report-2026.xlsx"' in response.headers["Content-Disposition"]
    assert open_book(response.get_data()).sheetnames == THEMES + ["Notes"]
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "report-export"))
    assert event.actor_user_id == world.analyst.id


def test_a_bad_year_on_the_button_shows_the_form_with_an_error_summary(world, client):
    sign_in(client, world.analyst, world.analyst_secret)
    response = client.get("/reports/annual?year=1999")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "govuk-error-summary" in html and 'value="1999"' in html


def test_someone_with_no_reports_cannot_make_the_annual_report(world, client):
    sign_in(client, world.dpo, world.dpo_secret)
    assert client.get("/reports/annual").status_code == 404
    assert client.get("/reports/annual?year=2026").status_code == 404


def published(make, limit: int = 10) -> annual_themes.Table:
    """A table made on its own, suppressed as a workbook of that one table."""
    counts = LinkedCounts()
    table = make(counts)
    return table.published(counts.protect(limit))


def test_a_percentage_is_hidden_with_its_count_and_with_the_count_it_is_a_share_of():
    figure = Figure(key="x", title="", subtitle="", columns=["Episodes", "Number", "Per cent"],
                    rows=[["Ended", 40, 100.0], ["Interview offered", 4, 10.0], ["Interview done", 20, 50.0],
                          ["Agencies", 12, None]])
    assert published(lambda counts: annual_themes.nested_table("t", figure, counts, "t")).rows == [
        ["Ended", 40, 100.0], ["Interview offered", "c", "c"], ["Interview done", 20, 50.0], ["Agencies", 12, None]]
    small_base = Figure(key="x", title="", subtitle="", columns=["Episodes", "Number", "Per cent"],
                        rows=[["Ended", 8, 100.0], ["Interview done", 0, 0.0]])
    assert published(lambda counts: annual_themes.nested_table("t", small_base, counts, "t")).rows == [
        ["Ended", "c", "c"], ["Interview done", 0, "c"]]


def test_a_single_column_table_is_protected_against_its_total_without_repeating_it():
    made = published(lambda counts: annual_themes.additive_table(
        "Risk", "Risk level", ["High", "Medium", "Low"], ["Children"], [[3], [12], [20]], counts, "risk"))
    assert made.columns == ["Risk level", "Children"]
    assert made.rows == [["High", "c"], ["Medium", "c"], ["Low", 20], ["Total", 35]]
