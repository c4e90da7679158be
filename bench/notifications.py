"""School notification figures (issue 5): from 1,000 missing episodes recorded to 2,000 e-mails
accepted by a local SMTP server, through `flask --app hub notifications deliver --once`, against
2,000 bare smtplib sends to the same server (the baseline, same run); and the time from an
episode's commit to its notification being in the school's inbox (p95, goal under 1 s), with a
delivery worker running beside it.

Run: `make bench` or `.venv/bin/python -m bench.notifications [--episodes 1000] [--schools 50]`.
The SMTP server is aiosmtpd's Sink (accepts and discards) in its own process on 127.0.0.1; the
database is a throw-away SQLite file in a temporary folder, removed at the end
(HUB_BENCH_DATABASE_URL=postgresql+psycopg://user@host:port/any for PostgreSQL: the bench creates
its own database on that server and drops it at the end, also on error).

The issue-13 goal, "1,000 episodes to 2,000 e-mails under 20 s", is printed as one line, met or
short: the time to record the episodes (each its own transaction, with its audit entries pending)
plus `deliver --once` until every e-mail is accepted (the command integrates the audit log at its
end, so that time is in the figure), against the bare smtplib sends of the same e-mails.
"""

from __future__ import annotations

import argparse
import math
import os
import queue
import smtplib
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from bench._databases import is_postgres, throwaway_postgres
from bench._util import _free_port, _smtp_server
from bench.audit_log import _app, _environment
from bench.world import enrol, involve
from hub import db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.audit import service as audit
from hub.db import utcnow
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.auth import User
from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.notifications import MessageStatus, Notification, OutboxMessage
from hub.models.people import Gender
from hub.models.roles import OrgKind, Role
from hub.notifications import delivery, escalation, inbox
from hub.people import service as people

END_TO_END_GOAL_S = 20.0


def _setup(port: int, episodes: int, schools: int, extra: int, folder: str, database_url: str | None):
    _environment(Path(folder))
    if database_url:
        os.environ["HUB_DATABASE_URL"] = database_url
    os.environ.update({"HUB_SMTP_HOST": "127.0.0.1", "HUB_SMTP_PORT": str(port), "HUB_SMTP_TIMEOUT": "10",
                       "HUB_SMTP_FROM": "hub@bench.example.test"})
    app = _app()
    la = admin.create_organisation(None, admin.OrganisationDetails("B-EDU", "Bench education", OrgKind.la_education,
                                                                   "902"))
    police = admin.create_organisation(None, admin.OrganisationDetails("B-POL", "Bench police", OrgKind.police, "42"))
    officer = admin.create_user(None, admin.UserDetails("officer@bench.example.test", "Bench officer", police.id,
                                                        {Role.police_officer}))
    school_ids, dsl_of = [], {}
    for i in range(schools):
        school = admin.create_organisation(None, admin.OrganisationDetails(
            f"B-S{i}", f"Bench school {i}", OrgKind.school, f"{980000 + i}", local_authority_id=la.id))
        dsl_of[school.id] = admin.create_user(None, admin.UserDetails(
            f"dsl{i}@bench.example.test", f"DSL {i}", school.id, {Role.dsl})).id
        admin.create_user(None, admin.UserDetails(f"deputy{i}@bench.example.test", f"Deputy {i}", school.id,
                                                  {Role.deputy_dsl}))
        school_ids.append(school.id)
    children = []
    for i in range(episodes + extra):
        child = people.create_child(None, people.ChildDetails(
            given_name=f"Child{i}", family_name="Bench", date_of_birth=date(2012, 1, 1), gender=Gender.female))
        school_id = school_ids[i % schools]
        enrol(child, school_id)
        involve(child, police)
        children.append((child.id, school_id))
    return app, officer, children, dsl_of


def _record(officer, child_id: int, n: int):
    return missing.record_episode(officer, child_id, missing_details.EpisodeDetails(
        police_reference=f"BENCH/{n}", reported_start=utcnow() - timedelta(hours=1),
        classification=Classification.missing, risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))


def _sent() -> int:
    return db.session().scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.status == MessageStatus.sent))


def bench_bare_smtplib(port: int, count: int) -> float:
    """The baseline: the same number of messages of the same shape, one smtplib session."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "hub@bench.example.test", "dsl@bench.example.test", "x" * 50
    message["Message-ID"] = "<bench@hub>"
    message.set_content("A notification is waiting for you.\n" + "x" * 250)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for _ in range(count):
            smtp.send_message(message)
    return time.perf_counter() - start


def bench_delivery(app, expected: int) -> float:
    """`notifications deliver --once`, the command's own code path, until every message is sent."""
    runner = app.test_cli_runner()
    start = time.perf_counter()
    result = runner.invoke(args=["notifications", "deliver", "--once", "--batch", "100", "--worker-id", "bench"])
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    sent = _sent()
    assert sent == expected, f"{sent} sent, expected {expected}: {result.output}"
    return elapsed


def _percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least the fraction p of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * p) - 1, 0)]


