"""Delivery that does not lose anything: the outbox sent to a real SMTP server on loopback
(aiosmtpd), down, slow, refusing, and with several workers at once."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import random
import threading
import time
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from hub import db
from hub.config import ConfigurationError
from hub.db import utcnow
from hub.errors import Forbidden, Invalid
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.notifications import DeliveryAttempt, MessageStatus, Notification, OutboxMessage
from hub.models.roles import OrgKind, Role
from hub.notifications import delivery
from tests.factories import make_org, make_user, post_form, sign_in
from tests.support.delivery import PERSONAL, delivery_world, more_children, record
from tests.support.smtp import Server, loopback_certificate
from tests.support.threads import in_threads
from tests.support.world import World


@pytest.fixture
def world(app) -> World:
    """A school with two key adults, another school, a police force; Philippa on the school's roll."""
    return delivery_world()


def messages() -> list[OutboxMessage]:
    return list(db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)
                                     .execution_options(populate_existing=True)))


def attempts(message_id: int | None = None) -> list[DeliveryAttempt]:
    query = select(DeliveryAttempt).order_by(DeliveryAttempt.id)
    if message_id is not None:
        query = query.where(DeliveryAttempt.message_id == message_id)
    return list(db.session().scalars(query))


def later(minutes: float = 120):
    moment = utcnow() + timedelta(minutes=minutes)
    return lambda: moment


def assert_no_personal_data(message: email.message.Message) -> None:
    raw = message.as_string()
    for value in PERSONAL:
        assert value not in raw, f"{value!r} is in the e-mail"


# --- the acceptance tests ------------------------------------------------------------------------------

def test_a_new_episode_sends_exactly_one_email_to_each_key_adult_with_no_personal_data(world, smtp):
    record(world)
    result = delivery.deliver_all(smtp.settings, "worker-1")
    assert (result.sent, result.retried, result.failed) == (2, 0, 0)
    assert smtp.handler.to() == sorted([world.dsl.email, world.deputy.email])
    assert world.other_dsl.email not in smtp.handler.to()
    notification_of = {n.user_id: n.id for n in db.session().scalars(select(Notification))}
    for message in smtp.handler.received:
        assert_no_personal_data(message)
        user = world.dsl if message["To"] == world.dsl.email else world.deputy
        assert f"/notifications/{notification_of[user.id]}" in message.get_content()
    stored = messages()
    assert {m.status for m in stored} == {MessageStatus.sent}
    assert sorted(smtp.handler.ids()) == sorted(delivery.message_id(m.id) for m in stored)
    assert [(a.outcome, a.worker) for a in attempts()] == [("sent", "worker-1")] * 2
    assert delivery.deliver_all(smtp.settings, "worker-1").claimed == 0
    assert len(smtp.handler.received) == 2


def test_the_found_update_sends_one_more_email_to_each_key_adult(world, smtp):
    episode = record(world)
    delivery.deliver_all(smtp.settings, "worker-1")
    missing.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=utcnow()))
    result = delivery.deliver_all(smtp.settings, "worker-1")
    assert result.sent == 2
    found = smtp.handler.received[2:]
    assert sorted(m["To"] for m in found) == sorted([world.dsl.email, world.deputy.email])
    for message in found:
        assert_no_personal_data(message)
    assert len(set(smtp.handler.ids())) == 4


def test_a_server_that_is_down_then_up_gets_every_message_exactly_once(world, stopped_smtp):
    record(world)
    more_children(world, 2)
    result = delivery.deliver_all(stopped_smtp.settings, "worker-1")
    assert result.unavailable and (result.sent, result.retried) == (0, 6)
    waiting = messages()
    assert {(m.status, m.attempts) for m in waiting} == {(MessageStatus.pending, 1)}
    assert all(m.next_attempt_at > utcnow() and m.claimed_by is None for m in waiting)
    assert all(a.outcome == "retry" and "server unavailable" in a.detail for a in attempts())
    # Not due yet: a second run straight away does not hammer the server.
    assert delivery.deliver_all(stopped_smtp.settings, "worker-1").claimed == 0

    stopped_smtp.start()
    result = delivery.deliver_all(stopped_smtp.settings, "worker-1", clock=later())
    assert (result.sent, result.retried, result.failed) == (6, 0, 0)
    assert sorted(stopped_smtp.handler.ids()) == sorted(delivery.message_id(m.id) for m in waiting)
    assert delivery.deliver_all(stopped_smtp.settings, "worker-1", clock=later(600)).claimed == 0
    assert len(stopped_smtp.handler.received) == 6
    assert {(m.status, m.attempts) for m in messages()} == {(MessageStatus.sent, 2)}


