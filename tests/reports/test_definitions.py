"""One definition of "return interview offered" (issue 19, item 13): the dashboard, the annual
workbook and the ssd_missing return count the same episodes, and each states the definition; the
workbook's notes say truly which episodes are counted (those that started in the year and ended)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from hub.models.people import IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.permissions import command_line_report_scope
from hub.reports import annual, figures, returns
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED
from hub.reports.returns import CollectionYear
from tests.factories import make_child, make_org, make_user, sign_in
from tests.reports.world import add_episode

UTC = UTC


@pytest.fixture
def world(app):
    w = type("World", (), {})()
    w.authority, w.police = make_org(OrgKind.childrens_social_care), make_org(OrgKind.police)
    child = make_child("Hal", "Eight", date(2011, 3, 3), responsible_authority_id=w.authority.id,
                       identifiers={IdentifierKind.la_id: "A0008"})
    start = datetime(2025, 6, 1, 12, tzinfo=UTC)
    found = start + timedelta(hours=10)
    # Ended; an offer recorded; an interview held with no offer recorded; declined with no offer
    # recorded; nothing at all; and one still open (no interview due).
    add_episode(child, w.police, start, found, return_interview_offered_at=found + timedelta(hours=2))
    add_episode(child, w.police, start, found, return_interview_at=found + timedelta(hours=20))
    add_episode(child, w.police, start, found, return_interview_declined=True)
    add_episode(child, w.police, start, found)
    add_episode(child, w.police, start)
    w.worker, w.worker_secret = make_user(w.authority, Role.social_worker)
    return w


def dashboard_offered() -> int:
    filters = figures.ReportFilters(date_from=date(2025, 4, 1), date_to=date(2026, 3, 31))
    figure = figures.figure(command_line_report_scope(), filters, "return-interviews")
    return next(row[1] for row in figure.rows if row[0] == "Interview offered")


def test_the_dashboard_and_the_return_count_the_same_interviews_offered(world):
    ssd = list(csv.reader(io.StringIO(returns.ssd_missing(world.worker).content.decode())))
    offered_in_return = sum(1 for row in ssd[1:] if row[5] == "Y")
    assert dashboard_offered() == offered_in_return == 3


def test_the_dashboard_states_the_definition(world):
    filters = figures.ReportFilters(date_from=date(2025, 4, 1), date_to=date(2026, 3, 31))
    figure = figures.figure(command_line_report_scope(), filters, "return-interviews")
    assert RETURN_INTERVIEW_OFFERED in figure.notes


def test_the_workbook_notes_state_the_definition_and_the_episodes_truly_counted(world):
    content = annual.build(command_line_report_scope(), CollectionYear(2026), 1, whole_area=True).content
    book = load_workbook(io.BytesIO(content))
    notes = {row[0].value: row[1].value for row in book["Notes"].iter_rows(min_row=4)}
    assert RETURN_INTERVIEW_OFFERED in notes["Return interviews"]
    assert "started in the year" in notes["Return interviews"]
    assert "ended in the year" not in notes["Return interviews"]
    sheet = book["Return interviews"]
    assert sheet.cell(1, 1).value == "Return home interviews after episodes that started in the year"
    offered = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "Interview offered")
    assert offered[1] == 3


def test_the_returns_page_states_the_definition(world, client):
    sign_in(client, world.worker, world.worker_secret)
    html = client.get("/reports/returns").get_data(as_text=True)
    assert RETURN_INTERVIEW_OFFERED in html
