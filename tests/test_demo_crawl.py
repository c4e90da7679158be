"""The demo a newcomer sees: every demo login (as `flask demo-data` prints them) signs in and follows
every same-origin link from their home page, breadth first and bounded; no page answers 500.

One demo database is built for the module (the demo takes seconds to load); each login has a
client of its own. Links that end the session (sign out) are not followed; downloads reached by
a GET link are fetched like any page."""

from __future__ import annotations

import re

import pytest
from flask import flash
from sqlalchemy import select

from hub import db
from hub.extensions import csrf
from hub.models.mace import MaceAgendaItem, MaceMeeting, MeetingStatus
from hub.web import public
from tests.factories import csrf_token
from tests.support.crawl import crawl, demo_logins, sign_in


def test_the_crawl_covers_every_login_the_demo_prints(demo):
    _app, logins = demo
    assert sorted(email for email, _ in logins) == sorted(demo_logins())


@pytest.mark.parametrize("email", demo_logins())
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
