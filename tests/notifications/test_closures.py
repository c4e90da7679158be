"""Term dates and INSET days (school_closure), set by an administrator for a school or an
authority, or by a school's own DSL for its INSET days; and the school day's start time. Deadlines
computed after a closure is added skip it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.admin import service as admin
from hub.errors import Forbidden, Invalid, NotFound
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.notifications import Notification, SchoolClosure
from hub.models.roles import OrgKind, Role
from hub.notifications import calendar, closures, issuing
from tests.factories import csrf_token, episode_details, make_org, make_user, sign_in, signed_in_client
from tests.support.clock import FRIDAY, MONDAY, THURSDAY, at


@pytest.fixture
def administrator(app):
    host = make_org(OrgKind.mace_host)
    return make_user(host, Role.hub_admin)


def _user(user) -> User:
    return db.session().get(User, user.id)


def _deadline_now(world, episode) -> object:
    """A notification made at Thursday 20:00 (a fixed clock): its deadline."""
    with db.unit_of_work():
        issued = issuing.notify_episodes([episode], "risk_raised", now=at(THURSDAY, "20:00"))
    return db.session().get(Notification, issued.notification_ids[episode.id][0]).deadline_at


def test_an_inset_day_moves_a_deadline_computed_afterwards(world, administrator):
    episode = missing.record_episode(world.officer, world.child.id, episode_details())
    assert _deadline_now(world, episode) == at(FRIDAY, "08:30")
    closure = closures.add_closure(administrator[0], world.school.id, "inset", FRIDAY, FRIDAY, "Staff training")
    assert _deadline_now(world, episode) == at(MONDAY, "08:30")
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "school-closure"))
    assert event.action == "create" and event.object_id == str(closure.id)
    closures.remove_closure(administrator[0], closure.id)
    assert _deadline_now(world, episode) == at(FRIDAY, "08:30")


def test_an_authoritys_closure_applies_to_its_schools(world, administrator):
    closures.add_closure(administrator[0], world.la_edu.id, "holiday", FRIDAY, FRIDAY + timedelta(days=3), "Half term")
    school = db.session().get(Organisation, world.school.id)
    assert calendar.next_school_day_start(school, at(THURSDAY, "20:00")) == at(FRIDAY + timedelta(days=4), "08:30")


@pytest.mark.parametrize("first, last, field, message", [
    (FRIDAY, THURSDAY, "last_day", "same as or after the first day"),
    (FRIDAY, FRIDAY + timedelta(days=366), "last_day", "at most a year"),
    (None, FRIDAY, "first_day", "Enter the first day"),
])
def test_bad_dates_are_refused_with_a_clear_error(world, administrator, first, last, field, message):
    with pytest.raises(Invalid) as exc:
        closures.add_closure(administrator[0], world.school.id, "inset", first, last)
    assert message in exc.value.errors[field]
    assert db.session().scalar(select(func.count()).select_from(SchoolClosure)) == 0


def test_an_organisation_that_has_no_schools_cannot_have_closures(world, administrator):
    with pytest.raises(Invalid) as exc:
        closures.add_closure(administrator[0], world.police.id, "inset", FRIDAY, FRIDAY)
    assert "organisation_id" in exc.value.errors


def test_a_dsl_sets_only_their_own_schools_inset_days(world, administrator):
    dsl = _user(world.dsl)
    mine = closures.add_closure(dsl, None, "inset", FRIDAY, FRIDAY, "Training")
    assert mine.organisation_id == world.school.id
    with pytest.raises(Invalid) as exc:
        closures.add_closure(dsl, None, "holiday", MONDAY, MONDAY)
    assert "kind" in exc.value.errors
    with pytest.raises(NotFound):
        closures.add_closure(dsl, world.other_school.id, "inset", FRIDAY, FRIDAY)
    with pytest.raises(NotFound):
        closures.remove_closure(_user(world.other_dsl), mine.id)
    holiday = closures.add_closure(administrator[0], world.school.id, "holiday", MONDAY, MONDAY)
    with pytest.raises(NotFound):  # the administrator's holidays are not the DSL's to remove
        closures.remove_closure(dsl, holiday.id)
    assert {c.id for c in closures.closures(dsl)} == {mine.id, holiday.id}
    assert closures.closures(_user(world.other_dsl)) == []
    closures.remove_closure(dsl, mine.id)
    assert db.session().get(SchoolClosure, mine.id) is None


@pytest.mark.parametrize("who", ["deputy", "officer", "la_contact"])
def test_other_roles_cannot_set_closures(world, who):
    with pytest.raises(Forbidden):
        closures.add_closure(_user(getattr(world, who)), world.school.id, "inset", FRIDAY, FRIDAY)
    with pytest.raises(Forbidden):
        closures.closures(_user(getattr(world, who)))
    refused = db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == "school-closure"))
    assert refused == 2


def test_the_administrator_sets_when_the_school_day_starts(world, administrator):
    org = admin.set_school_day_start(administrator[0], world.school.id, "09:15")
    assert calendar.next_school_day_start(org, at(THURSDAY, "20:00")) == at(FRIDAY, "09:15")
    with pytest.raises(Invalid):
        admin.set_school_day_start(administrator[0], world.school.id, "9am")
    with pytest.raises(Invalid):
        admin.set_school_day_start(administrator[0], world.police.id, "09:00")
    with pytest.raises(Forbidden):
        admin.set_school_day_start(_user(world.dsl), world.school.id, "07:00")
    assert admin.set_school_day_start(administrator[0], world.school.id, "").school_day_start is None


# --- the pages ----------------------------------------------------------------------------------

def _dates(prefix: str, day: date) -> dict:
    return {prefix: [str(day.day), str(day.month), str(day.year)]}


def test_the_administrators_page_lists_filters_adds_and_removes(app, world, administrator):
    client = app.test_client()
    sign_in(client, *administrator)
    page = client.get("/admin/closures").get_data(as_text=True)
    assert "School closures" in page and world.school.name in page and 'for="organisation"' in page
    response = client.post("/admin/closures", data={
        "csrf_token": csrf_token(page), "organisation_id": world.school.id, "kind": "inset",
        **_dates("first_day", FRIDAY), **_dates("last_day", THURSDAY), "description": "Training"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in body
    assert "The last day must be the same as or after the first day" in body
    response = client.post("/admin/closures", data={
        "csrf_token": csrf_token(page), "organisation_id": world.school.id, "kind": "inset",
        **_dates("first_day", FRIDAY), **_dates("last_day", FRIDAY), "description": "Training"})
    assert response.status_code == 302
    page = client.get(f"/admin/closures?organisation={world.school.id}").get_data(as_text=True)
    assert "6 March 2026" in page and "Training" in page and "School day starts at" in page
    assert "Training" not in client.get(f"/admin/closures?organisation={world.other_school.id}").get_data(as_text=True)
    response = client.post(f"/admin/closures/start-time/{world.school.id}",
                           data={"csrf_token": csrf_token(page), "school_day_start": "08:45"})
    assert response.status_code == 302 and db.session().get(Organisation, world.school.id).school_day_start == "08:45"
    closure_id = db.session().scalar(select(SchoolClosure.id))
    assert client.post(f"/admin/closures/{closure_id}/remove", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert db.session().scalar(select(func.count()).select_from(SchoolClosure)) == 0
    assert client.post("/admin/closures", data={"organisation_id": world.school.id, "kind": "inset",
                                                **_dates("first_day", FRIDAY), **_dates("last_day", FRIDAY)}
                       ).status_code in (200, 400)  # no CSRF token: nothing stored
    assert db.session().scalar(select(func.count()).select_from(SchoolClosure)) == 0


def test_the_dsls_page_and_the_wrong_roles(app, world, administrator):
    client = signed_in_client(app, world.dsl.id)
    page = client.get("/notifications/closures").get_data(as_text=True)
    assert "Your school's INSET days" in page and 'name="organisation_id"' not in page
    assert client.get("/admin/closures").status_code == 403
    response = client.post("/notifications/closures", data={
        "csrf_token": csrf_token(page), "kind": "inset", **_dates("first_day", FRIDAY), **_dates("last_day", FRIDAY)})
    assert response.status_code == 302
    closure = db.session().scalar(select(SchoolClosure))
    assert closure.organisation_id == world.school.id and closure.created_by_user_id == world.dsl.id
    other = signed_in_client(app, world.other_dsl.id)
    other_page = other.get("/notifications/closures").get_data(as_text=True)
    assert "6 March 2026" not in other_page
    assert other.post(f"/notifications/closures/{closure.id}/remove",
                      data={"csrf_token": csrf_token(other_page)}).status_code == 404
    assert signed_in_client(app, world.deputy.id).get("/notifications/closures").status_code == 403
    assert signed_in_client(app, world.officer.id).get("/notifications/closures").status_code == 403
    assert client.post(f"/notifications/closures/{closure.id}/remove",
                       data={"csrf_token": csrf_token(page)}).status_code == 302
    assert db.session().get(SchoolClosure, closure.id) is None


@pytest.mark.parametrize("kind, last, description, field, message", [
    ("half-day", FRIDAY, "", "kind", "Choose whether it is an INSET day or a school holiday"),
    (None, FRIDAY, "", "kind", "Choose whether it is an INSET day or a school holiday"),
    ("inset", None, "", "last_day", "Enter the last day closed"),
    ("inset", FRIDAY, "d" * 201, "description", "Keep the description under 200 characters"),
], ids=["unknown-kind", "no-kind", "no-last-day", "long-description"])
def test_a_closure_needs_its_kind_its_last_day_and_a_short_description(world, administrator, kind, last,
                                                                       description, field, message):
    with pytest.raises(Invalid) as exc:
        closures.add_closure(administrator[0], world.school.id, kind, FRIDAY, last, description)
    assert exc.value.errors[field] == message
    assert db.session().scalar(select(func.count()).select_from(SchoolClosure)) == 0