def test_a_permanent_rejection_fails_at_once_and_an_administrator_retry_sends_it(world, smtp, app):
    record(world)
    smtp.handler.rcpt_reply = "550 5.1.1 <{address}>: Recipient address rejected"
    result = delivery.deliver_all(smtp.settings, "worker-1")
    assert (result.sent, result.failed) == (0, 2)
    failed = messages()
    assert {(m.status, m.attempts) for m in failed} == {(MessageStatus.failed, 1)}
    for m in failed:
        assert m.last_error.startswith("550 5.1.1") and "<address>" in m.last_error
        assert m.to_address not in m.last_error  # the server echoed it; the log keeps it out
    assert delivery.deliver_all(smtp.settings, "worker-1", clock=later(600)).claimed == 0

    smtp.handler.rcpt_reply = None
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert world.dsl.email in page and "550 5.1.1" in page and "Send again" in page
    response = post_form(client, f"/admin/outbox/{failed[0].id}/retry", {}, form_page="/admin/outbox")
    assert response.status_code == 302
    again = db.session().get(OutboxMessage, failed[0].id, populate_existing=True)
    assert (again.status, again.attempts) == (MessageStatus.pending, 0)
    assert delivery.deliver_all(smtp.settings, "worker-1").sent == 1
    assert smtp.handler.ids() == [delivery.message_id(failed[0].id)]
    assert [a.outcome for a in attempts(failed[0].id)] == ["failed", "sent"]
    assert messages()[1].status == MessageStatus.failed  # the other one waits for its own retry
    retried = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "outbox-message"))
    assert (retried.action, retried.actor_user_id, retried.object_id) == ("update", admin.id, str(failed[0].id))


def test_an_administrator_cannot_retry_a_message_that_has_not_failed(world, smtp):
    record(world)
    delivery.deliver_all(smtp.settings, "worker-1")
    admin, _ = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    with pytest.raises(Invalid):
        delivery.retry(admin, messages()[0].id)
    assert len(smtp.handler.received) == 2


def test_a_temporary_refusal_backs_off_longer_each_time_then_fails(world, smtp):
    record(world)
    smtp.handler.rcpt_reply = "451 4.7.1 <{address}>: try again later"
    waits = []
    clock = utcnow()
    for _ in range(delivery.MAX_ATTEMPTS):
        before = clock
        result = delivery.deliver_all(smtp.settings, "worker-1", clock=lambda before=before: before)
        assert result.claimed == 2 and result.sent == 0
        first = messages()[0]
        waits.append(first.next_attempt_at - before)
        clock = max(m.next_attempt_at for m in messages()) + timedelta(seconds=1)
    assert all(later_wait >= earlier / 2 for earlier, later_wait in pairwise(waits))
    assert waits[4] > waits[0] * 4  # exponential, whatever the jitter
    assert {(m.status, m.attempts) for m in messages()} == {(MessageStatus.failed, delivery.MAX_ATTEMPTS)}
    outcomes = [a.outcome for a in attempts(messages()[0].id)]
    assert outcomes == ["retry"] * (delivery.MAX_ATTEMPTS - 1) + ["failed"]
    assert "gave up after 8 attempts" in messages()[0].last_error
    assert smtp.handler.received == []


