"""Every MACE form, posted over HTTP by the member it is for (issue 24: the POST handlers had only
been run by the services' tests and the refusals' walk): a good post stores what it says and goes
on to the page that shows it; a bad one stores nothing and says what is wrong, on the page or in
the banner the handler flashes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.mace.operations import agenda, meetings, subjects
from hub.models.mace import (
    ActionStatus,
    Attendance,
    MaceAction,
    MaceAgencyUpdate,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MacePerson,
    MeetingStatus,
    SubjectKind,
)
from hub.models.sharing import ShareRecord
from tests.factories import csrf_token, post_form, sign_in


def _date(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _count(model) -> int:
    return db.session().scalar(select(func.count()).select_from(model))


def _client(app, mace, who: str):
    client = app.test_client()
    sign_in(client, *mace.users[who])
    return client


def _post_from(client, page_url: str, url: str, data: dict):
    """A POST from a page's form: the page's CSRF token, and the banner the redirect shows."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, **data})
    assert response.status_code == 302, response.status_code
    return response, client.get(response.headers["Location"]).get_data(as_text=True)


def _place(mace) -> MaceLocation:
    return subjects.add_location(mace.user("police"), mace.group.id, subjects.LocationDetails(
        name="Rec ground", kind="park", address="Behind the library"))


def _person(mace) -> MacePerson:
    return subjects.add_person(mace.user("police"), mace.group.id, subjects.PersonDetails(
        kind="person", name="Tiny", legal_basis="10+S1P18", justification="Seen giving lifts to missing children",
        review_on=date.today() + timedelta(days=90)))


def _hold(mace, *children) -> None:
    """The group holds these children (as once on an agenda): they are among its subjects."""
    with db.unit_of_work() as s:
        s.add_all(MaceAgendaChild(group_id=mace.group.id, child_id=child.id) for child in children)


def _meeting(mace) -> MaceMeeting:
    return meetings.schedule(mace.user("chair"), mace.group.id, meetings.MeetingDetails(
        date.today(), "09:30", "Town hall"))


# --- places, persons, links -----------------------------------------------------------------------------

def test_a_member_adds_a_place_on_the_page_and_a_place_without_a_name_is_refused(app, mace):
    client = _client(app, mace, "police")
    url = f"/mace/groups/{mace.group.id}/locations/new"
    refused = post_form(client, url, {"name": "  ", "kind": "park", "address": "Behind the library"})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    assert _count(MaceLocation) == 0
    added = post_form(client, url, {"name": "Rec ground", "kind": "park", "address": "Behind the library",
                                    "postcode": "nb1 2cd"})
    place = db.session().scalars(select(MaceLocation)).one()
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/mace/locations/{place.id}")
    assert (place.name, place.postcode) == ("Rec ground", "NB1 2CD")


def test_a_member_edits_a_place_on_the_page_and_an_emptied_name_is_refused(app, mace):
    place = _place(mace)
    client = _client(app, mace, "nurse")
    url = f"/mace/locations/{place.id}/edit"
    assert 'value="Rec ground"' in client.get(url).get_data(as_text=True)
    refused = post_form(client, url, {"name": "", "kind": "park", "address": "Behind the library"})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    db.session().expire_all()
    assert db.session().get(MaceLocation, place.id).name == "Rec ground"
    saved = post_form(client, url, {"name": "Recreation ground", "kind": "park", "address": "Behind the library"})
    db.session().expire_all()
    assert saved.status_code == 302 and db.session().get(MaceLocation, place.id).name == "Recreation ground"


def test_a_member_adds_a_person_of_concern_on_the_page_and_one_without_a_justification_is_refused(app, mace):
    client = _client(app, mace, "police")
    url = f"/mace/groups/{mace.group.id}/persons/new"
    person = {"kind": "person", "name": "Tiny", "legal_basis": "10+S1P18",
              "justification": "Seen giving lifts to missing children",
              "review_on": _date(date.today() + timedelta(days=90)), "vehicles": "Black Audi"}
    refused = post_form(client, url, person | {"justification": " "})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    assert _count(MacePerson) == 0
    added = post_form(client, url, person)
    stored = db.session().scalars(select(MacePerson)).one()
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/mace/persons/{stored.id}")
    assert stored.name == "Tiny"


def test_a_persons_record_is_kept_with_a_new_review_date_or_refused_without_a_reason(app, mace):
    person = _person(mace)
    client = _client(app, mace, "police")
    page = f"/mace/persons/{person.id}"
    later = date.today() + timedelta(days=120)
    _, banner = _post_from(client, page, f"{page}/rejustify", {"justification": " ", "review_on": _date(later)})
    assert "govuk-error-summary" in banner and "Record kept" not in banner
    db.session().expire_all()
    assert db.session().get(MacePerson, person.id).review_on == date.today() + timedelta(days=90)
    _, banner = _post_from(client, page, f"{page}/rejustify", {"justification": "Still seen with the children",
                                                               "review_on": _date(later)})
    db.session().expire_all()
    assert "Record kept, with its new review date." in banner
    assert db.session().get(MacePerson, person.id).review_on == later
    _, banner = _post_from(client, page, f"{page}/rejustify", {"justification": "x", "review_on": ["31", "2", "x"]})
    assert "govuk-error-summary" in banner and "Record kept" not in banner


