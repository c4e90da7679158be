"""A notification's deadline is the start of the next school day (Europe/London), and escalation
fires at it and not before."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub import db
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.notifications import ClosureKind, Notification, OutboxMessage, RecipientReason, SchoolClosure
from hub.models.roles import OrgKind, Role
from hub.notifications import calendar, escalation, inbox
from tests.factories import enrol, episode_details, involve, make_child, make_org, make_user

LONDON = ZoneInfo("Europe/London")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.fixture
def school(app):
    return make_org(OrgKind.school, school_day_start="08:30")


def close(org, first: date, last: date, kind=ClosureKind.inset) -> None:
    with db.unit_of_work() as s:
        s.add(SchoolClosure(organisation_id=org.id, first_day=first, last_day=last, kind=kind))


def test_friday_evening_is_due_monday_morning(school):
    deadline = calendar.next_school_day_start(school, local(2026, 11, 20, 18, 45))
    assert deadline == local(2026, 11, 23, 8, 30)


def test_before_the_start_is_due_the_same_morning_and_exactly_at_it_the_next(school):
    assert calendar.next_school_day_start(school, local(2026, 11, 24, 6, 0)) == local(2026, 11, 24, 8, 30)
    assert calendar.next_school_day_start(school, local(2026, 11, 24, 8, 30)) == local(2026, 11, 25, 8, 30)


def test_a_bank_holiday_weekend_is_skipped(school):
    # Late summer bank holiday 2026 is Monday 31 August; Easter 2027 is Good Friday 26 March to Monday 29th.
    assert calendar.next_school_day_start(school, local(2026, 8, 28, 17, 0)) == local(2026, 9, 1, 8, 30)
    assert calendar.next_school_day_start(school, local(2027, 3, 25, 19, 0)) == local(2027, 3, 30, 8, 30)


def test_an_inset_day_of_the_school_and_a_closure_of_its_authority_are_skipped(app):
    authority = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=authority.id)
    close(school, date(2026, 11, 23), date(2026, 11, 23))                       # Monday INSET
    close(authority, date(2026, 11, 24), date(2026, 11, 24), ClosureKind.holiday)  # Tuesday, every school
    assert calendar.next_school_day_start(school, local(2026, 11, 20, 18, 0)) == local(2026, 11, 25, 8, 30)
    other = make_org(OrgKind.school)
    assert calendar.next_school_day_start(other, local(2026, 11, 20, 18, 0)) == local(2026, 11, 23, 8, 30)


@pytest.mark.parametrize("after, due_utc", [
    # Clocks go back at 02:00 BST on Sunday 25 October 2026: 08:30 on Monday is GMT, 08:30 UTC.
    (local(2026, 10, 23, 20, 0), datetime(2026, 10, 26, 8, 30, tzinfo=UTC)),
    # Clocks go forward at 01:00 GMT on Sunday 28 March 2027 (Easter weekend: Monday 29th is a bank
    # holiday): 08:30 on Tuesday is BST, 07:30 UTC.
    (local(2027, 3, 27, 20, 0), datetime(2027, 3, 30, 7, 30, tzinfo=UTC)),
])
def test_both_clock_changes_keep_the_schools_morning(school, after, due_utc):
    deadline = calendar.next_school_day_start(school, after)
    assert deadline == due_utc
    assert deadline.astimezone(LONDON).strftime("%H:%M") == "08:30"


def test_the_schools_own_start_time(app):
    school = make_org(OrgKind.school, school_day_start="08:45")
    assert calendar.next_school_day_start(school, local(2026, 11, 24, 8, 40)) == local(2026, 11, 24, 8, 45)


def test_escalation_fires_at_the_deadline_and_not_before(world):
    missing.record_episode(world.officer, world.child.id, episode_details())
    first = db.session().scalar(select(Notification).order_by(Notification.id))
    deadline = first.deadline_at
    assert escalation.escalate_due(deadline - timedelta(minutes=1)) == 0
    assert escalation.escalate_due(deadline) == 1
    escalations = db.session().scalars(select(Notification).where(
        Notification.reason == RecipientReason.escalation)).all()
    assert sorted(n.user_id for n in escalations) == sorted([world.deputy.id, world.la_contact.id])
    assert db.session().scalar(select(OutboxMessage).where(OutboxMessage.notification_id == escalations[0].id))
    assert escalation.escalate_due(deadline + timedelta(days=2)) == 0  # once only


def _escalations() -> list[Notification]:
    return list(db.session().scalars(select(Notification).where(Notification.reason == RecipientReason.escalation)))


def _escalate_event() -> dict:
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "escalate"))
    return json.loads(event.detail)


def test_a_school_with_no_authority_contact_escalates_to_its_deputies_alone(world):
    school = make_org(OrgKind.school)  # no local authority, and the child has no responsible authority
    dsl, deputy = make_user(school, Role.dsl)[0], make_user(school, Role.deputy_dsl)[0]
    child = make_child("Lone", "School")
    enrol(child, school)
    involve(child, world.police)
    missing.record_episode(world.officer, child.id, episode_details())
    first = db.session().scalar(select(Notification).where(Notification.user_id == dsl.id))
    assert escalation.escalate_due(first.deadline_at) == 1
    assert [n.user_id for n in _escalations()] == [deputy.id]
    assert _escalate_event()["copies"] == 1


def test_a_notice_to_the_authoritys_contact_has_nobody_above_it_escalation_marks_it_and_copies_nobody(world):
    school = make_org(OrgKind.school, local_authority_id=world.la_edu.id)  # no key adults: the contact is told
    child = make_child("No", "Keyadults")
    enrol(child, school)
    involve(child, world.police)
    missing.record_episode(world.officer, child.id, episode_details())
    first = db.session().scalar(select(Notification).order_by(Notification.id))
    assert (first.user_id, first.reason) == (world.la_contact.id, RecipientReason.la_contact)
    assert escalation.escalate_due(first.deadline_at) == 1
    assert _escalations() == []  # a further step is the missing team's call, not another copy
    assert db.session().get(Notification, first.id, populate_existing=True).escalated_at is not None
    assert _escalate_event()["copies"] == 0
    assert escalation.escalate_due(first.deadline_at + timedelta(days=2)) == 0  # once only


def test_an_acknowledged_notification_is_never_escalated(world):
    missing.record_episode(world.officer, world.child.id, episode_details())
    first = db.session().scalar(select(Notification).where(Notification.user_id == world.dsl.id))
    inbox.acknowledge(world.dsl, first.id, "In school")
    assert escalation.escalate_due(first.deadline_at + timedelta(hours=1)) == 0
