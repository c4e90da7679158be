"""The missing team's pages: record an episode, progress it, see what is due; the Philomena
profile kept by the authority and released to the police as a share."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.db import utcnow
from hub.errors import NotFound
from hub.missing import service
from hub.missing.profiles import service as profiles
from hub.models.auth import User
from hub.models.missing import MissingEpisode, PhilomenaProfile, ProfileRelease
from hub.models.roles import OrgKind, Role
from hub.models.sharing import ShareRecord
from tests.factories import episode_details, involve, make_child, make_org, make_user, post_form, sign_in


def test_a_social_worker_records_an_episode_from_the_form(team, client):
    sign_in(client, team.worker, team.worker_secret)
    start = utcnow() - timedelta(hours=30)
    local = start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    response = post_form(client, f"/missing/new/{team.child.id}", {
        "police_reference": "MP/26/777", "police_org_id": str(team.police.id),
        "reported_on": [str(local.day), str(local.month), str(local.year)],
        "reported_time": f"{local:%H:%M}", "classification": "missing", "risk_grade": "high",
        "missing_from": "care_placement"})
    assert response.status_code == 302
    episode = db.session().scalar(select(MissingEpisode))
    assert episode.police_reference == "MP/26/777" and episode.police_org_id == team.police.id
    assert abs((episode.reported_start - start).total_seconds()) < 60
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # Computed, not stored: looked after and over 24 hours meets the criteria; IRO duty shows.
    assert "looked after" in page and "missing for over 24 hours" in page
    assert "Independent Reviewing Officer told" in page and "Overdue" in page
    assert "a single episode of 24 hours or more" in page


def test_the_form_refuses_a_missing_time_and_a_time_in_the_future(team, client):
    sign_in(client, team.worker, team.worker_secret)
    later = utcnow() + timedelta(days=2)
    response = post_form(client, f"/missing/new/{team.child.id}", {
        "police_reference": "MP/1", "police_org_id": str(team.police.id),
        "reported_on": [str(later.day), str(later.month), str(later.year)], "reported_time": "25:99",
        "classification": "missing",
        "risk_grade": "high", "missing_from": "home"})
    assert response.status_code == 200
    assert "Enter a time as hours and minutes" in response.get_data(as_text=True)
    response = post_form(client, f"/missing/new/{team.child.id}", {
        "police_reference": "MP/1", "police_org_id": str(team.police.id),
        "reported_on": [str(later.day), str(later.month), str(later.year)], "reported_time": "10:00",
        "classification": "missing",
        "risk_grade": "high", "missing_from": "home"})
    assert "This time is in the future" in response.get_data(as_text=True)
    assert db.session().scalar(select(MissingEpisode)) is None


def test_progressing_the_episode_clears_what_was_due(team, client):
    episode = service.record_episode(team.officer, team.child.id,
                                     episode_details(reported_start=utcnow() - timedelta(hours=8)))
    sign_in(client, team.worker, team.worker_secret)
    found = utcnow() - timedelta(hours=6)
    local = found.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    date_fields = lambda prefix: {prefix: [str(local.day), str(local.month), str(local.year)]}  # noqa: E731
    response = post_form(client, f"/missing/{episode.id}", {
        "risk_grade": "medium", "classification": "missing", **date_fields("found_on"),
        "found_time": f"{local:%H:%M}", "found_where": "a friend's flat", "risk_factors": ["sexual_exploitation_risk"],
        "receiving_authority_id": "0", "home_authority_id": "0", "return_interview_share_id": "0"})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(f"/missing/{episode.id}").get_data(as_text=True)
    assert "Prevention (safe and well) check" in page and "Overdue" in page  # 4 hours passed
    assert "identified risk of sexual exploitation" in page
    stored = db.session().get(MissingEpisode, episode.id)
    assert stored.found_where == "a friend's flat" and stored.codes("risk_factors") == {"sexual_exploitation_risk"}


def test_a_school_and_an_unrelated_force_cannot_open_the_episode(team, client):
    episode = service.record_episode(team.officer, team.child.id, episode_details())
    sign_in(client, team.dsl, team.dsl_secret)
    assert client.get(f"/missing/{episode.id}").status_code == 404
    assert client.get(f"/missing/new/{team.child.id}").status_code == 403
    assert "Record a missing episode" not in client.get(f"/children/{team.child.id}").get_data(as_text=True)
    other_force = make_org(OrgKind.police)
    stranger, secret = make_user(other_force, Role.police_officer)
    other = client.application.test_client()
    sign_in(other, stranger, secret)
    assert other.get(f"/missing/{episode.id}").status_code == 404


def test_the_dashboard_lists_open_episodes_of_the_users_children_only(team, client):
    service.record_episode(db.session().get(User, team.officer.id), team.child.id, episode_details())
    unrelated = make_child(given="Zara", family="Yardley")
    other_force = make_org(OrgKind.police)
    involve(unrelated, other_force)
    someone, _ = make_user(other_force, Role.police_officer)
    service.record_episode(someone, unrelated.id, episode_details(police_reference="OTHER/1"))
    sign_in(client, team.worker, team.worker_secret)
    page = client.get("/missing").get_data(as_text=True)
    assert "Nadia Oakley" in page and "Zara Yardley" not in page
    assert "Waiting" in page


def test_the_profile_is_kept_by_the_authority_and_released_to_the_police_once(team, client):
    sign_in(client, team.worker, team.worker_secret)
    response = post_form(client, f"/missing/profile/{team.child.id}", {
        "physical_description": "Tall, dark hair", "medical_needs": "Inhaler", "friends_and_associates": ""})
    assert response.status_code == 302
    profile = db.session().scalar(select(PhilomenaProfile))
    assert profile.held_by_org_id == team.csc.id and profile.medical_needs == "Inhaler"
    # The police cannot read the profile before it is released.
    officer = db.session().get(User, team.officer.id)
    with pytest.raises(NotFound):
        profiles.get_profile(officer, team.child.id)
    episode = service.record_episode(officer, team.child.id, episode_details())
    response = post_form(client, f"/missing/{episode.id}/release-profile", {}, form_page=f"/missing/{episode.id}")
    assert response.status_code == 302
    release = db.session().scalar(select(ProfileRelease))
    share = db.session().get(ShareRecord, release.share_id)
    assert share.sender_org_id == team.csc.id and [r.organisation_id for r in share.recipients] == [team.police.id]
    assert share.article_9 == "9(2)(g)+S1P18" and share.article_6 == "6(1)(e)"
    post_form(client, f"/missing/{episode.id}/release-profile", {}, form_page=f"/missing/{episode.id}")
    assert len(db.session().scalars(select(ProfileRelease)).all()) == 1


def test_an_empty_profile_is_refused(team, client):
    sign_in(client, team.worker, team.worker_secret)
    response = post_form(client, f"/missing/profile/{team.child.id}", {})
    assert response.status_code == 200
    assert "Fill in at least one part of the profile" in response.get_data(as_text=True)
    assert db.session().scalar(select(PhilomenaProfile)) is None
