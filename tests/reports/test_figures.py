"""Each dashboard figure against the hand-counted picture of tests/reports/picture.py (the analyst
sees the whole area), the filters, and that the number of SQL statements does not grow with the data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import event

from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.permissions import report_scope
from hub.reports import charts, figures
from hub.reports.figures import ReportFilters
from tests.factories import make_child
from tests.reports.picture import NOW, YEAR, episode, utc


def _figures(world, who: str = "analyst", filters: ReportFilters = YEAR) -> dict[str, figures.Figure]:
    return {f.key: f for f in figures.dashboard(report_scope(world.user(who)), filters, NOW)}


def _rows(figure) -> dict[str, list]:
    return {str(row[0]): list(row[1:]) for row in figure.rows}


def test_episodes_per_month_count_in_the_london_month_they_started(picture):
    months = _rows(_figures(picture)["episodes-by-month"])
    # Columns: missing, absent, no apparent risk, low, medium, high, total.
    assert months["2026-01"] == [1, 0, 0, 0, 1, 0, 1]   # E1 spans 31 Jan-1 Feb: January only
    assert months["2026-02"] == [1, 0, 0, 1, 0, 0, 1]   # E8 (not E1)
    assert months["2026-03"] == [0] * 7                 # E3 is 31 March in UTC, 1 April in London
    assert months["2026-04"] == [0, 1, 0, 1, 0, 0, 1]
    assert months["2026-08"] == [0, 5, 5, 0, 0, 0, 5]
    assert months["2026-10"] == [1, 0, 0, 0, 0, 1, 1]   # E2: 24 Oct in UTC, 25 Oct (after the clocks) in London
    assert sum(m[6] for m in months.values()) == 13
    assert list(months) == [f"2026-{m:02d}" for m in range(1, 13)]


def test_episodes_over_24_hours_include_one_still_open(picture):
    assert _rows(_figures(picture)["long-episodes"])["Over 24 hours"][0] == 2  # E2 (25 h) and E4 (open)


def test_children_who_went_missing_and_how_often(picture):
    rows = _rows(_figures(picture)["repeat-missing"])
    counts = [rows[k][0] for k in rows]
    assert counts == [5, 4, 2, 1]  # 5 children; 2+: c1 c2 c3 c5; 3+: c2 c5; 5+: c5


def test_looked_after_children_and_where_they_went_missing_from(picture):
    rows = _rows(_figures(picture)["looked-after"])
    # children, episodes, from home, care placement, school, other
    assert rows["Looked-after children"] == [2, 5, 0, 5, 0, 0]
    assert rows["Other children"] == [3, 8, 8, 0, 0, 0]


def test_children_placed_across_borders_by_authority(picture):
    rows = _figures(picture)["cross-border"].rows
    names = {picture.orgs["A"].name: "A", picture.orgs["B"].name: "B"}
    assert {names[r[0]]: r[1:] for r in rows} == {"A": [1, 1], "B": [1, 1]}  # E6 into A, E3 into B


def test_prevention_checks_within_4_hours(picture):
    rows = _rows(_figures(picture)["prevention-checks"])
    assert [rows[k][0] for k in rows] == [12, 3, 2]  # 12 found; E1, E2, E5 checked; E2 after 5 hours


def test_return_interviews_offered_done_within_72_hours_and_declined(picture):
    rows = _rows(_figures(picture)["return-interviews"])
    assert [rows[k][0] for k in rows] == [12, 4, 3, 2, 1]  # E3's interview came after 98 hours; E2 declined
    assert rows["Done within 72 hours of return"][1] == 16.7


def test_the_independent_reviewing_officer_told(picture):
    rows = _rows(_figures(picture)["iro-told"])
    assert [rows[k][0] for k in rows] == [5, 2, 1]  # E3 within a day, E5 after two


def test_trigger_plans_due_and_late(picture):
    rows = _rows(_figures(picture)["trigger-plans"])
    assert [rows[k][0] for k in rows] == [3, 2, 1, 2]  # E3 late, E4 none a week on, E5 on time


def test_school_notifications_count_each_message_once(picture):
    rows = _rows(_figures(picture)["school-notifications"])
    # E1 (two copies, in time), E2 (escalated; its escalation copy is not a message), E6 (late).
    assert [rows[k][0] for k in rows] == [3, 2, 1, 1]


def test_mace_children_on_agendas_by_risk_level(picture):
    assert _rows(_figures(picture)["mace-risk"]) == {"High": [2], "Medium": [1]}  # c4 left before 2026


def test_mace_actions_overdue_and_warning_notices(picture):
    rows = _rows(_figures(picture)["mace-actions"])
    assert [rows[k][0] for k in rows] == [5, 2, 1, 2]


def test_mace_agencies_yet_to_confirm_outcomes(picture):
    rows = _rows(_figures(picture)["mace-outcomes"])
    assert [rows[k][0] for k in rows] == [4, 3, 1, 1, 1]  # P1 has not confirmed c2's


@pytest.mark.parametrize(("band", "episodes"), [("10_and_under", 6), ("11_14", 5), ("15_17", 2)])
def test_the_age_band_is_the_age_when_the_episode_started(picture, band, episodes):
    # c1 is 10 at E1 (January) and 11 at E2 (October); c5 is 8; c2 and c4 are 14; c3 is 16.
    months = _figures(picture, filters=replace(YEAR, age_band=band))["episodes-by-month"]
    assert sum(row[-1] for row in months.rows) == episodes


@pytest.mark.parametrize(("looked_after", "episodes"), [(True, 5), (False, 8)])
def test_the_looked_after_filter(picture, looked_after, episodes):
    months = _figures(picture, filters=replace(YEAR, looked_after=looked_after))["episodes-by-month"]
    assert sum(row[-1] for row in months.rows) == episodes


def test_the_school_filter_keeps_children_on_its_roll(picture):
    months = _figures(picture, filters=replace(YEAR, school_id=picture.orgs["S2"].id))["episodes-by-month"]
    assert sum(row[-1] for row in months.rows) == 3  # c3 (E6, E9) and c4 (E8)


def test_the_authority_filter_keeps_its_children_and_episodes_found_in_its_area(picture):
    shown = _figures(picture, filters=replace(YEAR, authority_id=picture.orgs["B"].id))
    assert sum(row[-1] for row in shown["episodes-by-month"].rows) == 3  # c3's E6 and E9, and E3 found in B
    assert [r[0] for r in shown["cross-border"].rows] == [picture.orgs["B"].name]
    assert _rows(shown["mace-risk"]) == {"High": [1]}  # group H covers B


def test_the_collection_year_starts_at_midnight_on_1_april_london_time(picture):
    before = _figures(picture, filters=ReportFilters(date(2026, 1, 1), date(2026, 3, 31)))
    after = _figures(picture, filters=ReportFilters(date(2026, 4, 1), date(2027, 3, 31)))
    assert sum(row[-1] for row in before["episodes-by-month"].rows) == 2    # E1, E8
    assert sum(row[-1] for row in after["episodes-by-month"].rows) == 11    # E3 (00:30 BST, 1 April) onwards


def test_an_episode_the_day_before_the_period_is_left_out(picture):
    # E7 started 31 December 2025 at 23:30 London time.
    shown = _figures(picture, filters=ReportFilters(date(2025, 12, 1), date(2025, 12, 31)))
    assert sum(row[-1] for row in shown["episodes-by-month"].rows) == 1


def test_bad_filters_are_refused():
    with pytest.raises(ValueError):
        ReportFilters(date(2026, 1, 1), date(2026, 12, 31), age_band="16_18")
    with pytest.raises(ValueError):
        ReportFilters(date(2026, 2, 1), date(2026, 1, 1))


def _statements(app, run) -> int:
    engine = app.extensions["hub_engine"]
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_dashboard_takes_the_same_number_of_statements_however_much_data(app, picture):
    scope = report_scope(picture.user("analyst"))
    run = lambda: figures.dashboard(scope, YEAR, NOW)  # noqa: E731
    first = _statements(app, run)
    for n in range(6):
        picture.children[f"extra{n}"] = make_child(given=f"Extra{n}", responsible_authority_id=picture.orgs["A"].id)
        for k in range(3):
            episode(picture, f"X{n}{k}", f"extra{n}", utc(2026, 3 + k, 2 + n, 12), utc(2026, 3 + k, 2 + n, 14),
                     Classification.missing, RiskGrade.low, MissingFrom.home, "P1")
    assert _statements(app, run) == first
    assert sum(row[-1] for row in figures.dashboard(scope, YEAR, NOW)[0].rows) == 13 + 18


def test_months_read_as_month_names_on_the_page_and_the_chart_and_stay_iso_in_the_data(picture):
    months = _figures(picture)["episodes-by-month"]
    assert months.rows[0][0] == "2026-01"  # the data and its downloads keep the sortable key
    assert months.label(months.rows[0]) == "January 2026" and months.label(months.rows[-1]) == "December 2026"
    svg = str(charts.render(months))
    assert "January 2026" in svg and "2026-01" not in svg


def test_a_headline_about_one_child_reads_as_a_sentence(picture):
    shown = _figures(picture, filters=ReportFilters(date(2025, 12, 1), date(2025, 12, 31)))
    assert shown["repeat-missing"].title == "1 child went missing or was absent; 0 of them more than once"
