"""What trying the hub from outside found on the MACE pages (issue 19, items 1, 2 and 4): a risk
level always carries its review date (in the database, not only in the service), the agenda
items an action may belong to are named, a held meeting shows the next one scheduled, and every
meeting time reads in London time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import render_template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.errors import Invalid
from hub.mace.operations import agenda, meetings
from hub.models.mace import (
    Attendance,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceLocation,
    MaceMeeting,
    MeetingStatus,
    SubjectKind,
)
from tests.factories import sign_in

LONDON = ZoneInfo("Europe/London")
TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "templates" / "mace"


def _meeting(mace, when: datetime, held: bool = False) -> MaceMeeting:
    with db.unit_of_work() as s:
        meeting = MaceMeeting(group_id=mace.group.id, scheduled_for=when, created_by_user_id=mace.user("chair").id,
                              status=MeetingStatus.held if held else MeetingStatus.scheduled,
                              held_at=when + timedelta(hours=2) if held else None)
        s.add(meeting)
    return meeting


def _child_item(mace, meeting: MaceMeeting, child, **risk) -> MaceAgendaItem:
    with db.unit_of_work() as s:
        item = MaceAgendaItem(meeting_id=meeting.id, position=1, child_id=child.id, reason="chair",
                              added_by_user_id=mace.user("chair").id, **risk)
        s.add(item)
    return item


# --- item 1: a risk level carries its review date ----------------------------------------------------------

@pytest.mark.parametrize("risk", [{"risk_level": "High"}, {"risk_review_on": date(2027, 1, 4)}])
def test_an_agenda_item_cannot_hold_a_risk_level_without_its_review_date_nor_the_reverse(mace, risk):
    meeting = _meeting(mace, datetime.now(UTC) + timedelta(days=7))
    with pytest.raises(IntegrityError):
        _child_item(mace, meeting, mace.children[0], **risk)
    db.session.rollback()
    assert db.session().scalar(select(MaceAgendaItem.id)) is None


@pytest.mark.parametrize("risk", [{"risk_level": "High"}, {"risk_review_due": date(2027, 1, 4)}])
def test_the_groups_view_of_a_child_cannot_hold_a_risk_level_without_its_review_date(mace, risk):
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=mace.children[0].id, **risk))
    db.session.rollback()


def test_the_service_sets_a_level_only_with_its_review_date_and_refuses_a_date_without_a_level(mace):
    meeting = _meeting(mace, datetime.now(UTC) + timedelta(days=7))
    item = agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child,
                                                                                 mace.children[0].id))
    with pytest.raises(Invalid) as refused:
        agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft(None, date.today() + timedelta(days=7)))
    assert "level" in refused.value.errors
    db.session().refresh(item)
    assert item.risk_level is None and item.risk_review_on is None
    agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("High", None))
    db.session().refresh(item)
    assert item.risk_level == "High" and item.risk_review_on is not None


def test_the_meeting_item_shows_a_level_whose_review_date_is_missing_instead_of_failing(app, mace):
    """Data from before the constraint (or a row the migration has not reached) still renders."""
    item = MaceAgendaItem(child_id=mace.children[0].id, reason="chair", risk_level="High", risk_review_on=None)
    held = MaceAgendaChild(child_id=mace.children[0].id, risk_level="High", risk_review_due=None)
    view = meetings.ItemView(item, "Mace0 Child", [], held)
    with app.test_request_context():
        html = render_template("mace/_meeting_item.html", view=view)
    assert html.count("High, no review date recorded") == 2


# --- item 2: the agenda items an action may belong to are named ---------------------------------------------

def test_add_an_action_names_each_agenda_items_child_place_or_person(app, mace):
    meeting = _meeting(mace, datetime.now(UTC) + timedelta(days=7))
    for child in mace.children[:2]:
        agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    with db.unit_of_work() as s:
        place = MaceLocation(group_id=mace.group.id, name="Rec ground", kind="park",
                             created_by_user_id=mace.user("chair").id)
        s.add(place)
    agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.location, place.id))
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    html = client.get(f"/mace/meetings/{meeting.id}/actions/new").get_data(as_text=True)
    select_ = html[html.index('name="item_id"'):]
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select_[:select_.index("</select>")])
    first, second = mace.children[0].full_name, mace.children[1].full_name
    assert options == ["Not for one item", f"Item 1: {first} (child)", f"Item 2: {second} (child)",
                       "Item 3: Rec ground (location)"]


# --- item 4: the next meeting, and London time everywhere ------------------------------------------------

def test_a_held_meeting_shows_the_next_meeting_scheduled_in_london_time(app, mace):
    held = _meeting(mace, datetime(2026, 6, 4, 9, 30, tzinfo=LONDON), held=True)
    following = _meeting(mace, datetime(2026, 7, 2, 9, 30, tzinfo=LONDON))
    _meeting(mace, datetime(2026, 8, 6, 9, 30, tzinfo=LONDON))  # later still: not the next one
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    html = client.get(f"/mace/meetings/{held.id}").get_data(as_text=True)
    row = html[html.index("Next meeting</dt>"):]
    row = row[:row.index("</dd>")]
    assert "Not yet agreed" not in row
    assert f'href="/mace/meetings/{following.id}"' in row and "2 Jul 2026 09:30" in row


def test_a_meeting_with_no_later_one_says_so_or_shows_the_agreed_date(app, mace):
    held = _meeting(mace, datetime(2026, 6, 4, 9, 30, tzinfo=LONDON), held=True)
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    assert "Not yet agreed" in client.get(f"/mace/meetings/{held.id}").get_data(as_text=True)
    with db.unit_of_work():
        db.session().get(MaceMeeting, held.id).next_meeting_on = date(2026, 7, 2)
    html = client.get(f"/mace/meetings/{held.id}").get_data(as_text=True)
    assert "2 Jul 2026 (agreed, not yet scheduled)" in html


def test_my_outcomes_shows_the_meeting_at_the_time_every_other_page_shows_it(app, mace):
    """A summer meeting at 09:30 London (08:30 UTC), recorded as held two hours later."""
    held = _meeting(mace, datetime(2026, 7, 2, 9, 30, tzinfo=LONDON), held=True)
    _child_item(mace, held, mace.children[0])
    with db.unit_of_work() as s:
        for who in ("chair", "nurse"):
            user = mace.user(who)
            s.add(MaceAttendance(meeting_id=held.id, user_id=user.id, organisation_id=user.organisation_id,
                                 attendance=Attendance.present))
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    meeting_page = client.get(f"/mace/meetings/{held.id}").get_data(as_text=True)
    mine = client.get("/mace/my/outcomes").get_data(as_text=True)
    assert "2 Jul 2026 09:30" in meeting_page
    row = mine[mine.index(f'/mace/meetings/{held.id}/outcomes"'):]
    assert row[row.index(">") + 1:row.index("</a>")] == "2 Jul 2026 09:30"


def test_no_mace_page_formats_a_stored_time_except_through_the_london_filter():
    """Times are stored in UTC: `x_at.strftime(...)` or `scheduled_for.strftime(...)` on a page
    prints UTC. Dates (`_on`, `_due`, `_date`) have no time zone and may be formatted as dates."""
    raw = {path.name: re.findall(r"\b\w*(?:_at|scheduled_for)\s*\.\s*(?:strftime|isoformat)", path.read_text())
           for path in TEMPLATES.glob("*.html")}
    assert {name: found for name, found in raw.items() if found} == {}
