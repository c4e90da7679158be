"""The annual workbook of a collection year not yet ended: marked provisional, its months still to
come blank (not 0); and the year the form offers is the latest one with data, not a year of zeros.

The picture (tests/reports/picture.py) has episodes from January to October 2026: collection
years 2026 (to 31 March 2026) and 2027 (from 1 April 2026)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from hub.models.roles import OrgKind, Role
from hub.permissions import command_line_report_scope
from hub.reports import annual
from hub.reports.returns import CollectionYear, latest_complete_year
from tests.factories import make_org, make_user, sign_in

#: 1 December 2026: collection year 2027 runs to 31 March 2027.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _book(year: int, now: datetime = NOW):
    made = annual.build(command_line_report_scope(), CollectionYear(year), 10, True, now=now)
    return load_workbook(io.BytesIO(made.content))


def _months(sheet) -> dict[str, tuple]:
    """The first table of a sheet: month label -> its cells."""
    rows = {}
    for row in sheet.iter_rows(min_row=6, values_only=True):
        if row[0] is None or row[0] == "Total":
            break
        rows[row[0]] = row[1:4]
    return rows


def test_a_year_not_yet_ended_is_provisional_and_its_months_to_come_are_blank(picture):
    book = _book(2027)
    notes = {row[0]: row[1] for row in book["Notes"].iter_rows(values_only=True)}
    assert "provisional" in notes["Provisional"]
    sheet = book["Episodes by month"]
    assert "provisional" in sheet["A1"].value
    months = _months(sheet)
    assert list(months)[:2] == ["April 2026", "May 2026"] and len(months) == 12
    for month in ("January 2027", "February 2027", "March 2027"):
        assert months[month] == (None, None, None), month
    # A month gone by, or under way, with no episode is a true 0, or c where it is hidden beside a
    # small count: never blank. A month to come is never the count hidden beside a small one (a
    # reader knows it holds nothing), so here the empty months gone by are.
    for month in ("November 2026", "December 2026"):
        assert set(months[month]) <= {0, "c"} and None not in months[month], month
    assert months["October 2026"] != (None, None, None)


def test_a_year_ended_is_not_provisional(picture):
    book = _book(2026)
    notes = {row[0]: row[1] for row in book["Notes"].iter_rows(values_only=True)}
    assert "Provisional" not in notes
    assert "provisional" not in book["Episodes by month"]["A1"].value
    assert all(None not in cells for cells in _months(book["Episodes by month"]).values())


def test_the_form_offers_the_latest_year_with_data(picture, client):
    # E2 (October 2026) is the latest episode: collection year 2027, not a later year of zeros.
    assert annual.default_year(picture.user("analyst")) == 2027
    sign_in(client, *picture.users["analyst"])
    html = client.get("/reports/annual").get_data(as_text=True)
    assert 'value="2027"' in html


def test_the_form_offers_the_last_year_ended_to_someone_without_reports_or_without_episodes(app):
    """No report scope (a school's DPO), or one with no episode in it (an analyst of an empty hub):
    a year of zeros or a future year helps no one, so the last year ended."""
    assert annual.default_year(make_user(make_org(OrgKind.school), Role.dpo)[0]) == latest_complete_year()
    assert annual.default_year(make_user(make_org(OrgKind.mace_host), Role.analyst)[0]) == latest_complete_year()
