"""A group's locations, persons of concern and links: who may add and see them, the legal basis
and review of a person, the checks on a link, and the audit of every view and change."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import Invalid, NotFound
from hub.mace.operations import subjects
from hub.mace.service import TEXT_MAX
from hub.models.audit import AuditEvent
from hub.models.mace import LocationKind, MaceAgendaChild, MaceGroup, MaceLink, MaceLocation, MacePerson
from tests.factories import post_form, sign_in


def _events(object_type: str, actor=None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    if actor is not None:
        query = query.where(AuditEvent.actor_user_id == actor.id)
    return list(db.session().scalars(query.order_by(AuditEvent.id)))


def _count(model) -> int:
    return db.session().scalar(select(func.count()).select_from(model))


def _place(mace, who="police", **changes) -> MaceLocation:
    details = subjects.LocationDetails(name="Rec ground", kind="park", address="Behind the library",
                                       postcode="nb1 2cd")
    for key, value in changes.items():
        setattr(details, key, value)
    return subjects.add_location(mace.user(who), mace.group.id, details)


def _person_details(**changes) -> subjects.PersonDetails:
    values = dict(kind="person", name="'Tiny'", legal_basis="10+S1P18",
                  justification="Seen giving lifts to two missing children", review_on=date.today() + timedelta(90),
                  vehicles="Black Audi", phone_numbers="07700 900123")
    values.update(changes)
    return subjects.PersonDetails(**values)


def _hold(mace, child) -> None:
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))


# --- locations ---------------------------------------------------------------------------------------

def test_a_member_adds_and_changes_a_location_and_both_are_audited(mace):
    place = _place(mace)
    assert place.kind == LocationKind.park and place.postcode == "NB1 2CD"
    subjects.update_location(mace.user("nurse"), place.id, subjects.LocationDetails(
        name="Recreation ground", kind="park", address="Behind the library"))
    assert db.session().get(MaceLocation, place.id).name == "Recreation ground"
    assert [e.action for e in _events("mace-location")] == ["create", "update"]
    assert json.loads(_events("mace-location")[-1].detail)["changed"] == ["name", "postcode"]


def test_the_location_list_and_page_are_audited_reads(mace):
    place = _place(mace)
    group, found = subjects.locations(mace.user("dsl"), mace.group.id)
    assert [p.id for p in found] == [place.id]
    page = subjects.location_page(mace.user("dsl"), place.id)
    assert page.subject.id == place.id
    assert _events("mace-locations")[-1].actor_user_id == mace.user("dsl").id
    assert _events("mace-location")[-1].action == "read"


@pytest.mark.parametrize("who", ["former", "outsider_dsl", "outsider_police"])
def test_a_non_member_or_former_member_gets_a_404_for_a_location_and_it_is_audited(mace, who):
    place = _place(mace)
    user = mace.user(who)
    for call in (lambda: subjects.location_page(user, place.id), lambda: subjects.locations(user, mace.group.id),
                 lambda: subjects.update_location(user, place.id, subjects.LocationDetails("X", "park"))):
        with pytest.raises(NotFound):
            call()
    refused = [e for e in _events("mace-location", user) + _events("mace-group", user) if e.outcome == "refused"]
    assert len(refused) == 3


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"), ({"kind": "castle"}, "kind"), ({"address": "x" * (TEXT_MAX + 1)}, "address"),
    ({"postcode": "NOT A POSTCODE AT ALL"}, "postcode"),
])
def test_bad_location_input_is_refused_with_a_clear_error_and_nothing_is_stored(mace, changes, field):
    with pytest.raises(Invalid) as exc:
        _place(mace, **changes)
    assert field in exc.value.errors
    assert _count(MaceLocation) == 0


def test_the_location_pages_work_for_a_member(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    url = f"/mace/groups/{mace.group.id}/locations/new"
    response = post_form(client, url, {"name": "Chicken shop", "kind": "takeaway", "address": "High Street"})
    assert response.status_code == 302
    place = db.session().scalar(select(MaceLocation))
    assert "Chicken shop" in client.get(f"/mace/locations/{place.id}").get_data(as_text=True)
    assert "Chicken shop" in client.get(f"/mace/groups/{mace.group.id}/locations").get_data(as_text=True)
    outsider = app.test_client()
    sign_in(outsider, *mace.users["outsider_dsl"])
    assert outsider.get(f"/mace/locations/{place.id}").status_code == 404


# --- persons of concern ----------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["6(1)(e)", "9(2)(g)+S1P18", "CA1989-s47", "", "made-up"])
def test_a_person_without_an_article_10_or_part_3_basis_is_refused(mace, code):
    with pytest.raises(Invalid) as exc:
        subjects.add_person(mace.user("nurse"), mace.group.id, _person_details(legal_basis=code))
    assert "legal_basis" in exc.value.errors
    assert _count(MacePerson) == 0


def test_an_article_6_basis_is_refused_with_a_message_that_says_why(mace):
    with pytest.raises(Invalid) as exc:
        subjects.add_person(mace.user("nurse"), mace.group.id, _person_details(legal_basis="6(1)(e)"))
    assert "Article 10" in exc.value.errors["legal_basis"] and "Part 3" in exc.value.errors["legal_basis"]


def test_a_person_is_accepted_under_article_10_and_under_part_3_by_the_police(mace):
    first = subjects.add_person(mace.user("nurse"), mace.group.id, _person_details())
    second = subjects.add_person(mace.user("police"), mace.group.id, _person_details(legal_basis="S35+S8P4"))
    assert (first.article_10, first.part_3) == ("10+S1P18", None)
    assert (second.article_10, second.part_3) == (None, "S35+S8P4")
    with pytest.raises(Invalid):  # Part 3 is the police's
        subjects.add_person(mace.user("nurse"), mace.group.id, _person_details(legal_basis="S35+S8P4"))


@pytest.mark.parametrize("changes, field", [
    ({"justification": " "}, "justification"), ({"review_on": None}, "review_on"),
    ({"review_on": date.today()}, "review_on"), ({"review_on": date.today() + timedelta(days=367)}, "review_on"),
    ({"name": ""}, "name"), ({"kind": "gang"}, "kind"), ({"description": "x" * (TEXT_MAX + 1)}, "description"),
])
def test_bad_person_input_is_refused_and_nothing_is_stored(mace, changes, field):
    with pytest.raises(Invalid) as exc:
        subjects.add_person(mace.user("nurse"), mace.group.id, _person_details(**changes))
    assert field in exc.value.errors
    assert _count(MacePerson) == 0


def test_person_audit_events_never_carry_the_name_or_free_text(mace):
    person = subjects.add_person(mace.user("nurse"), mace.group.id, _person_details())
    subjects.person_page(mace.user("police"), person.id)
    for event in _events("mace-person"):
        text = str(event.detail) + str(event.purpose or "")
        assert "Tiny" not in text and "Audi" not in text and "lifts" not in text


def _due_person(mace) -> MacePerson:
    person = subjects.add_person(mace.user("nurse"), mace.group.id, _person_details())
    with db.unit_of_work():
        person.review_on = date.today() - timedelta(days=1)
    return person


def test_a_person_past_the_review_date_shows_review_due_and_can_be_re_justified(app, mace):
    person = _due_person(mace)
    assert subjects.review_due(person)
    client = app.test_client()
    sign_in(client, *mace.users["police"])
    assert "Review due" in client.get(f"/mace/groups/{mace.group.id}/persons").get_data(as_text=True)
    new_date = date.today() + timedelta(days=60)
    subjects.rejustify_person(mace.user("police"), person.id, "Still seen near the station", new_date)
    kept = db.session().get(MacePerson, person.id)
    assert kept.review_on == new_date and not subjects.review_due(kept)
    event = _events("mace-person")[-1]
    assert event.action == "update" and json.loads(event.detail)["change"] == "re-justified"
    with pytest.raises(Invalid):
        subjects.rejustify_person(mace.user("police"), person.id, "", new_date)
    with pytest.raises(Invalid):
        subjects.rejustify_person(mace.user("police"), person.id, "ok", date.today() + timedelta(days=400))


def test_a_removed_person_leaves_lists_and_links_but_the_row_stays(mace):
    person = _due_person(mace)
    place = _place(mace)
    subjects.add_link(mace.user("police"), mace.group.id, subjects.LinkDetails(
        "patrol", date.today(), person_id=person.id, location_id=place.id))
    assert [r.kind for r in subjects.location_page(mace.user("police"), place.id).links] == ["person"]
    subjects.remove_person(mace.user("police"), person.id)
    assert subjects.persons(mace.user("police"), mace.group.id)[1] == []
    assert subjects.location_page(mace.user("police"), place.id).links == []
    assert db.session().get(MacePerson, person.id).removed_at is not None
    assert _events("mace-person")[-1].action == "delete"
    with pytest.raises(Invalid):
        subjects.rejustify_person(mace.user("police"), person.id, "again", date.today() + timedelta(days=30))


def test_a_former_member_cannot_see_or_review_a_person(mace):
    person = subjects.add_person(mace.user("nurse"), mace.group.id, _person_details())
    with pytest.raises(NotFound):
        subjects.person_page(mace.user("former"), person.id)
    with pytest.raises(NotFound):
        subjects.remove_person(mace.user("former"), person.id)
    assert db.session().get(MacePerson, person.id).removed_at is None


# --- links -------------------------------------------------------------------------------------------------

def test_a_member_links_a_held_child_to_a_location_and_it_is_audited(mace):
    child = mace.children[0]
    _hold(mace, child)
    place = _place(mace)
    link = subjects.add_link(mace.user("nurse"), mace.group.id, subjects.LinkDetails(
        "Return interview", date.today() - timedelta(days=2), child_id=child.id, location_id=place.id))
    event = _events("mace-link")[-1]
    assert event.action == "create" and event.child_id == child.id and event.object_id == str(link.id)
    assert [r.name for r in subjects.location_page(mace.user("nurse"), place.id).links] == [child.full_name]


def _other_group_place(mace) -> MaceLocation:
    with db.unit_of_work() as s:
        other = MaceGroup(code="MACE-O", name="Other MACE", host_organisation_id=mace.host.id)
        s.add(other)
        s.flush()
        place = MaceLocation(group_id=other.id, name="Elsewhere", kind=LocationKind.other,
                             created_by_user_id=mace.user("chair").id)
        s.add(place)
    return place


@pytest.mark.parametrize("case, field", [
    ("future", "seen_on"), ("no_date", "seen_on"), ("no_source", "source"), ("huge_source", "source"),
    ("one_end", ""), ("three_ends", ""), ("unheld_child", "child_id"), ("other_groups_place", "location_id"),
    ("unknown_person", "person_id"),
])
def test_bad_links_are_refused_with_a_clear_error_and_nothing_is_stored(mace, case, field):
    held, unheld = mace.children[0], mace.children[1]
    _hold(mace, held)
    place = _place(mace)
    person = subjects.add_person(mace.user("nurse"), mace.group.id, _person_details())
    details = subjects.LinkDetails("Patrol", date.today(), child_id=held.id, location_id=place.id)
    if case == "future":
        details.seen_on = date.today() + timedelta(days=1)
    elif case == "no_date":
        details.seen_on = None
    elif case == "no_source":
        details.source = " "
    elif case == "huge_source":
        details.source = "x" * (TEXT_MAX + 1)
    elif case == "one_end":
        details.location_id = None
    elif case == "three_ends":
        details.person_id = person.id
    elif case == "unheld_child":
        details.child_id = unheld.id  # the nurse has no other route to this child
    elif case == "other_groups_place":
        details.location_id = _other_group_place(mace).id
    elif case == "unknown_person":
        details.location_id, details.person_id = None, 999999
    with pytest.raises(Invalid) as exc:
        subjects.add_link(mace.user("nurse"), mace.group.id, details)
    assert field in exc.value.errors
    assert _count(MaceLink) == 0


def test_a_non_member_cannot_link_and_the_refusal_is_audited(mace):
    place = _place(mace)
    with pytest.raises(NotFound):
        subjects.add_link(mace.user("outsider_police"), mace.group.id, subjects.LinkDetails(
            "Patrol", date.today(), child_id=mace.children[0].id, location_id=place.id))
    assert _events("mace-group", mace.user("outsider_police"))[-1].outcome == "refused"
    assert _count(MaceLink) == 0
