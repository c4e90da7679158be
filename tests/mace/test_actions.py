"""Actions and disruption: owners, due dates, overdue, CAWN fields and breaches, history, and who
may reach every page of the actions, outcomes and export blueprint."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.db import utcnow
from hub.errors import Invalid, NotFound
from hub.mace.operations import actions
from hub.mace.service import TEXT_MAX
from hub.models.audit import AuditEvent
from hub.models.mace import (
    ActionKind,
    ActionStatus,
    DisruptionKind,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceMeeting,
    MacePerson,
    PersonKind,
)
from tests.factories import post_form, sign_in


@pytest.fixture
def meeting(mace):
    chair = mace.user("chair")
    with db.unit_of_work() as s:
        m = MaceMeeting(group_id=mace.group.id, scheduled_for=utcnow(), created_by_user_id=chair.id)
        s.add(m)
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=mace.children[0].id))
        s.flush()
        s.add(MaceAgendaItem(meeting_id=m.id, position=1, child_id=mace.children[0].id, reason="chair",
                             added_by_user_id=chair.id))
        person = MacePerson(group_id=mace.group.id, kind=PersonKind.person, name="Adult A", justification="x",
                            part_3="s35", review_on=date.today() + timedelta(days=90), created_by_user_id=chair.id)
        s.add(person)
        s.flush()
        m.sample_person_id = person.id
    return m


def task(mace, **extra) -> actions.ActionDraft:
    values = dict(description="Visit the park with the youth team", owner_organisation_id=mace.police.id,
                  owner_user_id=mace.user("police").id, due_on=date.today() + timedelta(days=7))
    return actions.ActionDraft(**(values | extra))


def cawn(mace, meeting, **extra) -> actions.ActionDraft:
    return actions.ActionDraft(**(vars(task(mace)) | dict(
        kind=ActionKind.disruption, disruption_kind=DisruptionKind.cawn, person_id=meeting.sample_person_id,
        child_id=mace.children[0].id, served_on=date.today() - timedelta(days=1), serving_officer="PC 123",
        review_on=date.today() + timedelta(days=180)) | extra))


def _events(object_type: str, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session().scalars(query.order_by(AuditEvent.id)))


def test_an_action_past_its_due_date_and_not_closed_is_overdue_for_the_owner_and_the_chair(mace, meeting):
    action = actions.create_action(mace.user("chair"), meeting.id, task(mace, due_on=date.today() - timedelta(days=1)))
    later = actions.create_action(mace.user("chair"), meeting.id, task(mace))
    mine = actions.my_actions(mace.user("police"))
    assert [a.id for a in mine.overdue] == [action.id] and later.id in [a.id for a in mine.actions]
    assert [a.id for a in actions.group_actions(mace.user("chair"), mace.group.id).overdue] == [action.id]
    actions.update_status(mace.user("police"), action.id, ActionStatus.done, "Done")
    assert actions.my_actions(mace.user("police")).overdue == []
    assert actions.my_actions(mace.user("nurse")).actions == []


def test_the_groups_action_list_is_for_the_chair(mace, meeting):
    with pytest.raises(NotFound):
        actions.group_actions(mace.user("nurse"), mace.group.id)


def test_a_cawn_needs_the_person_child_date_served_officer_and_a_later_review_date(mace, meeting):
    chair = mace.user("chair")
    draft = actions.ActionDraft(**(vars(cawn(mace, meeting)) | dict(
        person_id=None, child_id=None, served_on=None, serving_officer=" ", review_on=None)))
    with pytest.raises(Invalid) as exc:
        actions.create_action(chair, meeting.id, draft)
    assert set(exc.value.errors) == {"person_id", "child_id", "served_on", "serving_officer", "review_on"}
    future = cawn(mace, meeting, served_on=date.today() + timedelta(days=1), review_on=date.today())
    with pytest.raises(Invalid) as exc:
        actions.create_action(chair, meeting.id, future)
    assert set(exc.value.errors) == {"served_on", "review_on"}
    assert db.session().scalar(select(MaceAction.id)) is None


def test_a_cawn_counts_its_breaches_and_each_breach_is_in_its_history(mace, meeting):
    action = actions.create_action(mace.user("police"), meeting.id, cawn(mace, meeting))
    assert action.breaches == 0
    actions.record_breach(mace.user("police"), action.id, "Seen together at the park")
    actions.record_breach(mace.user("chair"), action.id, None)
    page = actions.action_page(mace.user("nurse"), action.id)
    assert page.action.breaches == 2
    assert [u.breach for u in page.action.updates] == [False, True, True]
    with pytest.raises(Invalid):
        actions.record_breach(mace.user("police"), actions.create_action(mace.user("police"), meeting.id,
                                                                         task(mace)).id, None)


def test_status_changes_are_kept_as_history_with_their_notes(mace, meeting):
    action = actions.create_action(mace.user("chair"), meeting.id, task(mace))
    actions.update_status(mace.user("police"), action.id, ActionStatus.in_progress, "Patrol booked")
    actions.update_status(mace.user("nurse"), action.id, ActionStatus.done, "Patrol done")
    updates = actions.action_page(mace.user("chair"), action.id).action.updates
    assert [(u.status, u.note) for u in updates] == [
        (ActionStatus.open, None), (ActionStatus.in_progress, "Patrol booked"), (ActionStatus.done, "Patrol done")]
    assert [json.loads(e.detail)["to"] for e in _events("mace-action", "update")] == ["in_progress", "done"]


@pytest.mark.parametrize("bad, field", [
    ({"due_on": None}, "due_on"),
    ({"description": "x" * (TEXT_MAX + 1)}, "description"),
    ({"owner_organisation_id": 999_999}, "owner_organisation_id"),
    ({"owner_user_id": 999_999}, "owner_user_id"),
    ({"item_id": 999_999}, "item_id"),
])
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_stored(mace, meeting, bad, field):
    with pytest.raises(Invalid) as exc:
        actions.create_action(mace.user("chair"), meeting.id, actions.ActionDraft(**(vars(task(mace)) | bad)))
    assert field in exc.value.errors
    assert db.session().scalar(select(MaceAction.id)) is None


def test_an_owner_must_be_a_current_member_for_the_owning_agency(mace, meeting):
    with pytest.raises(Invalid) as exc:
        actions.create_action(mace.user("chair"), meeting.id, task(mace, owner_user_id=mace.user("nurse").id))
    assert "owner_user_id" in exc.value.errors


def test_reading_and_changing_an_action_are_audited(mace, meeting):
    action = actions.create_action(mace.user("chair"), meeting.id, task(mace))
    actions.action_page(mace.user("nurse"), action.id)
    actions.update_status(mace.user("nurse"), action.id, ActionStatus.cancelled, "No longer needed")
    assert [e.action for e in _events("mace-action")] == ["create", "read", "update"]
    assert all("No longer" not in str(e.detail) for e in _events("mace-action"))


# --- every URL of the blueprint: members only --------------------------------------------------------------

def _urls(mace, meeting, action_id):
    return [f"/mace/meetings/{meeting.id}/actions/new", f"/mace/actions/{action_id}",
            f"/mace/groups/{mace.group.id}/actions", f"/mace/meetings/{meeting.id}/outcomes",
            f"/mace/meetings/{meeting.id}/export.xlsx"]


@pytest.mark.parametrize("who", ["former", "outsider_dsl"])
def test_a_non_member_or_former_member_gets_a_404_on_every_page_and_it_is_audited(app, mace, meeting, who):
    action = actions.create_action(mace.user("chair"), meeting.id, task(mace))
    user, secret = mace.users[who]
    client = app.test_client()
    sign_in(client, user, secret)
    for url in _urls(mace, meeting, action.id):
        assert client.get(url).status_code == 404, url
    for url in [f"/mace/actions/{action.id}/status", f"/mace/actions/{action.id}/breach"]:
        client.post(url, data={})
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.actor_user_id == user.id,
                                                            AuditEvent.outcome == "refused")).all()
    assert len(refused) >= 5
    assert db.session().scalar(select(MaceAction.status).where(MaceAction.id == action.id)) is ActionStatus.open
    for url in ["/mace/my/actions", "/mace/my/outcomes", "/mace/my/meetings"]:
        page = client.get(url)
        assert page.status_code == 200 and "Visit the park" not in page.get_data(as_text=True)


def test_a_member_opens_every_page_and_each_read_is_audited(app, mace, meeting):
    action = actions.create_action(mace.user("chair"), meeting.id, task(mace))
    user, secret = mace.users["chair"]
    client = app.test_client()
    sign_in(client, user, secret)
    for url in _urls(mace, meeting, action.id) + ["/mace/my/actions", "/mace/my/outcomes", "/mace/my/meetings", "/"]:
        before = db.session().scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
        response = client.get(url)
        assert response.status_code == 200, url
        if url != "/":
            assert db.session().scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) > before, url
    home = client.get("/").get_data(as_text=True)
    assert "My open actions" in home


def test_the_new_action_form_adds_a_cawn_and_shows_its_errors(app, mace, meeting):
    user, secret = mace.users["police"]
    client = app.test_client()
    sign_in(client, user, secret)
    url = f"/mace/meetings/{meeting.id}/actions/new"
    response = post_form(client, url, {"description": "Serve a CAWN", "owner_organisation_id": mace.police.id,
                                       "owner_user_id": 0, "due_on": ["31", "2", "2027"], "kind": "disruption",
                                       "disruption_kind": "cawn"})
    assert response.status_code == 200 and "Enter a real date" in response.get_data(as_text=True)
    today = date.today()
    response = post_form(client, url, {
        "description": "Serve a CAWN", "owner_organisation_id": mace.police.id, "owner_user_id": 0,
        "due_on": ["1", "1", str(today.year + 1)], "kind": "disruption",
        "disruption_kind": "cawn", "person_id": meeting.sample_person_id, "child_id": mace.children[0].id,
        "served_on": [str(today.day), str(today.month), str(today.year)],
        "serving_officer": "PC 123", "review_on": ["1", "6", str(today.year + 1)],
        "item_id": 0})
    assert response.status_code == 302
    action = db.session().scalar(select(MaceAction))
    assert action.disruption_kind is DisruptionKind.cawn and action.breaches == 0
