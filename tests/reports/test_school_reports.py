"""A school's reports: its own notifications and replies, counted; never an episode's details.

The picture (tests/reports/picture.py): S1's pupils c1, c2, c5; S2's c3, c4. E2 (c1, missing,
high risk, from home) started on Sunday 25 October 2026 London time, and S1 was told (its two key
adults, one message, escalated); E1 (c1) was acknowledged in time.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from hub import db
from hub.models.notifications import Notification
from hub.models.people import Enrolment
from hub.notifications import replies
from hub.permissions import report_scope
from hub.reports import figures, patterns
from hub.reports.query import ReportFilters
from tests.factories import enrol, make_child, sign_in
from tests.reports.picture import NOW, YEAR, _notify, episode, utc

E2_DAY = "date_from=25&date_from=10&date_from=2026&date_to=25&date_to=10&date_to=2026"
YEAR_ARGS = "date_from=1&date_from=1&date_from=2026&date_to=31&date_to=12&date_to=2026"
#: Words that would describe an episode: its risk grade, where from, looked-after status,
#: strategy discussion, trigger plan, IRO, interview, classification, timing.
EPISODE_WORDS = ["risk", "looked-after", "looked after", "strategy", "trigger", "placement", "reviewing officer",
                 "return home interview", "prevention", "absent", "24 hours", "episodes from", "began in the period"]


def _school_figure(world, who: str, filters: ReportFilters = YEAR) -> dict[str, int]:
    shown = {f.key: f for f in figures.dashboard(report_scope(world.user(who)), filters, NOW)}
    assert set(shown) == {"school-notifications"}
    return {row[0]: row[1] for row in shown["school-notifications"].rows}


def _main(html: str) -> str:
    """The page's own words (the menu and footer are the same on every page; a chart's drawing
    has class names such as "tooltip-trigger", its words are in the table beside it)."""
    return re.sub(r"<svg.*?</svg>", "", html.split('<main', 1)[1].split("</main>", 1)[0], flags=re.S).lower()


def test_a_dsl_narrowing_the_dashboard_to_one_day_reads_nothing_of_the_episode(picture, client):
    sign_in(client, *picture.users["dsl_1"])
    response = client.get(f"/reports?{E2_DAY}")
    assert response.status_code == 200
    html = _main(response.get_data(as_text=True))
    for word in EPISODE_WORDS:
        assert word not in html, word
    assert 'data-testid="table-school-notifications"' in html
    assert html.count('data-testid="figure-') == 1
    assert "your school acknowledged 0 of 1 notification before the deadline" in html
    # No link to a page that would answer 404: data quality is about episodes.
    assert "/reports/quality" not in html and client.get("/reports/quality").status_code == 404


@pytest.mark.parametrize("key", figures.EPISODE_FIGURES[:-1] + patterns.PATTERN_FIGURES)
def test_a_dsl_cannot_download_any_episode_figure(picture, client, key):
    sign_in(client, *picture.users["dsl_1"])
    assert client.get(f"/reports/data/{key}.csv?{E2_DAY}").status_code == 404
    assert client.get(f"/reports/data/{key}.xlsx?{E2_DAY}").status_code == 404


def test_the_schools_own_download_holds_its_notifications_only(picture, client):
    sign_in(client, *picture.users["dsl_1"])
    response = client.get(f"/reports/data/school-notifications.csv?{E2_DAY}")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Not suppressed: not for publication"]
    assert [r[:2] for r in rows[2:]] == [
        ["Sent", "1"], ["Acknowledged", "0"], ["Acknowledged before the deadline", "0"],
        ["Escalated (not acknowledged in time)", "1"], ["Replied to the police", "0"]]
    book = load_workbook(io.BytesIO(client.get(f"/reports/data/school-notifications.xlsx?{E2_DAY}").get_data()))
    text = " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v).lower()
    for word in ("risk", "looked-after", "strategy", "trigger", "placement"):
        assert word not in text, word


def test_the_patterns_page_shows_a_school_nothing_of_the_episodes(picture, client):
    sign_in(client, *picture.users["dsl_1"])
    response = client.get(f"/reports/patterns?{YEAR_ARGS}")
    assert response.status_code == 200
    html = _main(response.get_data(as_text=True))
    # c5 had five episodes from home in August: on main the page listed "Child record 1: 5 episodes".
    assert 'data-testid="repeat-children"' not in html and "/children/" not in html
    assert 'data-testid="table-start-times"' not in html and "figure-repeat-places" not in html
    assert "figure-push-pull-factors" not in html and "figure-return-interview-themes" not in html
    assert "episodes from" not in html and "went missing more than once" not in html
    assert 'data-testid="no-episode-patterns"' in html


def test_a_dsl_of_one_school_counts_none_of_another_schools_notifications(picture):
    # c6 is registered at both schools (a dual placement); her episode is notified to both.
    c6 = make_child(given="c6", family="Report", dob=date(2013, 5, 1))
    enrol(c6, picture.orgs["S1"])
    enrol(c6, picture.orgs["S2"])
    picture.children["c6"] = c6
    episode(picture, "E10", "c6", utc(2026, 11, 2, 10), utc(2026, 11, 2, 12), picture.episodes["E1"].classification,
            picture.episodes["E1"].risk_grade, picture.episodes["E1"].missing_from, "P1")
    _notify(picture, "E10", "S2", ["dsl_2"], utc(2026, 11, 3, 8, 30), acknowledged=utc(2026, 11, 2, 13))
    # S1 was sent E1 (acknowledged in time) and E2 (escalated); S2 E6 (late) and now E10 (in time).
    assert _school_figure(picture, "dsl_1") == {
        "Sent": 2, "Acknowledged": 1, "Acknowledged before the deadline": 1,
        "Escalated (not acknowledged in time)": 1, "Replied to the police": 0}
    assert _school_figure(picture, "dsl_2") == {
        "Sent": 2, "Acknowledged": 2, "Acknowledged before the deadline": 1,
        "Escalated (not acknowledged in time)": 0, "Replied to the police": 0}


def test_a_former_pupils_notifications_leave_the_schools_figures(picture):
    assert _school_figure(picture, "dsl_1")["Sent"] == 2  # E1 and E2, both c1's
    with db.unit_of_work() as s:
        s.execute(update(Enrolment).where(Enrolment.child_id == picture.children["c1"].id,
                                          Enrolment.school_id == picture.orgs["S1"].id)
                  .values(end_date=date(2026, 11, 30)))
    assert _school_figure(picture, "dsl_1")["Sent"] == 0
    assert _school_figure(picture, "deputy_1")["Sent"] == 0
    enrol(picture.children["c1"], picture.orgs["S2"], start=date(2026, 12, 1))  # on another school's roll now
    assert _school_figure(picture, "dsl_1")["Sent"] == 0


def test_a_schools_replies_to_the_police_are_counted(picture):
    # E4 (c2, S1's pupil) is still missing: S1 is told, and its DSL replies with information.
    _notify(picture, "E4", "S1", ["dsl_1"], utc(2026, 6, 11, 8, 30))
    before = _school_figure(picture, "dsl_1")
    assert (before["Sent"], before["Replied to the police"]) == (3, 0)
    notification = db.session().scalar(select(Notification.id).where(
        Notification.episode_id == picture.episodes["E4"].id, Notification.organisation_id == picture.orgs["S1"].id))
    replies.reply_information(picture.user("dsl_1"), notification, "She goes to the park by the station")
    assert _school_figure(picture, "dsl_1")["Replied to the police"] == 1
    assert _school_figure(picture, "dsl_2")["Replied to the police"] == 0

