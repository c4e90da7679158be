"""MACE meetings: scheduling, attendance, the agenda, minutes, agency updates and risk levels."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import Invalid, NotFound
from hub.mace.operations import agenda, meetings
from hub.mace.service import TEXT_MAX
from hub.models.audit import AuditEvent
from hub.models.mace import (
    Attendance,
    MaceAgencyUpdate,
    MaceAgendaChild,
    MaceAttendance,
    MaceMeeting,
    MeetingStatus,
    SubjectKind,
)
from tests.factories import make_child, post_form, sign_in
from tests.support.statements import count_statements


def _events(object_type: str) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == object_type)
                                     .order_by(AuditEvent.id)))


def _meeting(mace, day: date | None = None) -> MaceMeeting:
    return meetings.schedule(mace.user("chair"), mace.group.id, meetings.MeetingDetails(
        day or date.today(), "09:30", "Town hall"))


def _item(mace, meeting, child=None):
    child = child or mace.children[0]
    return agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))


def test_the_chair_schedules_a_meeting_in_london_time_and_the_change_is_audited(mace):
    day = date.today() + timedelta(days=10)
    meeting = _meeting(mace, day)
    assert meeting.status is MeetingStatus.scheduled and meeting.venue == "Town hall"
    local = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    assert meeting.scheduled_for == local.astimezone(UTC)
    assert _events("mace-meeting")[-1].action == "create"


def test_scheduling_through_the_page_takes_the_date_time_and_venue(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    url = f"/mace/groups/{mace.group.id}/meetings/new"
    day = date.today() + timedelta(days=14)
    response = post_form(client, url, {"day": [str(day.day), str(day.month), str(day.year)], "time": "10:00",
                                       "venue": "Room 4"})
    assert response.status_code == 302
    meeting = db.session().scalars(select(MaceMeeting)).one()
    assert response.headers["Location"].endswith(f"/mace/meetings/{meeting.id}")
    assert client.get(f"/mace/meetings/{meeting.id}").status_code == 200


def test_an_impossible_date_is_refused_with_a_clear_error_and_nothing_is_stored(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    response = post_form(client, f"/mace/groups/{mace.group.id}/meetings/new",
                         {"day": ["31", "2", "2026"], "time": "10:00"})
    assert response.status_code == 200 and "Enter a real date" in response.get_data(as_text=True)
    assert db.session().scalars(select(MaceMeeting)).all() == []


def test_a_member_who_is_not_the_chair_cannot_schedule_a_meeting(mace):
    with pytest.raises(NotFound):
        meetings.schedule(mace.user("police"), mace.group.id, meetings.MeetingDetails(date.today(), "10:00", None))
    assert db.session().scalars(select(MaceMeeting)).all() == []


@pytest.mark.parametrize("who", ["former", "outsider_dsl", "outsider_police"])
def test_a_non_member_or_former_member_gets_a_404_on_every_meeting_page_and_each_refusal_is_audited(app, mace, who):
    meeting = _meeting(mace)
    item = _item(mace, meeting)
    client = app.test_client()
    user, secret = mace.users[who]
    sign_in(client, user, secret)
    urls = [f"/mace/groups/{mace.group.id}/meetings/new", f"/mace/meetings/{meeting.id}",
            f"/mace/meetings/{meeting.id}/attendance", f"/mace/meetings/{meeting.id}/notes",
            f"/mace/meetings/{meeting.id}/agenda/new", f"/mace/meetings/{meeting.id}/proposals",
            f"/mace/agenda-items/{item.id}"]
    for url in urls:
        assert client.get(url).status_code == 404, url
    refusals = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.outcome == "refused")).all()
    assert len(refusals) == len(urls)


def test_a_member_reads_the_meeting_and_the_read_is_audited_with_the_children_on_the_agenda(mace):
    meeting = _meeting(mace)
    for child in mace.children[:2]:
        _item(mace, meeting, child)
    page = meetings.meeting_page(mace.user("nurse"), meeting.id)
    assert [v.name for v in page.items] == [c.full_name for c in mace.children[:2]]
    event = _events("mace-meeting")[-1]
    assert event.action == "read" and event.actor_user_id == mace.user("nurse").id
    assert json.loads(event.detail)["children"] == sorted(c.id for c in mace.children[:2])


def test_adding_a_child_to_the_agenda_makes_the_group_hold_the_child(mace):
    meeting = _meeting(mace)
    item = _item(mace, meeting)
    held = db.session().scalars(select(MaceAgendaChild).where(MaceAgendaChild.child_id == item.child_id)).one()
    assert held.group_id == mace.group.id
    assert _events("mace-agenda-item")[-1].action == "create"


def test_a_child_the_chair_may_not_see_cannot_be_added(mace):
    stranger = make_child("Far", "Away")
    with pytest.raises(Invalid) as exc:
        _item(mace, _meeting(mace), stranger)
    assert "subject" in exc.value.errors


def test_attendance_is_recorded_for_each_current_member_with_their_agency(mace):
    meeting = _meeting(mace)
    marks = {mace.user(w).id: Attendance.present for w in ("chair", "police", "nurse")}
    marks[mace.user("dsl").id] = Attendance.apologies
    meetings.record_attendance(mace.user("chair"), meeting.id, marks)
    rows = {a.user_id: a for a in db.session().scalars(select(MaceAttendance))}
    assert rows[mace.user("dsl").id].attendance is Attendance.apologies
    assert rows[mace.user("nurse").id].organisation_id == mace.health.id
    assert _events("mace-attendance")[-1].action == "update"


def test_attendance_for_someone_who_is_not_a_member_is_refused(mace):
    meeting = _meeting(mace)
    marks = {mace.user(w).id: Attendance.present for w in ("chair", "police", "nurse", "dsl", "outsider_dsl")}
    with pytest.raises(Invalid):
        meetings.record_attendance(mace.user("chair"), meeting.id, marks)
    assert db.session().scalars(select(MaceAttendance)).all() == []


def test_the_meeting_is_recorded_as_held_only_once_someone_was_present(mace):
    meeting = _meeting(mace)
    with pytest.raises(Invalid):
        meetings.record_held(mace.user("chair"), meeting.id)
    marks = {mace.user(w).id: Attendance.present for w in ("chair", "police", "nurse", "dsl")}
    meetings.record_attendance(mace.user("chair"), meeting.id, marks)
    held = meetings.record_held(mace.user("chair"), meeting.id)
    assert held.status is MeetingStatus.held and held.held_at is not None


def test_the_chair_sets_a_risk_level_and_the_groups_view_of_the_child_follows(mace):
    item = _item(mace, _meeting(mace))
    review = date.today() + timedelta(days=30)
    agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("High", review))
    held = db.session().scalars(select(MaceAgendaChild).where(MaceAgendaChild.child_id == item.child_id)).one()
    assert (held.risk_level, held.risk_review_due) == ("High", review) and held.risk_set_at is not None
    assert json.loads(_events("mace-agenda-item")[-1].detail) == {"risk_level": "High", "review_on": review.isoformat()}


def test_the_review_date_defaults_to_the_groups_interval(mace):
    item = _item(mace, _meeting(mace))
    agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("Low", None))
    assert item.risk_review_on == date.today() + timedelta(days=mace.group.review_interval_days)


def test_a_risk_level_off_the_groups_scale_is_refused(mace):
    item = _item(mace, _meeting(mace))
    with pytest.raises(Invalid) as exc:
        agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("Category 1", None))
    assert "scale" in exc.value.errors["level"]
    assert db.session().get(type(item), item.id).risk_level is None


@pytest.mark.parametrize("days", [0, -3, 91])
def test_a_review_date_not_in_the_future_or_beyond_the_interval_is_refused(mace, days):
    item = _item(mace, _meeting(mace))
    with pytest.raises(Invalid) as exc:
        agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("High", date.today() + timedelta(days=days)))
    assert "review_on" in exc.value.errors


def test_a_risk_level_sent_off_the_scale_through_the_page_shows_the_error(app, mace):
    item = _item(mace, _meeting(mace))
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    url = f"/mace/agenda-items/{item.id}"
    response = post_form(client, f"{url}/risk", {"level": "Purple"}, form_page=url)
    assert response.status_code == 400 and "the group&#39;s scale" in response.get_data(as_text=True)


def test_any_member_adds_their_agencys_update_and_it_is_audited(mace):
    item = _item(mace, _meeting(mace))
    update = agenda.add_update(mace.user("nurse"), item.id, "Seen at clinic; engaging.")
    assert update.organisation_id == mace.health.id
    assert _events("mace-agency-update")[-1].child_id == item.child_id
    page = agenda.item_page(mace.user("police"), item.id)
    assert [(u.text, name) for u, name in page.view.updates] == [("Seen at clinic; engaging.", mace.health.name)]


def test_huge_text_is_refused_with_a_clear_error_and_nothing_is_stored(mace):
    item = _item(mace, _meeting(mace))
    with pytest.raises(Invalid) as exc:
        agenda.add_update(mace.user("nurse"), item.id, "x" * (TEXT_MAX + 1))
    assert "characters or fewer" in exc.value.errors["text"]
    with pytest.raises(Invalid):
        agenda.record_minutes(mace.user("chair"), item.id, agenda.MinutesDraft("x" * (TEXT_MAX + 1), None))
    assert db.session().scalars(select(MaceAgencyUpdate)).all() == []


def test_a_member_who_is_not_the_chair_cannot_record_minutes_or_risk(mace):
    item = _item(mace, _meeting(mace))
    with pytest.raises(NotFound):
        agenda.record_minutes(mace.user("police"), item.id, agenda.MinutesDraft("m", None))
    with pytest.raises(NotFound):
        agenda.set_risk(mace.user("police"), item.id, agenda.RiskDraft("High", None))


def test_the_chair_records_notes_and_the_next_meeting_date(mace):
    meeting = _meeting(mace)
    with pytest.raises(Invalid):
        meetings.record_notes(mace.user("chair"), meeting.id, meetings.NotesDraft("n", date.today()))
    meetings.record_notes(mace.user("chair"), meeting.id,
                          meetings.NotesDraft("Agreed a joint patrol plan.", date.today() + timedelta(days=21)))
    assert meeting.next_meeting_on == date.today() + timedelta(days=21)


def test_the_meeting_page_runs_the_same_number_of_statements_whatever_the_agenda(app, mace):
    meeting = _meeting(mace)
    _item(mace, meeting)
    db.session().expunge_all()
    small = count_statements(app, lambda: meetings.meeting_page(mace.user("nurse"), meeting.id))
    for n in range(6):
        child = make_child(f"More{n}", "Child", responsible_authority_id=mace.authority.id)
        item = _item(mace, meeting, child)
        agenda.add_update(mace.user("police"), item.id, "update")
    db.session().expunge_all()
    large = count_statements(app, lambda: meetings.meeting_page(mace.user("nurse"), meeting.id))
    assert small == large


def test_the_chair_records_attendance_through_the_page(app, mace):
    meeting = _meeting(mace)
    client = app.test_client()
    sign_in(client, *mace.users["chair"])
    url = f"/mace/meetings/{meeting.id}/attendance"
    marks = {f"member_{mace.user(w).id}": "present" for w in ("chair", "police", "nurse")}
    response = post_form(client, url, marks)
    assert response.status_code == 200 and "Choose present, apologies or absent" in response.get_data(as_text=True)
    marks[f"member_{mace.user('dsl').id}"] = "absent"
    assert post_form(client, url, marks).status_code == 302
    assert len(db.session().scalars(select(MaceAttendance)).all()) == 4