@pytest.mark.parametrize("reply, status, outcome", [
    ("554 5.6.0 Message content rejected", MessageStatus.failed, "failed"),  # will not change on a retry
    ("452 4.3.1 Insufficient system storage", MessageStatus.pending, "retry"),  # may: wait and try again
])
def test_a_refusal_of_the_content_fails_on_5xx_and_waits_on_4xx(world, smtp, reply, status, outcome):
    record(world)
    smtp.handler.data_reply = reply
    result = delivery.deliver_all(smtp.settings, "worker-1")
    assert result.claimed == 2 and result.sent == 0 and not result.unavailable
    assert {(m.status, m.attempts, m.last_error) for m in messages()} == {(status, 1, reply)}
    assert [a.outcome for a in attempts()] == [outcome] * 2
    assert smtp.handler.received == []


def test_a_message_with_a_line_break_in_a_header_fails_alone_and_injects_nothing(world, smtp):
    record(world)
    bad, good = messages()
    with db.unit_of_work() as s:
        s.get(OutboxMessage, bad.id).subject = "Missing pupil\r\nBcc: someone@elsewhere.test"
    result = delivery.deliver_all(smtp.settings, "worker-1")
    assert (result.sent, result.failed, result.retried) == (1, 1, 0)
    assert smtp.handler.ids() == [delivery.message_id(good.id)]
    assert smtp.handler.received[0]["Bcc"] is None
    failed = db.session().get(OutboxMessage, bad.id, populate_existing=True)
    assert (failed.status, failed.last_error) == (MessageStatus.failed, "not sent: ValueError")
    assert "elsewhere" not in failed.last_error


@pytest.mark.parametrize("settings", [
    {"starttls": True},  # the server offers no STARTTLS: nothing goes in clear text instead
    {"ssl": True},  # the server does not speak TLS at all
    {"username": "hub", "password": "secret"},  # the server offers no AUTH: no sending unsigned
], ids=["starttls-not-offered", "ssl-not-spoken", "auth-not-offered"])
def test_a_server_that_cannot_give_the_session_configured_is_unavailable_and_every_message_waits(
        world, smtp, settings):
    record(world)
    result = delivery.deliver_all(dataclasses.replace(smtp.settings, **settings), "worker-1")
    assert result.unavailable and (result.sent, result.retried, result.failed) == (0, 2, 0)
    assert {(m.status, m.attempts) for m in messages()} == {(MessageStatus.pending, 1)}
    assert all(a.detail.startswith("server unavailable") for a in attempts())
    assert smtp.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback, in a test
def test_the_worker_signs_in_to_a_server_that_demands_it_and_a_wrong_password_makes_messages_wait(world):
    server = Server(login=("hub", "right"))
    server.start()
    try:
        record(world)
        wrong = dataclasses.replace(server.settings, username="hub", password="wrong")
        result = delivery.deliver_all(wrong, "worker-1")
        assert result.unavailable and result.retried == 2 and server.handler.received == []
        assert all(a.detail.startswith("server unavailable: 535") for a in attempts())
        right = dataclasses.replace(server.settings, username="hub", password="right")
        assert delivery.deliver_all(right, "worker-1", clock=later()).sent == 2
        assert server.handler.to() == sorted([world.dsl.email, world.deputy.email])
    finally:
        server.stop()


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # "ssl": TLS from the start
def test_over_tls_the_worker_checks_the_certificate_signs_in_and_sends(world, tmp_path, monkeypatch, tls):
    cert, key = loopback_certificate(tmp_path)
    server = Server(login=("hub", "right"), tls=tls, certificate=(cert, key))  # AUTH only over TLS
    server.start()
    try:
        record(world)
        settings = dataclasses.replace(server.settings, username="hub", password="right", **{tls: True})
        untrusted = delivery.deliver_all(settings, "worker-1")  # the host does not trust the certificate
        assert untrusted.unavailable and untrusted.sent == 0 and server.handler.received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now it does, as it would a real authority's
        assert delivery.deliver_all(settings, "worker-1", clock=later()).sent == 2
        assert server.handler.to() == sorted([world.dsl.email, world.deputy.email])
    finally:
        server.stop()


