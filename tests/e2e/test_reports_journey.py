"""The picture of missing, clicked through (issue 14): the partnership's analyst opens the
dashboard from the menu, sees charts and the same figures as tables, filters to 2026 and then to
looked-after children (too few episodes to show figures to someone who may open none); a member
of the missing team opens the patterns and follows a repeat-missing pattern to the child's record behind it.
(The annual report's download is added to this journey with the annual report.)"""

from __future__ import annotations

import io
from datetime import date

import openpyxl

from tests.factories import PASSWORD
from tests.reports.picture import build
from tests.support.browser import assert_accessible, signed_in_page
from tests.support.mace import name_member


def _signed_in(browser, live_server, who: tuple):
    return signed_in_page(browser, live_server, who, PASSWORD)


def _fill_date(page, legend: str, day: date) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def test_the_analyst_reads_the_picture_and_the_missing_team_follows_a_pattern(browser, live_server, app):
    world = build()

    # 1. The analyst opens the dashboard from the menu: charts, and the same figures as tables.
    analyst = _signed_in(browser, live_server, world.users["analyst"])
    analyst.get_by_role("navigation", name="Menu").get_by_role("link", name="Reports").click()
    analyst.get_by_role("heading", name="The picture of missing").wait_for()
    _fill_date(analyst, "From", date(2026, 1, 1))
    _fill_date(analyst, "To", date(2026, 12, 31))
    analyst.get_by_role("button", name="Apply filters").click()
    headline = analyst.get_by_role("heading", name="13 episodes began in the period: 5 missing and 8 absent")
    headline.wait_for()
    assert analyst.locator("figure svg[role=img]").count() == 13
    assert analyst.get_by_role("img", name="13 episodes began in the period: 5 missing and 8 absent").count() == 1
    table = analyst.get_by_test_id("table-return-interviews")
    assert table.get_by_role("row", name="Done within 72 hours of return 2 16.7%").count() == 1
    assert analyst.locator("a[href^='/children/']").count() == 0
    assert_accessible(analyst)

    # 2. A filter that leaves five episodes, fewer than the threshold of 10: the analyst (who
    # may open none of them) is told the episode figures are not shown, and sees no number.
    analyst.get_by_label("Looked after").select_option(label="Looked-after children")
    analyst.get_by_role("button", name="Apply filters").click()
    analyst.get_by_test_id("withheld-notice").wait_for()
    assert analyst.get_by_role("heading", name="5 episodes began in the period: 2 missing and 3 absent").count() == 0
    assert analyst.get_by_test_id("described-filters").get_by_text("Looked-after children").count() == 1
    assert_accessible(analyst)

    # 3. The annual report for the board: a workbook with a sheet per theme and native charts.
    analyst.get_by_role("link", name="The annual report for the partnership board (small numbers suppressed)").click()
    analyst.get_by_role("heading", name="Annual report on children missing").wait_for()
    assert_accessible(analyst)
    analyst.get_by_label("Year").fill("2026")
    with analyst.expect_download() as download:
        analyst.get_by_role("button", name="Download the annual report").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as handle:
        workbook = openpyxl.load_workbook(io.BytesIO(handle.read()))
    assert "Notes" in workbook.sheetnames and len(workbook.sheetnames) >= 4
    assert any(sheet._charts for sheet in workbook.worksheets)  # openpyxl charts, not pictures
    analyst.go_back()
    analyst.get_by_role("heading", name="The picture of missing").wait_for()

    # 4. The patterns page for the analyst: counts, no record behind them.
    analyst.get_by_role("link", name="See patterns: places, times and repeat episodes").click()
    analyst.get_by_role("heading", name="Patterns").wait_for()
    assert analyst.get_by_test_id("repeat-children").count() == 0
    assert_accessible(analyst)
    assert analyst.console_errors == []

    # 5. The missing team member follows a repeat-missing pattern to the child's record.
    name_member(world.groups["G"], world.user("sw_a"))
    worker = _signed_in(browser, live_server, world.users["sw_a"])
    worker.get_by_role("navigation", name="Menu").get_by_role("link", name="Reports").click()
    _fill_date(worker, "From", date(2026, 1, 1))
    _fill_date(worker, "To", date(2026, 12, 31))
    worker.get_by_role("button", name="Apply filters").click()
    worker.get_by_role("link", name="See patterns: places, times and repeat episodes").click()
    repeat_heading = "3 children went missing more than once from the same home or placement"
    worker.get_by_role("heading", name=repeat_heading).wait_for()
    assert_accessible(worker)
    worker.get_by_test_id("repeat-children").get_by_role("link", name="5 episodes from home").click()
    worker.wait_for_url(f"**/children/{world.children['c5'].id}")
    worker.get_by_role("heading", name="c5 Report").wait_for()
    assert_accessible(worker)
    assert worker.console_errors == []
