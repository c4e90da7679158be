"""The Philomena profile is the protocol's form: part 1 kept ahead, part 2 when the child goes
missing; the police see the released profile in those sections; it moves with the child."""

from __future__ import annotations

import re

from sqlalchemy import select

from hub import db
from hub.missing import service
from hub.missing.profiles import service as profiles
from hub.models.auth import User
from hub.models.missing import PhilomenaProfile, ProfileRelease
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from hub.models.sharing import ShareRecord
from tests.factories import episode_details, make_org, make_user, post_form, sign_in

PART_1 = ["Description", "Photo", "Friends and associates", "Places frequented", "Phone numbers",
          "Medical needs and medication", "Money", "Social media", "Transport"]
PART_2 = ["Clothing", "Where last seen"]
FILLED = {
    "physical_description": "Tall, dark curly hair", "friends_and_associates": "Sam (school friend)",
    "addresses_and_places": "The retail park", "phone_numbers": "07700 900123", "medical_needs": "Inhaler",
    "money": "A bank card", "social_media": "Snapchat: nadia_o", "transport": "Bus pass",
    "clothing": "Black puffer jacket", "last_seen": "Outside the station at 9pm",
}


def _part(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}".*?</(fieldset|dl)>', html, re.DOTALL)
    assert match, f"no {testid} on the page"
    return match.group(0)


def _rows(dl: str) -> dict[str, str]:
    pairs = re.findall(r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>', dl, re.DOTALL)
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_profile_form_has_the_protocol_s_sections_and_a_part_2(team, client):
    sign_in(client, team.worker, team.worker_secret)
    page = client.get(f"/missing/profile/{team.child.id}").get_data(as_text=True)
    part_1, part_2 = _part(page, "profile-part-1"), _part(page, "profile-part-2")
    assert "Part 1: kept ahead" in part_1 and "Part 2: when the child goes missing" in part_2
    for label in PART_1:
        assert label in part_1, label
    for label in PART_2:
        assert label in part_2 and label not in part_1, label
    assert 'type="file"' in part_1 and 'enctype="multipart/form-data"' in page
    response = post_form(client, f"/missing/profile/{team.child.id}", FILLED)
    assert response.status_code == 302
    profile = db.session().scalar(select(PhilomenaProfile))
    assert {name: getattr(profile, name) for name in FILLED} == FILLED


def test_the_police_see_the_released_profile_in_the_protocol_s_sections(team, client):
    worker = db.session().get(User, team.worker.id)
    profiles.save_profile(worker, team.child.id, FILLED)
    officer = db.session().get(User, team.officer.id)
    episode = service.record_episode(officer, team.child.id, episode_details())
    profiles.release_profile(worker, episode.id)
    share = db.session().get(ShareRecord, db.session().scalar(select(ProfileRelease.share_id)))
    # The share record itself holds the sections, so every export and pack reads as the form.
    assert "== Part 2: when the child goes missing ==\n-- Clothing --\nBlack puffer jacket" in share.content
    sign_in(client, team.officer, team.officer_secret)
    page = client.get(f"/missing/{episode.id}/profile")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    part_1, part_2 = _rows(_part(html, "released-part-1")), _rows(_part(html, "released-part-2"))
    assert list(part_1) == PART_1 and list(part_2) == PART_2
    assert part_1["Description"] == "Tall, dark curly hair" and part_1["Medical needs and medication"] == "Inhaler"
    assert part_1["Social media"] == "Snapchat: nadia_o" and part_1["Photo"] == "No photo kept."
    assert part_2 == {"Clothing": "Black puffer jacket", "Where last seen": "Outside the station at 9pm"}


def test_a_line_of_the_profile_that_looks_like_a_heading_cannot_start_a_section(team):
    worker = db.session().get(User, team.worker.id)
    profile = profiles.save_profile(worker, team.child.id, {"money": "Cash\n-- Clothing --\nred coat"})
    parts = profiles.released_sections(profiles.release_content(profile))
    sections = {s.label: s.text for p in parts for s in p.sections}
    assert sections["Money"] == "Cash\n -- Clothing --\nred coat" and sections["Clothing"] == "Not recorded"


def test_the_profile_follows_the_child_to_a_new_placing_authority(team, client):
    old = make_org(OrgKind.childrens_social_care)
    new = make_org(OrgKind.childrens_social_care)
    with db.unit_of_work() as s:
        child = s.get(Child, team.child.id)
        child.responsible_authority_id, child.placing_authority_id = None, old.id
    old_worker, old_secret = make_user(old, Role.social_worker)
    new_worker, new_secret = make_user(new, Role.social_worker)
    profiles.save_profile(db.session().get(User, old_worker.id), team.child.id, {"medical_needs": "Inhaler"})
    assert db.session().scalar(select(PhilomenaProfile)).held_by_org_id == old.id
    with db.unit_of_work() as s:
        s.get(Child, team.child.id).placing_authority_id = new.id
    assert db.session().scalar(select(PhilomenaProfile)).held_by_org_id == new.id
    sign_in(client, old_worker, old_secret)
    assert client.get(f"/missing/profile/{team.child.id}").status_code == 404
    other = client.application.test_client()
    sign_in(other, new_worker, new_secret)
    page = other.get(f"/missing/profile/{team.child.id}")
    assert page.status_code == 200 and "Inhaler" in page.get_data(as_text=True)
