"""Replies from a notification to the police (two-way): "the child is at school now" and "what may
help find them", each a share record to the force with its legal basis, seen by the police and the
missing team on the episode; only the notified school's key adults (or the authority's contact who
was told) may reply, and only while the child is missing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.admin import service as admin
from hub.db import utcnow
from hub.errors import Invalid, NotFound
from hub.forms import utc_to_london
from hub.missing import dashboard as missing_dashboard
from hub.missing import details as missing_details
from hub.missing import reading as episode_reading
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.notifications import Notification, NotificationReply, OutboxMessage, RecipientReason, ReplyKind
from hub.models.roles import OrgKind, Role
from hub.models.sharing import ConsentPosition, ShareRecord
from hub.notifications import escalation, inbox, replies
from hub.sharing import register as share_register
from hub.web import london
from tests.factories import csrf_token, episode_details, involve, make_child, make_org, make_user, signed_in_client


@pytest.fixture
def episode(world):
    return missing.record_episode(world.officer, world.child.id, episode_details())


def _mine(user) -> Notification:
    return db.session().scalar(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))


def _user(user) -> User:
    return db.session().get(User, user.id)


def _outbox() -> int:
    return db.session().scalar(select(func.count()).select_from(OutboxMessage))


# --- the service --------------------------------------------------------------------------------

def test_the_dsl_tells_the_police_the_child_is_at_school_as_a_share_with_its_basis(world, episode):
    emails = _outbox()
    seen = utcnow() - timedelta(minutes=10)
    reply = replies.reply_seen_at_school(_user(world.dsl), _mine(world.dsl).id, seen, "Came in with her aunt")
    assert reply.kind == ReplyKind.seen_at_school and reply.seen_at == seen and reply.episode_id == episode.id
    share = db.session().get(ShareRecord, reply.share_id)
    assert share.sender_org_id == world.school.id and share.sender_user_id == world.dsl.id
    assert [r.organisation_id for r in share.recipients] == [world.police.id]
    assert (share.article_6, share.article_9, share.gateway) == ("6(1)(e)", "9(2)(g)+S1P18", "EA2002-s175")
    assert share.consent_position == ConsentPosition.not_needed and share.authorised_by_user_id == world.dsl.id
    assert "seeking consent would delay finding them" in share.rationale
    assert world.school.name in share.source_description and "Came in with her aunt" in share.content
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "notification",
                                                         AuditEvent.action == "share"))
    detail = json.loads(event.detail)
    assert detail["share"] == share.id and detail["reply"] == "seen_at_school"
    # The force's officers are told at once, by an e-mail with a link and no personal data.
    [alert] = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(_outbox() - emails))
    assert alert.to_address == world.officer.email and alert.notification_id is None
    assert f"/missing/{episode.id}" in alert.body
    child = db.session().get(type(world.child), world.child.id)
    for private in (child.given_name, child.family_name, world.school.name, episode.police_reference,
                    "Came in with her aunt", "school now"):
        assert private not in alert.body and private not in alert.subject
    assert detail["alerted"] == [world.officer.id]
    # The force sees it in "shared with us" and on the episode; the missing team sees who and when.
    officer = _user(world.officer)
    assert share.id in [s.id for s in share_register.lists(officer).received]
    [view] = replies.replies_for_episode(officer, episode_reading.get_episode(officer, episode.id))
    assert view.reply.id == reply.id and view.may_open_share and view.organisation.id == world.school.id
    worker = _user(world.worker)
    [for_worker] = replies.replies_for_episode(worker, episode_reading.get_episode(worker, episode.id))
    assert for_worker.reply.id == reply.id and not for_worker.may_open_share


def test_the_missing_dashboard_shows_where_the_child_was_seen_and_not_for_information(world, episode):
    replies.reply_information(_user(world.dsl), _mine(world.dsl).id, "Often at the skate park")
    [row] = missing_dashboard.dashboard(_user(world.worker))
    assert row.seen_at_school is None
    seen = utcnow() - timedelta(minutes=5)
    replies.reply_seen_at_school(_user(world.dsl), _mine(world.dsl).id, seen)
    [row] = missing_dashboard.dashboard(_user(world.worker))
    assert row.seen_at_school == seen


def test_information_that_may_help_is_passed_on(world, episode):
    reply = replies.reply_information(_user(world.dsl), _mine(world.dsl).id,
                                      "Friends with J at the skate park; often at the library")
    share = db.session().get(ShareRecord, reply.share_id)
    assert reply.kind == ReplyKind.information and reply.seen_at is None
    assert "skate park" in share.content and share.recipients[0].organisation_id == world.police.id
    with pytest.raises(Invalid) as exc:
        replies.reply_information(_user(world.dsl), _mine(world.dsl).id, "   ")
    assert "information" in exc.value.errors


def test_a_deputy_names_the_dsl_who_authorised_the_reply(world, episode):
    notification = _mine(world.deputy)
    with pytest.raises(Invalid) as exc:
        replies.reply_information(_user(world.deputy), notification.id, "Goes to the canal")
    assert "authorised_by_user_id" in exc.value.errors
    with pytest.raises(Invalid) as exc:  # the sharing service's own rule: an authoriser of the same organisation
        replies.reply_information(_user(world.deputy), notification.id, "Goes to the canal", world.officer.id)
    assert "authorised_by_user_id" in exc.value.errors
    assert db.session().scalar(select(func.count()).select_from(NotificationReply)) == 0
    reply = replies.reply_information(_user(world.deputy), notification.id, "Goes to the canal", world.dsl.id)
    assert db.session().get(ShareRecord, reply.share_id).authorised_by_user_id == world.dsl.id


def test_another_school_and_a_non_key_adult_get_the_same_404(world, episode):
    notification = _mine(world.dsl)
    school_dpo, _ = make_user(world.school, Role.dpo)
    for outsider in (world.other_dsl, school_dpo, world.worker):
        with pytest.raises(NotFound):
            replies.reply_seen_at_school(_user(outsider), notification.id, utcnow())
    with pytest.raises(NotFound):
        replies.reply_information(_user(world.other_dsl), 999999, "x")
    refused = db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == "notification"))
    assert refused == 4
    assert db.session().scalar(select(func.count()).select_from(ShareRecord)) == 0


def test_no_reply_once_the_child_is_found(world, episode):
    missing.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=utcnow()))
    with pytest.raises(Invalid) as exc:
        replies.reply_seen_at_school(_user(world.dsl), _mine(world.dsl).id, utcnow())
    assert "has been found" in exc.value.errors[""]
    assert db.session().scalar(select(func.count()).select_from(ShareRecord)) == 0


def test_the_time_seen_must_be_after_the_report_and_not_in_the_future(world, episode):
    notification = _mine(world.dsl)
    for when in (utcnow() + timedelta(hours=1), episode.reported_start - timedelta(minutes=1), None):
        with pytest.raises(Invalid) as exc:
            replies.reply_seen_at_school(_user(world.dsl), notification.id, when)
        assert "seen_on" in exc.value.errors


def test_the_authoritys_contact_told_by_escalation_may_reply(world, episode):
    first = _mine(world.dsl)
    assert escalation.escalate_due(first.deadline_at) == 1
    copy = db.session().scalar(select(Notification).where(Notification.user_id == world.la_contact.id,
                                                          Notification.reason == RecipientReason.escalation))
    reply = replies.reply_information(_user(world.la_contact), copy.id, "Has a cousin in Westmere")
    share = db.session().get(ShareRecord, reply.share_id)
    assert share.sender_org_id == world.la_edu.id and share.gateway == "CA2004-s11"


# --- the pages ----------------------------------------------------------------------------------

def _seen_form(day, hhmm: str, note: str = "") -> dict:
    return {"seen-seen_on": [str(day.day), str(day.month), str(day.year)], "seen-seen_time": hhmm,
            "seen-note": note}


@pytest.mark.parametrize("reply", ["seen_at_school", "information"])
def test_a_reply_acknowledges_for_the_school_so_escalation_no_longer_fires(world, episode, reply):
    n = _mine(world.dsl)
    if reply == "seen_at_school":
        replies.reply_seen_at_school(_user(world.dsl), n.id, utcnow() - timedelta(minutes=10))
    else:
        replies.reply_information(_user(world.dsl), n.id, "Often at the skate park")
    copies = db.session().scalars(select(Notification).where(Notification.group_key == n.group_key)).all()
    assert len(copies) == 2
    assert all(c.acknowledged_at is not None and c.acknowledged_by_user_id == world.dsl.id for c in copies)
    escalation.escalate_due(n.deadline_at + timedelta(hours=1))
    assert db.session().scalar(select(func.count()).select_from(Notification).where(
        Notification.group_key == n.group_key, Notification.reason == RecipientReason.escalation)) == 0
    assert all(db.session().get(Notification, c.id).escalated_at is None for c in copies)
    [row] = missing_dashboard.dashboard(_user(world.worker))  # the missing team's list no longer says "Waiting"
    assert row.schools_acknowledged == row.schools_told == 1 and row.schools_overdue == 0


def test_the_police_and_missing_team_see_replied_with_its_time_for_the_school(app, world, episode):
    [before] = inbox.status_for_episode(
        _user(world.officer), episode_reading.get_episode(_user(world.officer), episode.id))
    assert before.status == "New" and before.status_at == before.sent_at
    inbox.open_notification(_user(world.dsl), _mine(world.dsl).id)
    [opened] = inbox.status_for_episode(
        _user(world.officer), episode_reading.get_episode(_user(world.officer), episode.id))
    assert opened.status == "Opened" and opened.status_at == _mine(world.dsl).opened_at
    reply = replies.reply_seen_at_school(_user(world.dsl), _mine(world.dsl).id, utcnow() - timedelta(minutes=10))
    [status] = inbox.status_for_episode(
        _user(world.officer), episode_reading.get_episode(_user(world.officer), episode.id))
    assert status.status == "Replied" and status.status_at == reply.created_at and not status.overdue
    for who in (world.officer, world.worker):
        page = signed_in_client(app, who.id).get(f"/missing/{episode.id}").get_data(as_text=True)
        cell = page.split('data-testid="school-status"', 1)[1].split("</td>", 1)[0]
        assert ">Replied</strong>" in cell and london(reply.created_at) in cell and "Overdue" not in cell
        assert "acknowledged" not in cell  # the reply was the acknowledgement: one step, one time


def test_a_school_that_acknowledged_and_then_replied_reads_replied_with_both_times(app, world, episode):
    acknowledged = inbox.acknowledge(_user(world.dsl), _mine(world.dsl).id, "Parents called").acknowledged_at
    reply = replies.reply_information(_user(world.deputy), _mine(world.deputy).id, "Goes to the canal", world.dsl.id)
    [status] = inbox.status_for_episode(
        _user(world.officer), episode_reading.get_episode(_user(world.officer), episode.id))
    assert (status.status, status.status_at, status.acknowledged_at) == ("Replied", reply.created_at, acknowledged)
    page = signed_in_client(app, world.worker.id).get(f"/missing/{episode.id}").get_data(as_text=True)
    cell = page.split('data-testid="school-status"', 1)[1].split("</td>", 1)[0]
    assert f"acknowledged {london(acknowledged)}" in cell and "Parents called" in cell


def test_the_key_adult_replies_from_the_page_and_the_police_see_it(app, world, episode):
    notification = _mine(world.dsl)
    client = signed_in_client(app, world.dsl.id)
    page = client.get(f"/notifications/{notification.id}").get_data(as_text=True)
    assert 'data-testid="seen-at-school"' in page and 'data-testid="pass-on-information"' in page
    assert "Who authorised" not in page  # a DSL authorises their own reply
    day, hhmm = utc_to_london(utcnow() - timedelta(minutes=5))
    response = client.post(f"/notifications/{notification.id}/seen-at-school",
                           data={"csrf_token": csrf_token(page), **_seen_form(day, hhmm, "Seems tired")})
    assert response.status_code == 302
    response = client.post(f"/notifications/{notification.id}/information",
                           data={"csrf_token": csrf_token(page), "info-information": "Hangs around the retail park"})
    assert response.status_code == 302
    page = client.get(f"/notifications/{notification.id}").get_data(as_text=True)
    assert 'data-testid="replies"' in page and "The child is at school" in page
    officer = signed_in_client(app, world.officer.id)
    episode_page = officer.get(f"/missing/{episode.id}").get_data(as_text=True)
    assert 'data-testid="seen-at-school-banner"' in episode_page and world.school.name in episode_page
    assert "What schools told us" in episode_page and "Information that may help find them" in episode_page
    shared = officer.get("/sharing").get_data(as_text=True)
    assert "Seen at school" in shared and "EA2002-s175" in shared
    worker_page = signed_in_client(app, world.worker.id).get(f"/missing/{episode.id}").get_data(as_text=True)
    assert 'data-testid="seen-at-school-banner"' in worker_page and "Sent to the police" in worker_page


def test_page_errors_are_summarised_and_a_deputy_chooses_the_authoriser(app, world, episode):
    notification = _mine(world.deputy)
    client = signed_in_client(app, world.deputy.id)
    page = client.get(f"/notifications/{notification.id}").get_data(as_text=True)
    assert "Who authorised telling the police?" in page and world.dsl.name in page
    response = client.post(f"/notifications/{notification.id}/information",
                           data={"csrf_token": csrf_token(page), "info-information": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in body
    assert "Write what may help find the child" in body
    response = client.post(f"/notifications/{notification.id}/information", data={
        "csrf_token": csrf_token(page), "info-information": "The bus to town",
        "info-authorised_by_user_id": world.dsl.id})
    assert response.status_code == 302


def test_pages_refuse_another_school_a_missing_csrf_token_and_a_closed_episode(app, world, episode):
    notification = _mine(world.dsl)
    other = signed_in_client(app, world.other_dsl.id)
    page = other.get("/notifications/closures").get_data(as_text=True)  # any page with a form
    assert other.post(f"/notifications/{notification.id}/information",
                      data={"csrf_token": csrf_token(page), "info-information": "x"}).status_code == 404
    client = signed_in_client(app, world.dsl.id)
    assert client.post(f"/notifications/{notification.id}/information",
                       data={"info-information": "no token"}).status_code in (400, 200)
    assert db.session().scalar(select(func.count()).select_from(ShareRecord)) == 0
    missing.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=utcnow()))
    page = client.get(f"/notifications/{notification.id}").get_data(as_text=True)
    assert 'data-testid="replies-closed"' in page and 'data-testid="seen-at-school"' not in page
    response = client.post(f"/notifications/{notification.id}/information",
                           data={"csrf_token": csrf_token(page), "info-information": "late"})
    assert "has been found" in response.get_data(as_text=True)
    assert db.session().scalar(select(func.count()).select_from(ShareRecord)) == 0


def test_a_contact_with_no_route_to_the_child_is_told_to_telephone(app):
    """A child with no school: the authority's contact is told, but holds no relationship to the
    child through which the register could record a share (a notification is not one)."""
    csc = make_org(OrgKind.childrens_social_care)
    la_edu = admin.create_organisation(None, admin.OrganisationDetails(
        code="LAEDUNOROUTE", name="Education safeguarding", kind=OrgKind.la_education, identifier=csc.identifier))
    contact, _ = make_user(la_edu, Role.dsl)
    police = make_org(OrgKind.police)
    officer, _ = make_user(police, Role.police_officer)
    child = make_child(responsible_authority_id=csc.id)
    involve(child, police)
    missing.record_episode(officer, child.id, episode_details(police_reference="MP/26/0404"))
    notification = _mine(contact)
    assert notification.reason == RecipientReason.la_contact
    with pytest.raises(Invalid) as exc:
        replies.reply_information(_user(contact), notification.id, "Often at the station")
    assert "telephone" in exc.value.errors[""] and "MP/26/0404" in exc.value.errors[""]
    assert db.session().scalar(select(func.count()).select_from(ShareRecord)) == 0


def test_the_missing_list_says_which_notification_the_school_status_is_about(app, world, episode):
    replies.reply_information(_user(world.dsl), _mine(world.dsl).id, "Often at the skate park")
    missing.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=utcnow()))
    [row] = missing_dashboard.dashboard(_user(world.worker))
    assert [(t.kind, t.status) for t in row.told] == [("Reported missing", "acknowledged"), ("Found", "waiting")]
    page = signed_in_client(app, world.worker.id).get("/missing").get_data(as_text=True)
    cell = page.split('data-testid="school-status"', 1)[1].split("</td>", 1)[0]
    first, second = cell.split('data-testid="school-told-2"')
    assert "Reported missing:" in first and ">Acknowledged</strong>" in first
    assert "Found:" in second and ">Waiting</strong>" in second
