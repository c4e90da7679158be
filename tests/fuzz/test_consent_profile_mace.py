"""The consent, Philomena profile and MACE forms, fuzzed (tests/support/form_fuzz.py says how and
what is asserted; tests/fuzz/test_every_post_route.py holds every POST route to a fuzz or a reason)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hub import db
from hub.mace.operations import agenda, meetings, subjects
from hub.models.mace import MaceAgendaChild, SubjectKind
from tests.factories import sign_in
from tests.support.form_fuzz import FormFields, fuzz
from tests.support.mace import add_person_of_concern


@pytest.fixture
def chair(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    return client


@pytest.fixture
def member(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["police"])
    return client


def _held_child(mace):
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=mace.children[0].id))
    return mace.children[0]


def test_the_consent_form(mace, chair):
    assert fuzz(chair, f"/consent/new/{mace.children[0].id}", examples=20) >= 8


def test_the_philomena_profile_form(mace, chair):
    assert fuzz(chair, f"/missing/profile/{mace.children[0].id}", examples=20) >= 5


@pytest.mark.parametrize("page", ["locations/new", "persons/new", "links/new", "meetings/new", "members/new"])
def test_the_mace_groups_forms(mace, chair, member, page):
    _held_child(mace)
    client = chair if page in ("meetings/new", "members/new") else member
    assert fuzz(client, f"/mace/groups/{mace.group.id}/{page}") >= 1


def test_the_mace_meetings_forms(mace, chair):
    child = _held_child(mace)
    meeting = meetings.schedule(
        mace.users["chair"][0],
        mace.group.id,
        meetings.MeetingDetails(date.today() + timedelta(days=7), "09:30", "Town hall"),
    )
    item = agenda.add_item(mace.users["chair"][0], meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    for page in ("notes", "agenda/new", "actions/new"):
        assert fuzz(chair, f"/mace/meetings/{meeting.id}/{page}", examples=12) >= 1
    for part in ("minutes", "risk", "updates"):
        assert fuzz(chair, f"/mace/agenda-items/{item.id}", f"/mace/agenda-items/{item.id}/{part}", examples=12) >= 1


def test_the_edit_forms_of_a_place_and_a_person(mace, member):
    place = subjects.add_location(
        mace.users["police"][0],
        mace.group.id,
        subjects.LocationDetails(name="Rec ground", kind="park", address="Behind the library"),
    )
    assert fuzz(member, f"/mace/locations/{place.id}/edit") >= 3
    person = add_person_of_concern(mace)
    assert fuzz(member, f"/mace/persons/{person.id}", f"/mace/persons/{person.id}/rejustify") >= 1


def test_the_parser_reads_each_kind_of_field():
    fields = FormFields()
    fields.feed(
        '<form method="get"><input name="q"></form><form method="post">'
        '<input type="hidden" name="csrf_token" value="t"><input name="day"><input name="day">'
        '<input type="radio" name="kind" value="a"><input type="radio" name="kind" value="b">'
        '<select name="org"><option value="1">One</option></select><textarea name="notes"></textarea>'
        '<input type="submit" name="submit"></form>'
    )
    assert fields.fields == {"day": 2, "kind": 1, "org": 1, "notes": 1}
    assert fields.options == {"kind": ["a", "b"], "org": ["1"]}


def test_the_parser_takes_only_the_fields_of_the_form_posting_to_the_target():
    page = (
        '<form method="post"><input name="ack"></form>'
        '<form method="post" action="/n/1/information"><textarea name="info-text"></textarea></form>'
    )
    own, other = FormFields("/n/1", "/n/1"), FormFields("/n/1", "/n/1/information")
    own.feed(page)
    other.feed(page)
    assert (own.fields, other.fields) == ({"ack": 1}, {"info-text": 1})
