"""The demo a newcomer sees: every demo login (as `flask demo-data` prints them) signs in and follows
every same-origin link from their home page, breadth first and bounded; no page answers 500.

One demo database is built for the module (the demo takes seconds to load); each login has a
client of its own. Links that end the session (sign out) are not followed; downloads reached by
a GET link are fetched like any page."""

from __future__ import annotations

import re
from collections import Counter, deque
from html import unescape
from urllib.parse import urldefrag, urlsplit

import pytest
from flask import flash
from sqlalchemy import select

from hub import db
from hub.demo import DEMO_PASSWORD, DOMAIN, SCHOOLS, STAFF
from hub.extensions import csrf
from hub.models.auth import User
from hub.models.mace import MaceAgendaItem, MaceMeeting, MeetingStatus
from hub.web import public
from tests.factories import csrf_token, next_code

#: How far from the home page, how many pages per login at most, and how many pages of one shape
#: (the same path but for its numbers, the same query keys): the 54th child's page tells little
#: the 12th did not, and the crawl of 30 logins must stay a test the suite can run.
DEPTH, CAP, PER_SHAPE = 3, 250, 6
#: Links a crawler must not follow: they end the session it is crawling with.
NOT_FOLLOWED = re.compile(r"^/auth/sign-out")
HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"')


@pytest.fixture(scope="module")
def demo(module_app):
    """The demo loaded once, and its printed logins (e-mail and TOTP secret)."""
    result = module_app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    logins = re.findall(r"^(\S+@\S+)\n(?:    .*\n)*?    totp secret: (\w+)$", result.output, re.M)
    assert len(logins) >= 20, result.output[:2000]
    return module_app, logins


def _same_origin(base: str, href: str) -> str | None:
    href, _ = urldefrag(unescape(href))
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        if parts.netloc not in ("localhost", "") or parts.scheme not in ("http", "https"):
            return None
        href = parts.path + (f"?{parts.query}" if parts.query else "")
    if not href:
        return None
    if not href.startswith("/"):
        href = base.rsplit("/", 1)[0] + "/" + href
    return href


def shape(url: str) -> str:
    """The page a URL is, whatever record: /mace/meetings/4?tab=x is /mace/meetings/N?tab."""
    path, _, query = url.partition("?")
    keys = sorted(part.split("=")[0] for part in query.split("&") if part)
    return re.sub(r"\d+", "N", path) + "?" + "&".join(keys)


def crawl(client, start: str = "/", per_shape: int = PER_SHAPE) -> dict[str, int]:
    """Breadth first from `start`: each page fetched once, its status; at most CAP pages and
    `per_shape` of each shape (the first found, breadth first)."""
    seen: dict[str, int] = {}
    queue = deque([(start, 0)])
    queued = {start}
    shapes: Counter[str] = Counter()
    while queue and len(seen) < CAP:
        url, depth = queue.popleft()
        response = client.get(url)
        seen[url] = response.status_code
        if depth >= DEPTH or response.mimetype != "text/html":
            continue
        for href in HREF.findall(response.get_data(as_text=True)):
            link = _same_origin(url.split("?")[0], href)
            if (link and link not in queued and not NOT_FOLLOWED.match(link) and not link.startswith("/static/")
                    and shapes[shape(link)] < per_shape):
                queued.add(link)
                shapes[shape(link)] += 1
                queue.append((link, depth + 1))
    return seen


def sign_in(app, client, email: str, secret: str) -> None:
    """Password then TOTP, as a person does. The app context is held only to read the account:
    the test client's requests each get their own (and their own `g`), as real requests do."""
    page = client.get("/auth/sign-in")
    response = client.post("/auth/sign-in", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                  "email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, email
    page = client.get("/auth/two-factor")
    with app.app_context():
        code = next_code(db.session().scalar(select(User.id).where(User.email == email)), secret)
    response = client.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                     "code": code})
    assert response.status_code == 302, email


def _demo_logins() -> list[str]:
    """The demo's logins as its own list names them (the test checks the printed list matches)."""
    logins = [f"{local}@{DOMAIN}" for local, *_ in STAFF]
    for code, _name, _urn in SCHOOLS:
        slug = code.lower().split("-")[0]
        logins += [f"dsl.{slug}@{DOMAIN}", f"deputy.{slug}@{DOMAIN}"]
    return logins


def test_the_crawl_covers_every_login_the_demo_prints(demo):
    _app, logins = demo
    assert sorted(email for email, _ in logins) == sorted(_demo_logins())


@pytest.mark.parametrize("email", _demo_logins())
def test_every_demo_login_follows_every_link_from_home_without_a_server_error(demo, email):
    app, logins = demo
    client = app.test_client()
    sign_in(app, client, email, dict(logins)[email])
    pages = crawl(client)
    assert len(pages) > 3, f"{email} reached only {pages}"
    assert [url for url, status in pages.items() if status >= 500] == []


def test_the_chairs_next_meeting_and_its_agenda_open_and_add_to_agenda_says_only_what_happened(demo):
    """The upcoming demo meeting (items with no risk level yet) opens for the chair, as does each
    of its items; adding to its agenda lands on the meeting with the one true message."""
    app, logins = demo
    secrets = dict(logins)
    with app.app_context():
        meeting_id = db.session().scalar(select(MaceMeeting.id).where(MaceMeeting.status == MeetingStatus.scheduled))
        items = db.session().scalars(select(MaceAgendaItem.id).where(MaceAgendaItem.meeting_id == meeting_id)).all()
        db.session.remove()
    client = app.test_client()
    sign_in(app, client, "mace.chair@northbridge.example", secrets["mace.chair@northbridge.example"])
    assert client.get(f"/mace/meetings/{meeting_id}").status_code == 200
    for item_id in items:
        assert client.get(f"/mace/agenda-items/{item_id}").status_code == 200
    form = client.get(f"/mace/meetings/{meeting_id}/agenda/new").get_data(as_text=True)
    choice = re.search(r'<option value="(location:\d+)"', form).group(1)
    added = client.post(f"/mace/meetings/{meeting_id}/agenda/new",
                        data={"csrf_token": csrf_token(form), "subject": choice}, follow_redirects=True)
    html = added.get_data(as_text=True)
    assert added.status_code == 200
    assert "Added to the agenda" in html and "Nothing you sent has been saved" not in html


def test_a_page_that_fails_to_open_does_not_say_that_what_was_sent_was_not_saved(app):
    """A change saved, then the page it redirects to fails: its "Saved" message shows, and the
    error must not contradict it. Only a failed change (a POST) says nothing sent was saved."""

    def failing_page():
        flash("Added to the agenda.", "success")
        raise RuntimeError("the page could not be drawn")

    app.add_url_rule("/test-failing-page", "test_failing_page", csrf.exempt(public(failing_page)),
                     methods=["GET", "POST"])
    client = app.test_client()
    opened = client.get("/test-failing-page")
    html = opened.get_data(as_text=True)
    assert opened.status_code == 500
    assert "Added to the agenda." in html and "This page could not be shown" in html
    assert "Nothing you sent has been saved" not in html
    sent = client.post("/test-failing-page")
    assert sent.status_code == 500 and "Nothing you sent has been saved" in sent.get_data(as_text=True)