def bench_inbox_latency(app, officer, children, dsl_of, first_n: int) -> dict:
    """Each episode is recorded (and committed) by this thread; a reader thread, with its own
    session, opens the school DSL's inbox until the new notification is there; a delivery worker
    (batch 50, pause 0.2 s) runs in a third thread. Also: commit to e-mail accepted."""
    settings = delivery.SmtpSettings.from_config(app.config["HUB"].smtp)
    stop = threading.Event()
    worker = threading.Thread(target=delivery.run_worker, args=(settings, "bench-worker", 50, 0.2, stop),
                              kwargs={"escalate": escalation.escalate_due})
    worker.start()
    asks: queue.Queue = queue.Queue()
    inbox_ms: list[float] = []

    def reader() -> None:
        while (ask := asks.get()) is not None:
            episode_id, user_id, committed = ask
            user = db.session().get(User, user_id)
            while not any(item.episode.id == episode_id for item in inbox.inbox(user)):
                time.sleep(0.001)
            inbox_ms.append((time.perf_counter() - committed) * 1000)
            db.session.remove()

    thread = threading.Thread(target=reader)
    thread.start()
    committed_at = {}
    for n, (child_id, school_id) in enumerate(children):
        episode = _record(officer, child_id, first_n + n)
        asks.put((episode.id, dsl_of[school_id], time.perf_counter()))
        committed_at[episode.id] = utcnow()
        time.sleep(0.02)  # episodes arrive one by one, not as a bulk load
    asks.put(None)
    thread.join()
    deadline = time.monotonic() + 120
    ids = list(committed_at)
    query = (select(Notification.episode_id, OutboxMessage.sent_at)
             .join(OutboxMessage, OutboxMessage.notification_id == Notification.id)
             .where(Notification.episode_id.in_(ids), OutboxMessage.status == MessageStatus.sent))
    while len(rows := db.session().execute(query).all()) < 2 * len(ids) and time.monotonic() < deadline:
        db.session.remove()
        time.sleep(0.2)
    stop.set()
    worker.join()
    email_ms = [(sent_at - committed_at[episode_id]).total_seconds() * 1000 for episode_id, sent_at in rows]
    return {"inbox_median_ms": _percentile(inbox_ms, 0.5), "inbox_p95_ms": _percentile(inbox_ms, 0.95),
            "email_median_ms": _percentile(email_ms, 0.5), "email_p95_ms": _percentile(email_ms, 0.95),
            "samples": len(inbox_ms), "emails": len(email_ms)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--latency-samples", type=int, default=200)
    args = parser.parse_args(argv)
    server_url = os.environ.get("HUB_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="hub-bench-notifications-") as folder, ExitStack() as stack:
        database_url = (stack.enter_context(throwaway_postgres(server_url, "hub_bench_notifications"))
                        if is_postgres(server_url) else None)
        print(f"database: {'PostgreSQL' if database_url else 'SQLite'}", flush=True)
        return _run(args, folder, database_url)


def _pending_audit() -> int:
    count = audit.pending().count
    db.session.remove()
    return count


def _run(args, folder: str, database_url: str | None) -> dict:
    port = _free_port()
    server = _smtp_server(port)
    try:
        start = time.perf_counter()
        app, officer, children, dsl_of = _setup(port, args.episodes, args.schools, args.latency_samples, folder,
                                                database_url)
        audit_integrator.integrate_all()  # the set-up's own entries: not part of the figure
        print(f"(set up {args.schools} schools, each with a DSL and a deputy, and "
              f"{len(children):,} children in {time.perf_counter() - start:.0f} s)")
        start = time.perf_counter()
        for n, (child_id, _school) in enumerate(children[:args.episodes]):
            _record(officer, child_id, n)
        recording = time.perf_counter() - start
        emails = 2 * args.episodes
        print(f"recorded {args.episodes:,} episodes in {recording:.1f} s ({args.episodes / recording:.0f}/s), "
              f"each writing 2 notifications and 2 outbox e-mails in its own transaction")
        baseline = bench_bare_smtplib(port, emails)
        print(f"baseline, {emails:,} bare smtplib sends over one session: {baseline:.2f} s "
              f"({emails / baseline:.0f}/s)")
        pending_before = _pending_audit()
        delivered = bench_delivery(app, emails)
        pending_after = _pending_audit()
        print(f"notifications deliver --once, {emails:,} e-mails accepted: {delivered:.2f} s "
              f"({emails / delivered:.0f}/s), {baseline / delivered:.2f} of the bare send rate "
              f"(audit entries waiting to be sequenced: {pending_before:,} before, {pending_after:,} after: "
              f"the command integrates them at its end)")
        end_to_end = recording + delivered
        print(f"end to end, {args.episodes:,} episodes recorded to {emails:,} e-mails accepted: {end_to_end:.1f} s "
              f"(recording {recording:.1f} s + delivery {delivered:.1f} s); baseline {emails:,} bare smtplib sends "
              f"{baseline:.2f} s, ratio {end_to_end / baseline:.1f}x; goal < {END_TO_END_GOAL_S:.0f} s: "
              f"{'met' if end_to_end < END_TO_END_GOAL_S else 'SHORT'}"
              + ("" if args.episodes == 1000 else " (the goal is for 1,000 episodes)"), flush=True)
        latency = bench_inbox_latency(app, officer, children[args.episodes:], dsl_of, args.episodes)
        print(f"episode commit to the school's inbox ({latency['samples']} episodes, worker running): "
              f"median {latency['inbox_median_ms']:.1f} ms, p95 {latency['inbox_p95_ms']:.1f} ms (goal p95 < 1 s)")
        print(f"episode commit to e-mail accepted ({latency['emails']} e-mails, worker pausing 0.2 s when idle): "
              f"median {latency['email_median_ms']:.0f} ms, p95 {latency['email_p95_ms']:.0f} ms")
        return {"recording_s": recording, "baseline_s": baseline, "delivery_s": delivered,
                "ratio": baseline / delivered, "end_to_end_s": end_to_end,
                "end_to_end_met": end_to_end < END_TO_END_GOAL_S, "audit_pending_after": pending_after, **latency}
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