def test_a_persons_record_is_removed_from_its_page(app, mace):
    person = _person(mace)
    client = _client(app, mace, "police")
    page = f"/mace/persons/{person.id}"
    response, banner = _post_from(client, page, f"{page}/remove", {})
    assert response.headers["Location"].endswith(f"/mace/groups/{mace.group.id}/persons")
    assert "Record removed." in banner
    db.session().expire_all()
    assert db.session().get(MacePerson, person.id).removed_at is not None


def test_a_link_is_added_from_the_page_back_to_the_place_and_a_link_of_one_thing_is_refused(app, mace):
    place, person = _place(mace), _person(mace)
    _hold(mace, mace.children[0], mace.children[1])
    client = _client(app, mace, "police")
    url = f"/mace/groups/{mace.group.id}/links/new"
    assert client.get(f"{url}?location_id={place.id}").status_code == 200
    seen = _date(date.today() - timedelta(days=2))
    refused = post_form(client, url, {"source": "Patrol log", "seen_on": seen, "child_id": 0,
                                      "location_id": place.id, "person_id": 0})
    assert refused.status_code == 200 and "Choose two things to link" in refused.get_data(as_text=True)
    assert _count(MaceLink) == 0
    to_place = post_form(client, url, {"source": "Patrol log", "seen_on": seen, "child_id": mace.children[0].id,
                                       "location_id": place.id, "person_id": 0})
    assert to_place.headers["Location"].endswith(f"/mace/locations/{place.id}")
    to_person = post_form(client, url, {"source": "Patrol log", "seen_on": seen, "child_id": mace.children[1].id,
                                        "location_id": 0, "person_id": person.id})
    assert to_person.headers["Location"].endswith(f"/mace/persons/{person.id}")
    assert _count(MaceLink) == 2