def test_a_message_accepted_again_after_a_lapsed_lease_stays_sent_and_the_second_copy_is_logged(world, smtp):
    record(world)
    now = utcnow()
    slow = delivery.claim("slow", 10, smtp.settings.lease, now)  # the lease lapses while it sends
    after_lease = now + smtp.settings.lease + timedelta(seconds=1)
    assert delivery.deliver_due(smtp.settings, "worker-2", clock=lambda: after_lease).sent == 2
    assert delivery.record(slow[0], "slow", delivery.SENT, "accepted", after_lease) == delivery.SENT
    message = db.session().get(OutboxMessage, slow[0].id, populate_existing=True)
    assert (message.status, message.attempts) == (MessageStatus.sent, 1)  # the second worker's one
    assert [(a.worker, a.outcome, a.detail.startswith("accepted again")) for a in attempts(slow[0].id)] == [
        ("worker-2", "sent", False), ("slow", "sent", True)]


def test_a_slow_server_is_retried_without_sending_anything_twice(world, smtp):
    record(world)
    settings = delivery.SmtpSettings(host="127.0.0.1", port=smtp.port, timeout=0.5)
    smtp.handler.slow_rcpt = 1  # the first message's RCPT answers after the client has given up
    result = delivery.deliver_all(settings, "worker-1")
    assert (result.sent, result.retried) == (1, 1)
    slow = next(m for m in messages() if m.status == MessageStatus.pending)
    assert "timed out" in slow.last_error
    result = delivery.deliver_all(settings, "worker-1", clock=later())
    assert result.sent == 1
    smtp.handler.settle()
    assert sorted(smtp.handler.ids()) == sorted(delivery.message_id(m.id) for m in messages())
    assert [a.outcome for a in attempts(slow.id)] == ["retry", "sent"]


def test_a_server_that_accepts_after_the_client_gave_up_gets_a_copy_with_the_same_message_id(world, smtp):
    """The at-least-once edge, documented: the server took the message but the worker never
    heard so. The second copy carries the same Message-ID, for the receiver to discard."""
    record(world)
    settings = delivery.SmtpSettings(host="127.0.0.1", port=smtp.port, timeout=0.5)
    smtp.handler.slow_data = 1
    assert delivery.deliver_all(settings, "worker-1").retried == 1
    delivery.deliver_all(settings, "worker-1", clock=later())
    smtp.handler.settle()
    ids = smtp.handler.ids()
    assert len(ids) == 3 and len(set(ids)) == 2
    assert {m.status for m in messages()} == {MessageStatus.sent}


def test_a_crashed_worker_s_claim_lapses_and_then_another_worker_sends_the_message(world, smtp):
    record(world)
    now = utcnow()
    taken = delivery.claim("crashed", 10, smtp.settings.lease, now)  # ... and never comes back
    assert len(taken) == 2
    assert delivery.deliver_due(smtp.settings, "worker-2", clock=lambda: now + timedelta(minutes=1)).claimed == 0
    assert smtp.handler.received == []
    after_lease = now + smtp.settings.lease + timedelta(seconds=1)
    assert delivery.deliver_due(smtp.settings, "worker-2", clock=lambda: after_lease).sent == 2
    assert [a.worker for a in attempts()] == ["worker-2", "worker-2"]
    assert len(smtp.handler.received) == 2


def test_a_worker_restarted_under_its_name_sends_at_once_what_it_held_when_it_was_killed(world, smtp, app):
    record(world)
    now = utcnow()
    assert len(delivery.claim("worker-1", 10, smtp.settings.lease, now)) == 2  # ... then SIGKILL
    assert delivery.deliver_due(smtp.settings, "worker-2", clock=lambda: now).claimed == 0  # the lease holds
    app.config["HUB"].smtp.update(host="127.0.0.1", port=str(smtp.port), timeout="5")
    result = app.test_cli_runner().invoke(args=["notifications", "deliver", "--once", "--worker-id", "worker-1"])
    assert result.exit_code == 0 and "Sent 2," in result.output, result.output
    assert len(smtp.handler.received) == 2


def test_a_worker_hands_back_only_its_own_claims_when_it_starts(world, smtp):
    record(world)
    now = utcnow()
    assert len(delivery.claim("worker-2", 10, smtp.settings.lease, now)) == 2
    assert delivery.release_own("worker-1") == 0
    assert delivery.deliver_due(smtp.settings, "worker-1", clock=lambda: now).claimed == 0
    assert {m.claimed_by for m in messages()} == {"worker-2"}


