"""The dashboard page: charts with no script or style the CSP would block, the same figures as
tables, filters that change them, downloads that read back, and one audit event per view or export."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hub import db
from hub.models.audit import AuditEvent
from hub.reports import charts
from hub.reports.query import Figure
from tests.factories import sign_in

MENU_REPORTS = 'service-navigation__link" href="/reports"'
YEAR_ARGS = "date_from=1&date_from=1&date_from=2026&date_to=31&date_to=12&date_to=2026"


def _events(user, action: str) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.fixture
def analyst(picture, client):
    sign_in(client, *picture.users["analyst"])
    return client


def test_the_analyst_sees_every_figure_as_a_chart_and_a_table(picture, analyst):
    response = analyst.get(f"/reports?{YEAR_ARGS}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "13 episodes began in the period: 5 missing and 8 absent" in html
    assert html.count('data-testid="chart"') == 13
    assert html.count("<svg") == 13
    for key in ("episodes-by-month", "return-interviews", "school-notifications", "mace-outcomes"):
        assert f'data-testid="table-{key}"' in html
    assert "Notes and definitions" in html and "counts in the month it started" in html


def test_no_childs_name_and_no_link_to_a_record_on_the_analysts_dashboard(picture, analyst):
    html = analyst.get(f"/reports?{YEAR_ARGS}").get_data(as_text=True)
    assert "Report" not in re.sub(r"Report [GH]|Reports", "", html)  # the children's family name
    assert "/children/" not in html and "/missing/" not in html


def test_the_charts_carry_no_script_no_style_element_and_no_style_attribute(picture, analyst):
    response = analyst.get(f"/reports?{YEAR_ARGS}")
    html = response.get_data(as_text=True)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert svgs
    for svg in svgs:
        assert "<script" not in svg and "<style" not in svg and " style=" not in svg
    # The page's only script is the hub's own, with the nonce; the CSP is unchanged and strict.
    csp = response.headers["Content-Security-Policy"]
    assert "style-src 'self';" in csp and "unsafe-inline" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert re.findall(r"<script[^>]*>", html) == [
        f'<script type="module" src="/static/init.js" nonce="{nonce}">']
    assert " style=" not in html


def test_the_chart_stylesheet_comes_from_the_hub(picture, analyst):
    html = analyst.get("/reports").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/reports/charts.css">' in html
    css = analyst.get("/reports/charts.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert ".hub-chart" in css.get_data(as_text=True) and "#chart-" not in css.get_data(as_text=True)


def test_a_rendered_chart_is_an_image_labelled_with_its_headline():
    figure = Figure(key="k", title="Most went <missing>", subtitle="s", columns=["Month", "Missing", "Absent"],
                    rows=[["2026-01", 3, 1], ["2026-02", 0, 2]], chart="stacked")
    svg = str(charts.render(figure))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="Most went &lt;missing&gt;"' in svg
    assert "<script" not in svg and "<style" not in svg and "style=" not in svg and "Pygal" not in svg


def test_changing_a_filter_changes_the_figures(picture, client):
    # An officer may open every episode their figures count, so a filter that leaves a few still
    # shows them (the analyst's would be withheld: test_withholding.py).
    sign_in(client, *picture.users["officer_1"])
    looked_after = client.get(f"/reports?{YEAR_ARGS}&looked_after=yes").get_data(as_text=True)
    assert "2 episodes began in the period: 1 missing and 1 absent" in looked_after  # P1's E3 and E5 (c2)
    assert "Looked-after children" in looked_after
    young = client.get(f"/reports?{YEAR_ARGS}&age_band=10_and_under").get_data(as_text=True)
    assert "6 episodes began in the period: 1 missing and 5 absent" in young  # c1's E1, c5's five


def test_a_bad_filter_shows_an_error_and_the_default_figures(picture, analyst):
    response = analyst.get("/reports?date_from=1&date_from=1&date_from=2026&date_to=1&date_to=1&date_to=2025")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The end date must be on or after the start date" in html and "govuk-error-summary" in html


def test_each_view_writes_one_audit_event_with_the_filters_and_no_personal_data(picture, analyst):
    analyst.get(f"/reports?{YEAR_ARGS}&age_band=11_14")
    [event] = _events(picture.user("analyst"), "report-view")
    assert (event.object_type, event.object_id, event.child_id) == ("report", "dashboard", None)
    detail = json.loads(event.detail)
    # Five episodes in the band: the analyst's episode figures are withheld, and the event says so.
    assert detail == {"from": "2026-01-01", "to": "2026-12-31", "authority": None, "age_band": "11_14",
                      "looked_after": None, "school": None, "figures": 13, "withheld": True}


def test_a_csv_download_reads_back_with_the_tables_figures_and_is_audited(picture, analyst):
    response = analyst.get(f"/reports/data/return-interviews.csv?{YEAR_ARGS}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="return-interviews-not-suppressed-not-for-publication.csv"' in \
        response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Not suppressed: not for publication"]
    assert rows[1] == ["Return home interviews", "Episodes", "Per cent of episodes ended"]
    assert [r[1] for r in rows[2:]] == ["12", "4", "3", "2", "1"]
    [event] = _events(picture.user("analyst"), "report-export")
    assert event.object_id == "return-interviews" and json.loads(event.detail)["format"] == "csv"


def test_an_xlsx_download_reads_back_with_openpyxl(picture, analyst):
    response = analyst.get(f"/reports/data/episodes-by-month.xlsx?{YEAR_ARGS}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["Data", "About"]
    data = list(book["Data"].iter_rows(values_only=True))
    assert data[0][:3] == ("Month", "Missing", "Absent")
    assert sum(row[-1] for row in data[1:]) == 13
    about_rows = list(book["About"].iter_rows(values_only=True))
    assert about_rows[0][0] == "Publication" and about_rows[0][1].startswith("Not suppressed: not for publication")
    about = {row[0]: row[1] for row in about_rows}
    assert about["Title"].startswith("13 episodes") and about["Period"].startswith("1 January 2026")
    assert 'filename="episodes-by-month-not-suppressed-not-for-publication.xlsx"' in \
        response.headers["Content-Disposition"]
    assert [e.object_id for e in _events(picture.user("analyst"), "report-export")] == ["episodes-by-month"]


@pytest.mark.parametrize("url", ["/reports/data/no-such-figure.csv", "/reports/data/episodes-by-month.pdf"])
def test_an_unknown_figure_or_format_is_a_404(picture, analyst, url):
    assert analyst.get(url).status_code == 404


def test_a_school_cannot_download_the_mace_figures(picture, client):
    sign_in(client, *picture.users["dsl_1"])
    assert client.get("/reports/data/mace-risk.csv").status_code == 404
    assert client.get(f"/reports/data/school-notifications.csv?{YEAR_ARGS}").status_code == 200


@pytest.mark.parametrize("who", ["dpo", "admin"])
def test_reports_are_a_404_and_not_in_the_menu_for_anyone_without_them(picture, client, who):
    sign_in(client, *picture.users[who])
    assert client.get("/reports").status_code == 404
    assert client.get("/reports/patterns").status_code == 404
    assert MENU_REPORTS not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("who", ["analyst", "sw_a", "officer_1", "dsl_1", "chair"])
def test_the_menu_offers_reports_to_those_who_have_them(picture, client, who):
    sign_in(client, *picture.users[who])
    assert MENU_REPORTS in client.get("/").get_data(as_text=True)
