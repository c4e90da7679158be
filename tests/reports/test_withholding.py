"""Figures about too few episodes the viewer may not open are not shown (hub.permissions.
report_figures_withheld): narrowed to a day or a filter, a figure would describe one episode.

The picture (tests/reports/picture.py) has 13 episodes in 2026, 5 of looked-after children; the
threshold is 10. The analyst opens none; an officer opens every episode of their force.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hub import db
from hub.models.audit import AuditEvent
from hub.models.roles import Role
from hub.permissions import report_figures_withheld, report_openable_episode_ids, report_scope
from hub.reports import figures, patterns
from hub.reports.query import ReportQuery
from tests.factories import make_user, sign_in
from tests.reports.picture import NOW, YEAR

YEAR_ARGS = "date_from=1&date_from=1&date_from=2026&date_to=31&date_to=12&date_to=2026"
#: Sunday 25 October 2026: E2 alone (c1, missing, high risk, from home).
E2_DAY = "date_from=25&date_from=10&date_from=2026&date_to=25&date_to=10&date_to=2026"
#: A day with no episode at all.
EMPTY_DAY = "date_from=3&date_from=3&date_from=2026&date_to=3&date_to=3&date_to=2026"


def _tables(html: str) -> list[str]:
    return re.findall(r'data-testid="table-([a-z-]+)"', html)


def _analyst(picture, client):
    sign_in(client, *picture.users["analyst"])
    return client


@pytest.mark.parametrize("args", [E2_DAY, f"{YEAR_ARGS}&looked_after=yes", f"{YEAR_ARGS}&age_band=11_14", EMPTY_DAY],
                         ids=["one-day", "looked-after", "age-band", "empty-day"])
def test_the_analyst_narrowing_to_fewer_than_the_threshold_sees_no_episode_figure(picture, client, args):
    html = _analyst(picture, client).get(f"/reports?{args}").get_data(as_text=True)
    assert 'data-testid="withheld-notice"' in html and "fewer than 10 episodes" in html
    # No episode figure's table, chart or headline: only the MACE figures, which are not episodes.
    assert [t for t in _tables(html) if t in figures.EPISODE_FIGURES] == []
    assert html.count('data-testid="withheld"') == len(figures.EPISODE_FIGURES)
    assert "began in the period" not in html and "lasted over 24 hours" not in html
    assert "Episodes from home" not in html and "Trigger plans</th>" not in html
    assert "mace-risk" in _tables(html)


def test_the_analyst_sees_the_figures_when_enough_episodes_are_counted(picture, client):
    html = _analyst(picture, client).get(f"/reports?{YEAR_ARGS}").get_data(as_text=True)
    assert 'data-testid="withheld-notice"' not in html
    assert "13 episodes began in the period: 5 missing and 8 absent" in html


@pytest.mark.parametrize("key", ["episodes-by-month", "looked-after", "trigger-plans"])
def test_a_withheld_figures_downloads_hold_no_number(picture, client, key):
    analyst = _analyst(picture, client)
    rows = list(csv.reader(io.StringIO(
        analyst.get(f"/reports/data/{key}.csv?{E2_DAY}").get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Not suppressed: not for publication"]
    assert len(rows) == 3 and rows[2][0].startswith("Not shown: these dates and filters leave fewer than 10 episodes")
    book = load_workbook(io.BytesIO(analyst.get(f"/reports/data/{key}.xlsx?{E2_DAY}").get_data()))
    assert list(book["Data"].iter_rows(values_only=True))[1:] == []
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True)}
    assert about["Title"] == "Not shown for so few episodes" and about["Note"].startswith("Not shown")


def test_the_patterns_page_withholds_the_episode_patterns_from_the_analyst_on_one_day(picture, client):
    analyst = _analyst(picture, client)
    html = analyst.get(f"/reports/patterns?{E2_DAY}").get_data(as_text=True)
    assert 'data-testid="withheld-notice"' in html
    assert _tables(html) == [] and "Most episodes started" not in html
    for key in patterns.PATTERN_FIGURES:
        text = analyst.get(f"/reports/data/{key}.csv?{E2_DAY}").get_data().decode("utf-8-sig")
        assert "Not shown" in text and "Sunday" not in text and "Home" not in text


def test_the_withheld_view_is_audited_as_such(picture, client):
    _analyst(picture, client).get(f"/reports?{E2_DAY}")
    [event] = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == picture.user("analyst").id, AuditEvent.action == "report-view")).all()
    assert json.loads(event.detail)["withheld"] is True


def test_an_officer_who_may_open_every_episode_counted_sees_one_days_figures(picture, client):
    sign_in(client, *picture.users["officer_1"])
    html = client.get(f"/reports?{E2_DAY}").get_data(as_text=True)
    assert 'data-testid="withheld-notice"' not in html
    assert "1 episode began in the period: 1 missing and 0 absent" in html


def test_a_viewer_who_may_open_some_of_the_episodes_is_withheld_the_rest(picture):
    """An analyst who is also B's social worker counts the whole area but opens only B's children
    (c3) and those of episodes naming B (c2): the year's other 8 episodes (c1, c4, c5) are fewer
    than 10, so nothing is shown; and a filter that leaves none of them shows nothing either,
    or comparing it with its opposite would tell which way those few episodes went."""
    both, _ = make_user(picture.orgs["B"], Role.analyst, Role.social_worker)
    q = ReportQuery(report_scope(both), YEAR, NOW)
    assert q.coverage(report_openable_episode_ids(both)) == (13, 8, 8)
    looked_after = ReportQuery(report_scope(both), replace(YEAR, looked_after=True), NOW)
    assert looked_after.coverage(report_openable_episode_ids(both)) == (5, 0, 8)
    assert report_figures_withheld(both, counted=13, unopenable=8, unopenable_in_period=8, threshold=10)
    assert report_figures_withheld(both, counted=5, unopenable=0, unopenable_in_period=8, threshold=10)


@pytest.mark.parametrize(("counted", "unopenable", "in_period", "withheld"), [
    (13, 0, 0, False),   # opens every one of them
    (3, 0, 0, False),    # a few, every one of which they may open
    (13, 1, 1, True),    # one they may not open beside twelve they may: subtraction would tell it
    (13, 0, 1, True),    # the filter leaves none of the period's one: "none" must read as "a few"
    (30, 10, 10, False),  # as many as the threshold
    (30, 9, 12, True),
])
def test_the_rule_for_someone_who_opens_some_episodes(picture, counted, unopenable, in_period, withheld):
    officer = picture.user("officer_1")
    assert report_figures_withheld(officer, counted=counted, unopenable=unopenable, unopenable_in_period=in_period,
                                   threshold=10) is withheld


@pytest.mark.parametrize(("counted", "withheld"), [(0, True), (1, True), (9, True), (10, False), (13, False)])
def test_the_rule_for_the_analyst_who_opens_none(picture, counted, withheld):
    assert report_figures_withheld(picture.user("analyst"), counted=counted, unopenable=counted,
                                   unopenable_in_period=counted, threshold=10) is withheld