def _database_gone_once(monkeypatch) -> None:
    """The first attempt's record fails as a database restarting under it does."""
    real, calls = delivery.record, []

    def flaky(*args):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("UPDATE outbox_message", {}, Exception("server closed the connection"))
        return real(*args)

    monkeypatch.setattr(delivery, "record", flaky)


def test_an_attempt_is_recorded_once_the_database_is_back_so_the_message_goes_once(world, smtp, monkeypatch):
    record(world)
    _database_gone_once(monkeypatch)
    assert delivery.deliver_all(smtp.settings, "worker-1").sent == 2
    smtp.handler.settle()
    assert len(smtp.handler.ids()) == len(set(smtp.handler.ids())) == 2
    assert {m.status for m in messages()} == {MessageStatus.sent}


def test_a_worker_whose_pass_failed_mid_batch_hands_back_its_claims_at_the_next_pass(world, smtp, monkeypatch):
    record(world)
    _database_gone_once(monkeypatch)
    monkeypatch.setattr(delivery, "RECORD_PATIENCE", 0)  # the database stays away: the pass fails
    stop, cycles = threading.Event(), []

    def escalate() -> int:
        cycles.append(1)
        if len(cycles) == 3:
            stop.set()
        return 0

    delivery.run_worker(smtp.settings, "worker-1", poll=0.05, stop=stop, escalate=escalate)
    # At least once: the message whose record failed is sent again, with its Message-ID.
    assert {m.status for m in messages()} == {MessageStatus.sent}
    assert {m.claimed_by for m in messages()} == {None}


def test_a_stopping_worker_hands_back_what_it_has_not_sent(world, smtp):
    record(world)
    stop = threading.Event()
    stop.set()
    result = delivery.deliver_due(smtp.settings, "worker-1", stop=stop)
    assert (result.claimed, result.released, result.sent) == (2, 2, 0)
    assert {(m.status, m.claimed_by, m.attempts) for m in messages()} == {(MessageStatus.pending, None, 0)}
    assert delivery.deliver_all(smtp.settings, "worker-2").sent == 2


# --- several workers at once -----------------------------------------------------------------------

def _seed(count: int) -> list[int]:
    with db.unit_of_work() as s:
        rows = [OutboxMessage(to_address=f"dsl{i}@school.example.test", subject="A notification is waiting",
                              body="Sign in to read it.") for i in range(count)]
        s.add_all(rows)
    return [r.id for r in rows]


def _two_workers_send_each_message_once(smtp, count: int) -> None:
    ids = _seed(count)
    smtp.handler.data_delay = 0.01  # each send takes a moment, so the workers overlap
    results = in_threads(lambda name: delivery.deliver_all(smtp.settings, name, batch=5), ["worker-a", "worker-b"])
    assert sorted(smtp.handler.ids()) == sorted(delivery.message_id(i) for i in ids)
    assert sum(r.sent for r in results.values()) == count
    assert all(r.sent > 0 for r in results.values()), "both workers should have sent some"
    assert {(m.status, m.attempts) for m in messages()} == {(MessageStatus.sent, 1)}
    per_message = db.session().execute(select(DeliveryAttempt.message_id, func.count())
                                       .group_by(DeliveryAttempt.message_id)).all()
    assert sorted(per_message) == [(i, 1) for i in ids]


@pytest.mark.skipif(not os.environ.get("HUB_TEST_DATABASE_URL"),
                    reason="SKIP LOCKED is proven on PostgreSQL (set HUB_TEST_DATABASE_URL); SQLite has its own test")
def test_two_concurrent_workers_on_postgresql_send_nothing_twice(app, smtp):
    assert db.session().get_bind().dialect.name == "postgresql"
    _two_workers_send_each_message_once(smtp, 60)


@pytest.mark.skipif(bool(os.environ.get("HUB_TEST_DATABASE_URL")),
                    reason="the conditional-UPDATE claim is SQLite's; PostgreSQL uses SKIP LOCKED")
