"""Delivery never waits for the audit log: each duty of the worker fails on its own, alarms, and
lets the others run. With the log damaged, every due school notification still reaches a real
SMTP server on loopback, the integrity panel shows the alarm and the hub's DPO is e-mailed it
(through the outbox, with no personal data). The nightly full check is queued by the worker."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from hub import db
from hub import worker as cli
from hub.audit import alarms, signing
from hub.audit import integrator as audit_integrator
from hub.audit import tree_heads as audit_tree_heads
from hub.dpo import integrity as dpo_integrity
from hub.models.audit import AuditVerification
from hub.models.roles import OrgKind, Role
from hub.notifications import delivery
from tests.factories import make_org, make_user, sign_in
from tests.support.audit_log import forge_integrated_row, record_events
from tests.support.delivery import PERSONAL, delivery_world, more_children, record
from tests.support.world import World


@pytest.fixture
def world(app) -> World:
    return delivery_world()


def run_worker_until(settings, done, seconds: float = 40.0) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=cli.run_all, args=(settings, "damaged-log-worker", 50, 0.1, stop))
    thread.start()
    try:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()


def test_with_the_log_damaged_the_worker_delivers_every_due_notification_and_alarms(app, world, smtp):
    hub_dpo, secret = make_user(make_org(OrgKind.mace_host), Role.dpo)
    forge_integrated_row()
    record(world)
    more_children(world, 2)  # 3 episodes, 2 key adults each: 6 school e-mails due
    school = sorted([world.dsl.email, world.deputy.email] * 3)

    def delivered() -> bool:
        received = smtp.handler.to()
        return [a for a in received if a != hub_dpo.email] == school and hub_dpo.email in received

    run_worker_until(smtp.settings, delivered)
    received = smtp.handler.received
    assert sorted(m["To"] for m in received if m["To"] != hub_dpo.email) == school  # every one, once
    alarm_mails = [m for m in received if m["To"] == hub_dpo.email]
    assert alarm_mails and all(m["Subject"] == alarms.EMAIL_SUBJECT for m in alarm_mails)
    for message in alarm_mails:
        raw = message.as_string()
        assert "/audit/integrity" in raw
        assert not any(value in raw for value in PERSONAL), raw  # no child, no reference
    assert alarms.is_open("duty-failed", "integrate")
    client = app.test_client()
    sign_in(client, hub_dpo, secret)
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="alarm-duty-failed"' in page and "integrate" in page


def test_a_duty_that_fails_alarms_once_and_clears_when_it_works_again(app):
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database restarting")
        return 0

    duty = delivery.Duty("flags", flaky)
    assert delivery.run_duty(duty) == 0 and alarms.is_open("duty-failed", "flags")
    assert delivery.run_duty(delivery.Duty("deliver", lambda: 3)) == 3  # the others run meanwhile
    assert delivery.run_duty(duty) == 0 and not alarms.is_open("duty-failed", "flags")


def test_the_worker_queues_a_full_check_every_night_and_runs_it(app):
    audit_integrator.integrate_all()
    night = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # 03:00 London, after the 02:00 mark
    assert dpo_integrity.nightly_check_due(night)
    assert dpo_integrity.queue_nightly_check(night) == 1
    assert dpo_integrity.queue_nightly_check(night) == 0  # one waits already
    assert dpo_integrity.run_queued_verifications() == 1
    check = db.session().scalars(select(AuditVerification)).one()
    assert (check.kind, check.ok, check.by_user_id) == ("full", True, None)
    # The check ran at the real time; put it at tonight's 03:00 (the suite may run before the
    # 02:00 mark, when a check just run belongs to last night).
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_verification SET finished_at = :t"), {"t": night})
    assert not dpo_integrity.nightly_check_due(night + timedelta(hours=2))  # done tonight
    with db.unit_of_work() as s:
        s.execute(text("UPDATE audit_verification SET finished_at = :t"), {"t": night - timedelta(hours=2)})
    assert dpo_integrity.nightly_check_due(night)  # last night's does not count for tonight
    assert not dpo_integrity.nightly_check_due(night - timedelta(hours=1, minutes=30))  # 01:30: not yet time
    duties = {d.name for d in cli.audit_duties()}
    assert duties == {"sign and witness", "flags", "nightly check", "queued checks"}
    assert db.session().scalar(select(func.count()).select_from(AuditVerification)) == 1


def test_an_unreachable_witness_is_sent_the_uncosigned_checkpoint_again_at_most_once_a_minute(app, witnesses):
    police, council = witnesses
    record_events(3)
    council.stop()
    head = signing.sign_and_publish()
    assert not signing.is_published(head) and alarms.is_open("witness-unreachable", council.name)
    assert alarms.is_open("not-published")
    retry = signing.publish(head, only_due=True)  # the worker's next cycle: police cosigned, council is tried
    assert (list(retry.unreachable), retry.cosigned) == ([council.name], [])
    again = signing.publish(head, only_due=True)  # the cycle after, within the minute: nobody is asked
    assert (again.unreachable, again.refused, again.cosigned) == ({}, {}, [])
    signing._last_try[council.name] -= signing.RETRY_EVERY  # a minute later
    assert list(signing.publish(head, only_due=True).unreachable) == [council.name]
    assert police.cosigned_size() == head.tree_size and alarms.is_open("not-published")


def test_a_head_overtaken_by_another_workers_later_head_is_superseded_not_alarmed(app, witnesses):
    record_events(3)
    earlier = audit_tree_heads.sign_tree_head()  # one worker signed and has not submitted it yet
    record_events(2)
    later = signing.sign_and_publish()  # another worker signed after it and got to the witnesses first
    assert signing.is_published(later)
    result = signing.publish(earlier)
    assert sorted(result.superseded) == sorted(w.name for w in witnesses)
    assert (result.refused, result.cosigned, result.published) == ({}, [], False)
    assert not alarms.is_open("not-published")  # the later head is published: nothing to alarm
    assert not any(alarms.is_open("witness-refused", w.name) for w in witnesses)
    assert [w.cosigned_size() for w in witnesses] == [later.tree_size] * 2


def test_the_nightly_check_waits_while_a_dpos_check_of_new_entries_is_queued(app):
    """One check at a time: the check a DPO queued (of new entries) runs first, then the night's."""
    audit_integrator.integrate_all()
    dpo, _ = make_user(make_org(OrgKind.mace_host), Role.dpo)
    dpo_integrity.verify_now(dpo, "incremental")
    night = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC).replace(hour=3)
    assert dpo_integrity.nightly_check_due(night)  # no full check tonight yet
    assert dpo_integrity.queue_nightly_check(night) == 0
    assert dpo_integrity.run_queued_verifications() == 1
    assert dpo_integrity.queue_nightly_check(night) == 1
    assert dpo_integrity.run_queued_verifications() == 1
    checks = db.session().execute(select(AuditVerification.kind, AuditVerification.by_user_id, AuditVerification.ok)
                                  .order_by(AuditVerification.id)).all()
    # The DPO's check of new entries is a full one: no check has verified the log before it.
    assert [tuple(c) for c in checks] == [("full", dpo.id, True), ("full", None, True)]
