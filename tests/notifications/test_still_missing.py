"""'Still missing' notifications, with fixed clocks: one at the start of each school day after the
first notification's own school day, none at weekends or after the child is found, and running
twice (or from two workers) sends one."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.auth import User
from hub.models.notifications import Notification, NotificationKind, OutboxMessage, RecipientReason
from hub.notifications import calendar, closures
from hub.notifications.still_missing import remind_still_missing
from tests.factories import episode_details
from tests.support.clock import FRIDAY, MONDAY, SATURDAY, SUNDAY, THURSDAY, TUESDAY, at
from tests.support.threads import in_threads


def episode_told_at(world, sent: datetime):
    """An episode whose first notification reached the school at `sent` (a fixed clock)."""
    episode = missing.record_episode(world.officer, world.child.id, episode_details(reported_start=sent))
    with db.unit_of_work() as s:
        s.execute(update(Notification).values(created_at=sent,
                                              deadline_at=calendar.next_school_day_start(world.school, sent)))
    return episode


def still_missing() -> list[Notification]:
    return list(db.session().scalars(select(Notification).where(Notification.kind == NotificationKind.still_missing)
                                     .order_by(Notification.id)))


def test_across_a_weekend_one_a_school_day_and_none_on_the_first_days_or_at_weekends(world):
    episode_told_at(world, at(THURSDAY, "20:00"))
    assert remind_still_missing(at(THURSDAY, "21:00")) == 0             # the first notification's own day
    assert remind_still_missing(at(FRIDAY, "08:29")) == 0               # before school starts
    assert remind_still_missing(at(FRIDAY, "08:30")) == 1
    assert remind_still_missing(at(FRIDAY, "08:30")) == 0               # twice in the same moment: one
    assert remind_still_missing(at(FRIDAY, "13:00")) == 0               # at most one a school day
    assert remind_still_missing(at(SATURDAY, "08:30")) == 0
    assert remind_still_missing(at(SUNDAY, "10:00")) == 0
    assert remind_still_missing(at(MONDAY, "08:30")) == 1
    friday, _friday_deputy, monday, _monday_deputy = still_missing()
    assert (friday.school_day, monday.school_day) == (FRIDAY, MONDAY)
    assert friday.deadline_at == at(MONDAY, "08:30") and monday.deadline_at == at(TUESDAY, "08:30")
    assert {n.user_id for n in still_missing()} == {world.dsl.id, world.deputy.id}
    assert {n.reason for n in still_missing()} == {RecipientReason.key_adult}
    assert len({n.group_key for n in still_missing()}) == 2  # one acknowledgement a day answers for the school
    bodies = db.session().scalars(select(OutboxMessage.body).where(
        OutboxMessage.notification_id.in_([n.id for n in still_missing()]))).all()
    assert len(bodies) == 4 and not any("Test" in b or "MP/26" in b for b in bodies)


def test_a_notice_sent_at_the_weekend_belongs_to_monday(world):
    episode_told_at(world, at(SUNDAY, "20:00"))
    assert remind_still_missing(at(MONDAY, "09:00")) == 0
    assert remind_still_missing(at(TUESDAY, "08:30")) == 1


def test_none_once_the_child_is_found_before_the_next_school_day(world):
    episode = episode_told_at(world, at(THURSDAY, "20:00"))
    missing.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=at(THURSDAY, "23:00")))
    assert remind_still_missing(at(FRIDAY, "08:30")) == 0
    assert remind_still_missing(at(MONDAY, "08:30")) == 0
    assert still_missing() == []


def test_none_when_the_key_adults_and_the_authoritys_contact_have_all_left(world):
    episode_told_at(world, at(THURSDAY, "20:00"))
    with db.unit_of_work() as s:  # nobody is left to tell: the missing team sees that on the episode
        s.execute(update(User).where(User.id.in_([world.dsl.id, world.deputy.id, world.la_contact.id]))
                  .values(active=False))
    assert remind_still_missing(at(FRIDAY, "08:30")) == 0
    assert still_missing() == []


def test_a_closure_day_is_skipped(world):
    episode_told_at(world, at(THURSDAY, "20:00"))
    closures.add_closure(db.session().get(User, world.dsl.id), world.school.id, "inset", FRIDAY, FRIDAY, "Training")
    assert remind_still_missing(at(FRIDAY, "08:30")) == 0
    assert remind_still_missing(at(MONDAY, "08:30")) == 1


def test_two_workers_cannot_both_remind_the_unique_index_decides(world, monkeypatch):
    episode_told_at(world, at(THURSDAY, "20:00"))
    assert remind_still_missing(at(FRIDAY, "08:30")) == 1
    # A second worker whose day checks are fooled still sends nothing more (today's reminders are
    # filtered out, and rechecked under the claim); the unique index refuses a duplicate outright.
    real = calendar.school_day_of
    monkeypatch.setattr(calendar, "school_day_of", lambda school, moment: min(real(school, moment), THURSDAY))
    assert remind_still_missing(at(FRIDAY, "08:31")) == 0
    assert len(still_missing()) == 2
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        first = still_missing()[0]
        # A second copy written past the service on purpose: only the index can refuse it.
        s.add(Notification(episode_id=first.episode_id, organisation_id=first.organisation_id,
                           user_id=first.user_id, kind=first.kind, reason=first.reason, group_key="x",
                           deadline_at=first.deadline_at, school_day=first.school_day))


def test_the_escalate_command_also_sends_still_missing(world, runner):
    result = runner.invoke(args=["notifications", "escalate"])
    assert result.exit_code == 0 and "still missing" in result.output
    assert db.session().scalar(select(func.count()).select_from(Notification)) == 0


def test_three_workers_at_the_same_moment_send_one_reminder_each_school_day(world):
    for n in range(4):  # several open episodes, so the workers overlap on them
        missing.record_episode(world.officer, world.child.id, episode_details(police_reference=f"MP/26/10{n}",
                                                                      reported_start=at(THURSDAY, "20:00")))
    with db.unit_of_work() as s:
        s.execute(update(Notification).values(created_at=at(THURSDAY, "20:00"), deadline_at=at(FRIDAY, "08:30")))
    results = in_threads(lambda _name: remind_still_missing(at(FRIDAY, "08:30")), ["a", "b", "c"])
    assert sum(results.values()) == 4
    assert len(still_missing()) == 8  # four episodes, two key adults