def test_two_concurrent_workers_on_sqlite_send_nothing_twice(app, smtp):
    _two_workers_send_each_message_once(smtp, 40)


def test_workers_claiming_at_the_same_moment_never_share_a_message(app):
    ids = _seed(30)
    now = utcnow()
    lease = timedelta(minutes=5)

    def claim_all(name: str) -> list[int]:
        mine = []
        for _ in range(len(ids)):  # bounded: a broken claim must fail the test, not hang it
            batch = delivery.claim(name, 3, lease, now)
            if not batch:
                break
            mine += [c.id for c in batch]
        return mine

    results = in_threads(claim_all, ["a", "b", "c"])
    claimed = [i for got in results.values() for i in got]
    assert sorted(claimed) == ids
    owner = {m.id: m.claimed_by for m in messages()}
    assert all(owner[i] == name for name, got in results.items() for i in got)


# --- the worker loop, the commands and the administrator's page ---------------------------------------

def test_the_worker_loop_escalates_and_delivers_until_stopped(world, smtp):
    record(world)
    stop = threading.Event()
    escalations = []

    def escalate() -> int:
        escalations.append(1)
        return 0

    thread = threading.Thread(target=delivery.run_worker, args=(smtp.settings, "loop", 10, 0.05, stop),
                              kwargs={"escalate": escalate})
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while len(smtp.handler.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert len(smtp.handler.received) == 2 and escalations
    assert {m.status for m in messages()} == {MessageStatus.sent}


def test_the_worker_loop_runs_background_work_each_cycle_without_pausing_while_there_is_more(app, smtp):
    """The hook the police download's queued imports run in (hub.missing.imports.batches.run_queued)."""
    class Stop(threading.Event):
        """The worker's stop event, noting each pause between cycles."""

        def __init__(self) -> None:
            super().__init__()
            self.paused: list[float] = []  # waits begun while the worker was still meant to run

        def wait(self, timeout=None):
            if not self.is_set():
                self.paused.append(timeout)
            return super().wait(timeout)

    stop = Stop()
    calls = []

    def background() -> int:
        calls.append(len(calls))
        if len(calls) == 3:
            stop.set()
        return 1 if len(calls) < 3 else 0  # work done: the next cycle starts at once

    delivery.run_worker(smtp.settings, "loop", 10, poll=30, stop=stop, background=background)
    assert len(calls) == 3 and stop.paused == []  # never paused between cycles while there was work


def test_the_deliver_command_sends_what_is_due_and_reports_it(world, smtp, app):
    record(world)
    app.config["HUB"].smtp.update(host="127.0.0.1", port=str(smtp.port), timeout="5")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "deliver", "--once", "--worker-id", "cron-1"])
    assert result.exit_code == 0, result.output
    assert "Sent 2, to retry later 0, failed 0." in result.output
    assert world.dsl.email not in result.output
    assert {a.worker for a in attempts()} == {"cron-1"}
    assert len(smtp.handler.received) == 2
    result = runner.invoke(args=["notifications", "escalate"])
    assert result.exit_code == 0 and "Escalated 0" in result.output


def test_the_deliver_command_refuses_a_bad_smtp_configuration(app):
    app.config["HUB"].smtp.update(host="mail.example.test", username="hub", password="secret")
    result = app.test_cli_runner().invoke(args=["notifications", "deliver", "--once"])
    assert result.exit_code != 0 and "HUB_SMTP_STARTTLS" in result.output


@pytest.mark.parametrize("role", [Role.dsl, Role.dpo])
def test_the_outbox_page_is_refused_to_anyone_but_an_administrator(app, role):
    user, secret = make_user(make_org(OrgKind.school if role == Role.dsl else OrgKind.mace_host), role)
    _seed(1)
    client = app.test_client()
    sign_in(client, user, secret)
    assert client.get("/admin/outbox").status_code == 403
    page = client.get("/admin").status_code
    assert page == 403
    with pytest.raises(Forbidden):
        delivery.undelivered(user)
    with pytest.raises(Forbidden):
        delivery.retry(user, 1)
    refused = db.session().scalars(select(AuditEvent.object_type).where(
        AuditEvent.outcome == "refused", AuditEvent.actor_user_id == user.id)).all()
    assert {"page", "outbox", "outbox-message"} <= set(refused)


