"""Patterns: places and people of concern linked to several children, the day-by-hour grid of
episode starts (London time, across the clock change), repeat episodes from the same kind of
place, push and pull factors and return interview findings; and links to the records behind them
only for those who may open them (never for the analyst)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from hub import db
from hub.missing.rules import PULL_FACTORS, PUSH_FACTORS, RISK_FACTORS
from hub.models.audit import AuditEvent
from hub.models.mace import LocationKind, MaceLink, MaceLocation, MacePerson, PersonKind
from hub.permissions import report_scope
from hub.reports import patterns
from hub.reports.query import ReportQuery
from tests.factories import sign_in
from tests.reports.picture import NOW, YEAR, utc
from tests.support.mace import name_member

YEAR_ARGS = "date_from=1&date_from=1&date_from=2026&date_to=31&date_to=12&date_to=2026"


@pytest.fixture
def concerns(picture):
    """In G: a park linked to c1 and c2, a person linked to c1 and c2, a person removed at review
    linked to both, and a shop linked to c1 only; in H: a house linked to c3 only."""
    chair, c = picture.user("chair"), picture.children
    g, h = picture.groups["G"].id, picture.groups["H"].id
    with db.unit_of_work() as s:
        park = MaceLocation(group_id=g, name="Rec ground", kind=LocationKind.park, created_by_user_id=chair.id)
        shop = MaceLocation(group_id=g, name="Corner shop", kind=LocationKind.shop, created_by_user_id=chair.id)
        house = MaceLocation(group_id=h, name="Flat 9", kind=LocationKind.house, created_by_user_id=chair.id)
        person = MacePerson(group_id=g, kind=PersonKind.person, name="Known adult", justification="j",
                            review_on=date(2027, 6, 1), created_by_user_id=chair.id)
        removed = MacePerson(group_id=g, kind=PersonKind.peer_group, name="Old group", justification="j",
                             review_on=date(2026, 6, 1), removed_at=utc(2026, 6, 1), created_by_user_id=chair.id)
        s.add_all([park, shop, house, person, removed])
        s.flush()
        links = [(g, "c1", park, None), (g, "c2", park, None), (g, "c1", None, person), (g, "c2", None, person),
                 (g, "c1", None, removed), (g, "c2", None, removed), (g, "c1", shop, None), (h, "c3", house, None)]
        for group, child, place, who in links:
            s.add(MaceLink(group_id=group, child_id=c[child].id, location_id=place.id if place else None,
                           person_id=who.id if who else None, source="patrol", seen_on=date(2026, 5, 1),
                           created_by_user_id=chair.id))
    return {"park": park.id, "person": person.id}


def _query(world, who: str) -> ReportQuery:
    return ReportQuery(report_scope(world.user(who)), YEAR, NOW)


def test_a_member_sees_the_groups_places_and_people_linked_to_several_children_by_name(picture, concerns):
    found = patterns.subjects(picture.user("chair"))
    assert sorted((s.label, s.children) for s in found) == [("Known adult (person)", 2),
                                                            ("Rec ground (park or open space)", 2)]
    links = {s.label: s.link for s in found}
    assert links["Rec ground (park or open space)"] == ("mace_subjects.location", {"location_id": concerns["park"]})


def test_the_analyst_counts_every_groups_places_and_people_with_no_name_and_no_link(picture, concerns):
    found = patterns.subjects(picture.user("analyst"))
    assert sorted((s.kind, s.children) for s in found) == [("Person or peer group of concern", 2),
                                                           ("Place of concern", 2)]
    assert all(s.link is None and "Rec ground" not in s.label and "Known adult" not in s.label for s in found)


def test_someone_on_no_group_sees_no_places_or_people(picture, concerns):
    assert patterns.subjects(picture.user("officer_2")) == []


def test_the_day_by_hour_grid_uses_london_time_across_the_clock_change(picture):
    grid, busiest = patterns.start_grid(_query(picture, "analyst"))
    cells = {row[0]: row[1:] for row in grid.rows}
    assert cells["Sunday"][0] == 1       # E2: Saturday 23:30 UTC, Sunday 00:30 BST
    assert cells["Saturday"][23] == 1    # E1: 23:30 GMT
    assert cells["Wednesday"][0] == 1    # E3: 31 March 23:30 UTC, 1 April 00:30 BST
    assert cells["Wednesday"][11] == 2   # E9 and one of c5's
    assert busiest == 2 and "Wednesdays between 11:00 and 11:59" in grid.title
    assert sum(sum(row[1:]) for row in grid.rows) == 13


def test_repeat_episodes_from_the_same_home_or_placement(picture):
    figure, listed = patterns.repeats(_query(picture, "sw_a"), picture.user("sw_a"))
    assert {row[0]: row[1:] for row in figure.rows} == {"Home": [2, 7], "Care placement": [1, 3]}
    assert sorted(line.child_id for line in listed) == sorted(
        picture.children[c].id for c in ("c1", "c2", "c5"))  # c3's E6 alone is in A's scope


def test_the_analyst_gets_the_repeat_counts_but_no_child(picture):
    figure, listed = patterns.repeats(_query(picture, "analyst"), picture.user("analyst"))
    assert {row[0]: row[1:] for row in figure.rows} == {"Home": [2, 7], "Care placement": [2, 5]}
    assert listed == []


def test_push_and_pull_factors_and_return_interview_findings_counted(picture):
    factors, themes = patterns.factors(_query(picture, "analyst"))
    counts = {row[0]: row[1] for row in factors.rows}
    push = {code: counts["Push: " + label] for code, label in PUSH_FACTORS.items()}
    pull = {code: counts["Pull: " + label] for code, label in PULL_FACTORS.items()}
    assert push == {"problems_at_home": 2, "family_breakdown": 0, "mental_health": 0, "bullying": 1,  # E1, E2 (not E7)
                    "pregnancy": 0, "personal_problems": 0}
    assert pull == {"friends_or_family": 1, "peer_pressure": 1, "grooming": 1, "exploitation_by_adults": 0}
    # Findings: risk factors on episodes with an interview done (E1, E3, E5); E2's was declined.
    assert [(row[0], row[1]) for row in themes.rows] == [(RISK_FACTORS["crime_while_missing"], 2),
                                                         (RISK_FACTORS["mental_health"], 1)]


def test_the_patterns_page_links_a_member_of_the_missing_team_to_the_records(picture, concerns, client):
    name_member(picture.groups["G"], picture.user("sw_a"))
    sign_in(client, *picture.users["sw_a"])
    html = client.get(f"/reports/patterns?{YEAR_ARGS}").get_data(as_text=True)
    assert f'href="/children/{picture.children["c2"].id}"' in html
    assert f'href="/mace/locations/{concerns["park"]}"' in html and "Rec ground" in html


def test_the_patterns_page_shows_the_analyst_counts_only(picture, concerns, client):
    sign_in(client, *picture.users["analyst"])
    response = client.get(f"/reports/patterns?{YEAR_ARGS}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 places and people of concern are linked to several children" in html
    assert "/children/" not in html and "/mace/" not in html and "Rec ground" not in html


def test_a_pattern_download_reads_back_and_the_view_is_audited(picture, client):
    sign_in(client, *picture.users["analyst"])
    client.get(f"/reports/patterns?{YEAR_ARGS}")
    csv_text = client.get(f"/reports/data/start-times.csv?{YEAR_ARGS}").get_data().decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "Not suppressed: not for publication"
    assert csv_text.splitlines()[1].startswith("Day,00:00,01:00")
    actions = db.session().scalars(select(AuditEvent.action).where(
        AuditEvent.actor_user_id == picture.user("analyst").id, AuditEvent.action.like("report-%"))).all()
    assert sorted(actions) == ["report-export", "report-view"]