def test_intelligence_refused_by_the_register_shows_its_errors_on_the_page_and_stores_nothing(app, mace):
    client = _client(app, mace, "police")
    url = f"/mace/groups/{mace.group.id}/intelligence/new"
    response = post_form(client, url, {"summary": "Seen at the park", "content": "", "purpose": "",
                                       "child_ids": [mace.children[0].id]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-summary" in body
    assert _count(ShareRecord) == 0


# --- membership -------------------------------------------------------------------------------------

def test_the_chair_adds_a_member_on_the_page_and_a_member_without_a_person_is_refused(app, mace):
    client = _client(app, mace, "chair")
    url = f"/mace/groups/{mace.group.id}/members/new"
    before = _count(MaceMember)
    refused = post_form(client, url, {"user_id": 0, "role": "member", "start_date": _date(date.today())})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    assert _count(MaceMember) == before
    newcomer = mace.user("outsider_police")
    added = post_form(client, url, {"user_id": newcomer.id, "role": "member", "start_date": _date(date.today())})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/mace/groups/{mace.group.id}")
    assert db.session().scalars(select(MaceMember).where(MaceMember.user_id == newcomer.id)).one()


def test_the_chair_ends_a_membership_from_the_groups_page_and_a_missing_date_is_refused(app, mace):
    member = db.session().scalars(select(MaceMember).where(MaceMember.user_id == mace.user("nurse").id)).one()
    client = _client(app, mace, "chair")
    page = f"/mace/groups/{mace.group.id}"
    response, banner = _post_from(client, page, f"/mace/members/{member.id}/end", {})
    assert response.headers["Location"].endswith("/mace") and "govuk-error-summary" in banner
    db.session().expire_all()
    assert db.session().get(MaceMember, member.id).end_date is None
    response, banner = _post_from(client, page, f"/mace/members/{member.id}/end", {"end_date": _date(date.today())})
    assert response.headers["Location"].endswith(page) and "Membership ended." in banner
    db.session().expire_all()
    assert db.session().get(MaceMember, member.id).end_date == date.today()


# --- meetings and the agenda -----------------------------------------------------------------------------

def test_a_meeting_is_recorded_as_held_on_its_page_only_once_someone_was_present(app, mace):
    meeting = _meeting(mace)
    client = _client(app, mace, "chair")
    page = f"/mace/meetings/{meeting.id}"
    _, banner = _post_from(client, page, f"{page}/held", {})
    db.session().expire_all()
    assert "govuk-error-summary" in banner and db.session().get(MaceMeeting, meeting.id).status is not \
        MeetingStatus.held
    meetings.record_attendance(mace.user("chair"), meeting.id, {
        mace.user(who).id: Attendance.present if who == "chair" else Attendance.apologies
        for who in ("chair", "police", "nurse", "dsl")})
    _, banner = _post_from(client, page, f"{page}/held", {})
    db.session().expire_all()
    assert "The meeting is recorded as held." in banner
    assert db.session().get(MaceMeeting, meeting.id).status is MeetingStatus.held


def test_the_chair_records_notes_on_the_page_and_a_next_meeting_not_in_the_future_is_refused(app, mace):
    meeting = _meeting(mace)
    client = _client(app, mace, "chair")
    url = f"/mace/meetings/{meeting.id}/notes"
    refused = post_form(client, url, {"notes": "Joint patrols", "next_meeting_on": _date(date.today())})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    db.session().expire_all()
    assert db.session().get(MaceMeeting, meeting.id).next_meeting_on is None
    later = date.today() + timedelta(days=21)
    saved = post_form(client, url, {"notes": "Joint patrols", "next_meeting_on": _date(later)})
    db.session().expire_all()
    assert saved.status_code == 302 and db.session().get(MaceMeeting, meeting.id).next_meeting_on == later


@pytest.mark.parametrize("how", ["subject", "record-number"])
def test_the_chair_adds_a_child_to_the_agenda_on_the_page_and_nothing_chosen_is_refused(app, mace, how):
    meeting = _meeting(mace)
    client = _client(app, mace, "chair")
    url = f"/mace/meetings/{meeting.id}/agenda/new"
    refused = post_form(client, url, {"subject": "", "child_id": ""})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    assert _count(MaceAgendaItem) == 0
    child = mace.children[0]
    _hold(mace, child)
    data = {"subject": f"child:{child.id}"} if how == "subject" else {"subject": "", "child_id": str(child.id)}
    added = post_form(client, url, data)
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/mace/meetings/{meeting.id}")
    assert db.session().scalars(select(MaceAgendaItem.child_id)).all() == [child.id]


def test_minutes_and_an_agencys_update_are_saved_on_the_items_page_and_huge_text_is_refused(app, mace):
    item = agenda.add_item(mace.user("chair"), _meeting(mace).id, agenda.ItemDraft(SubjectKind.child,
                                                                                    mace.children[0].id))
    chair, nurse = _client(app, mace, "chair"), _client(app, mace, "nurse")
    page = f"/mace/agenda-items/{item.id}"
    saved = post_form(chair, f"{page}/minutes", {"minutes": "Discussed", "decisions": "Refer"}, form_page=page)
    db.session().expire_all()
    assert saved.status_code == 302 and db.session().get(MaceAgendaItem, item.id).minutes == "Discussed"
    huge = "x" * 100_000
    refused = post_form(nurse, f"{page}/updates", {"text": huge}, form_page=page)
    assert refused.status_code == 400 and "characters or fewer" in refused.get_data(as_text=True)
    assert _count(MaceAgencyUpdate) == 0
    added = post_form(nurse, f"{page}/updates", {"text": "Seen at clinic"}, form_page=page)
    assert added.status_code == 302 and db.session().scalars(select(MaceAgencyUpdate.text)).all() == ["Seen at clinic"]


# --- actions -----------------------------------------------------------------------------------------------

def test_the_chair_adds_an_action_on_the_page_and_one_without_a_description_is_refused(app, mace):
    meeting = _meeting(mace)
    client = _client(app, mace, "chair")
    url = f"/mace/meetings/{meeting.id}/actions/new"
    action = {"description": "Visit the park with the youth team", "owner_organisation_id": mace.police.id,
              "owner_user_id": 0, "due_on": _date(date.today() + timedelta(days=7)), "kind": "task",
              "item_id": 0, "person_id": 0, "child_id": 0}
    refused = post_form(client, url, action | {"description": ""})
    assert refused.status_code == 200 and "govuk-error-summary" in refused.get_data(as_text=True)
    assert _count(MaceAction) == 0
    added = post_form(client, url, action)
    stored = db.session().scalars(select(MaceAction)).one()
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/mace/actions/{stored.id}")
    page = f"/mace/actions/{stored.id}"
    _, banner = _post_from(client, page, f"{page}/status", {"status": "nonsense", "note": ""})
    db.session().expire_all()
    assert "govuk-error-summary" in banner and db.session().get(MaceAction, stored.id).status is ActionStatus.open
    _, banner = _post_from(client, page, f"{page}/status", {"status": "done", "note": "Visited on Friday"})
    db.session().expire_all()
    assert "Action updated." in banner and db.session().get(MaceAction, stored.id).status is ActionStatus.done


def test_a_breach_posted_without_a_valid_form_is_refused_in_the_banner(app, mace):
    meeting = _meeting(mace)
    client = _client(app, mace, "chair")
    url = f"/mace/meetings/{meeting.id}/actions/new"
    post_form(client, url, {"description": "Visit", "owner_organisation_id": mace.police.id, "owner_user_id": 0,
                            "due_on": _date(date.today() + timedelta(days=7)), "kind": "task", "item_id": 0,
                            "person_id": 0, "child_id": 0})
    action = db.session().scalars(select(MaceAction)).one()
    response = client.post(f"/mace/actions/{action.id}/breach", data={"breach_note": "no token"})
    assert response.status_code in (302, 400)
    page = f"/mace/actions/{action.id}"
    _, banner = _post_from(client, page, f"{page}/breach", {"breach_note": "Seen with the child again"})
    assert "Breach recorded." not in banner  # a breach is of a notice, not of a task
    assert "govuk-error-summary" in banner