def test_the_outbox_page_shows_waiting_and_failed_messages_without_the_child(world, stopped_smtp, app):
    record(world)
    delivery.deliver_all(stopped_smtp.settings, "worker-1")
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    before = db.session().scalar(select(func.count()).select_from(AuditEvent))
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "E-mail outbox" in page and world.dsl.email in page and "server unavailable" in page
    assert "Waiting" in page and "Send again" not in page
    for value in PERSONAL:
        assert value not in page
    read = db.session().scalar(select(AuditEvent).where(AuditEvent.id >= before, AuditEvent.object_type == "outbox"))
    assert read.actor_user_id == admin.id
    assert "E-mail outbox" in client.get("/admin").get_data(as_text=True)


def test_retrying_a_message_that_does_not_exist_is_a_404(app):
    admin, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, secret)
    assert post_form(client, "/admin/outbox/999/retry", {}, form_page="/admin/gateways").status_code == 404


# --- settings and backoff ------------------------------------------------------------------------------

def test_smtp_settings_come_from_the_hub_smtp_variables():
    plain = delivery.SmtpSettings.from_config({})
    assert (plain.host, plain.port, plain.starttls, plain.ssl, plain.timeout) == ("localhost", 25, False, False, 30)
    tls = delivery.SmtpSettings.from_config({"host": "smtp.example.test", "starttls": "1", "username": "hub",
                                             "password": "pw", "from": "hub@example.test", "timeout": "10"})
    assert (tls.port, tls.starttls, tls.username, tls.sender, tls.timeout) == (587, True, "hub", "hub@example.test", 10)
    assert delivery.SmtpSettings.from_config({"ssl": "true"}).port == 465
    assert delivery.SmtpSettings.from_config({"username": "u", "password": "p"}).username == "u"  # loopback


@pytest.mark.parametrize("values", [
    {"ssl": "1", "starttls": "1"},
    {"port": "smtp"},
    {"port": "70000"},
    {"timeout": "0"},
    {"host": "smtp.example.test", "username": "hub", "password": "pw"},
])
def test_bad_smtp_settings_are_refused(values):
    with pytest.raises(ConfigurationError):
        delivery.SmtpSettings.from_config(values)


def test_backoff_doubles_from_a_minute_is_capped_at_an_hour_and_is_jittered():
    rng = random.Random(5)
    for attempt in range(1, 12):
        nominal = min(timedelta(minutes=2 ** (attempt - 1)), timedelta(hours=1))
        wait = delivery.backoff(attempt, rng)
        assert nominal / 2 <= wait <= nominal
    assert len({delivery.backoff(3, rng) for _ in range(5)}) > 1


def test_recording_a_send_waits_less_for_the_disk_and_only_in_its_own_transaction(world, smtp):
    """The attempt's commit need not wait for the disk (redone at worst: the same message sent
    again); every other transaction on the same connection still does."""
    record(world)
    engine = db.session().get_bind()
    seen: list[str] = []

    def statement(_conn, _cursor, text, *_args) -> None:
        seen.append(text)

    sqlite = engine.dialect.name == "sqlite"
    event.listen(engine, "before_cursor_execute", statement)
    try:
        delivery.deliver_all(smtp.settings, "w1")
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert [m.status for m in messages()] == [MessageStatus.sent, MessageStatus.sent]
    relaxed = "PRAGMA synchronous=NORMAL" if sqlite else "SET LOCAL synchronous_commit TO OFF"
    assert sum(relaxed in text for text in seen) == 2, seen  # one per message recorded
    with engine.connect() as connection:  # the pool's connection, back from the worker's use
        level = connection.exec_driver_sql("PRAGMA synchronous" if sqlite else "SHOW synchronous_commit").scalar()
    assert level in (2, "on"), level  # FULL (2) on SQLite, on for PostgreSQL: the default again
