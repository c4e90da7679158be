"""`flask --app hub notifications ...` commands: the delivery worker and escalation.

    flask --app hub notifications deliver --once       # send what is due now, then stop (cron)
    flask --app hub notifications deliver              # a long-running worker (one per host or more)
    flask --app hub notifications escalate             # escalate overdue notifications now, and
                                                       # tell schools a pupil is still missing

Several workers may run at once, on one host or many: they claim rows, they never share them.
SMTP settings come from HUB_SMTP_* (see hub.notifications.delivery.SmtpSettings).
"""

from __future__ import annotations

import os
import signal
import socket
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from hub.audit import integrator as audit_integrator
from hub.audit import signing
from hub.audit.context import Origin, new_request_id, set_origin
from hub.config import ConfigurationError, lower_priority_of_background_work
from hub.dpo import flags as dpo_flags
from hub.dpo import integrity as dpo_integrity
from hub.mace.operations import outcomes
from hub.missing.imports import batches as import_batches
from hub.notifications import delivery, escalation, still_missing
from hub.notifications.delivery import SmtpSettings
from hub.retention import purge as retention

group = AppGroup("notifications", help="School notifications: delivery and escalation.")


def _origin(worker: str, channel: str = "cli") -> None:
    """Audit events written by the worker (escalations) name it as their origin."""
    set_origin(Origin(request_id=f"{channel}-{new_request_id()[:12]}", channel=channel, user_agent=worker))


def _settings():
    try:
        return SmtpSettings.from_config(current_app.config["HUB"].smtp)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def _summary(result, escalated: int | None = None) -> str:
    text = f"Sent {result.sent}, to retry later {result.retried}, failed {result.failed}"
    if result.released:
        text += f", handed back {result.released}"
    if result.unavailable:
        text += " (the SMTP server could not be reached)"
    if escalated:
        text += f"; escalated or reminded {escalated} notification group(s)"
    return text + "."


@group.command("deliver")
@click.option("--once", is_flag=True, help="Send what is due now, then stop (for cron or a one-off run).")
@click.option("--worker-id", default=None, help="This worker's name in claims and attempt records "
                                                 "(default: host name and process id). Must be unique.")
@click.option("--batch", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Messages claimed at a time.")
@click.option("--poll", type=click.FloatRange(0.05, 3600), default=5.0, show_default=True,
              help="Seconds to pause when nothing is due (worker only).")
def deliver(once: bool, worker_id: str | None, batch: int, poll: float) -> None:
    """Send the outbox's e-mails, with retries, backoff and a record of every attempt."""
    settings = _settings()
    lower_priority_of_background_work(current_app.config["HUB"])
    worker = (worker_id or f"{socket.gethostname()}:{os.getpid()}")[:100]
    _origin(worker, "cli" if once else "worker")
    # Restarted under its name after dying mid-batch: its claims are its own to take back at once.
    # A duty, so a database still down at start is alarmed and the worker starts anyway.
    delivery.run_duty(delivery.Duty("hand back", lambda: delivery.release_own(worker)))
    if once:
        click.echo(_summary(delivery.deliver_all(settings, worker, batch)))
        audit_integrator.integrate_all()
        return
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # A service manager's SIGTERM: finish the message in hand, hand the rest back, stop.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Delivery worker {worker} started (batch {batch}, pause {poll} s); Ctrl+C or SIGTERM stops it.")
    try:
        run_all(settings, worker, batch, poll, stop,
                report=lambda result, escalated: click.echo(_summary(result, escalated)))
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"Delivery worker {worker} stopped.")


def run_all(settings, worker: str, batch: int, poll: float, stop: threading.Event, report=None) -> None:
    """The whole worker until `stop`: the audit log's integrator and its other duties each in a
    thread of its own, so entries are sequenced within a second or two even while an import or a
    full check keeps another loop busy and school notifications never wait for the audit log;
    and the delivery loop (escalate, deliver, import, retention) here."""
    threads = [
        threading.Thread(target=delivery.run_duties, name="audit-integrator", daemon=True,
                         args=([delivery.Duty("integrate", audit_integrator.integrate_all)], stop,
                               audit_integrator.INTEGRATE_EVERY)),
        threading.Thread(target=delivery.run_duties, args=(audit_duties(), stop, poll), name="audit-duties",
                         daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        delivery.run_worker(settings, worker, batch, poll, stop, escalate=escalate_due, report=report,
                            background=lambda: _import_queued(settings, worker, batch, stop),
                            duties=delivery_duties())
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)


def delivery_duties() -> list:
    """The delivery loop's other duties: retention (destroy what the DPOs approved, never a held
    record, and purge operational data by age, each with its destruction certificate)."""
    return [delivery.Duty("retention", retention.run_due)]


def escalate_due() -> int:
    """The worker's "escalate" duty: escalate what is overdue, tell schools whose pupil is still
    missing at the start of a school day, remind MACE members of outcomes due."""

    return escalation.escalate_due() + still_missing.remind_still_missing() + outcomes.remind_due()


def audit_duties() -> list:
    """The audit log's duties, in their own thread: sign and witness (hourly, and put the latest
    head to witnesses that have not cosigned it), the DPO's flags, the nightly full check and
    the checks the DPOs queued. Each fails on its own (alarmed), like every worker duty."""
    return [delivery.Duty("sign and witness", signing.sign_and_publish_if_due),
            delivery.Duty("flags", dpo_flags.raise_flags),
            delivery.Duty("nightly check", dpo_integrity.queue_nightly_check),
            delivery.Duty("queued checks", dpo_integrity.run_queued_verifications)]


def _import_queued(settings, worker: str, batch: int, stop: threading.Event) -> int:
    """One queued police download (uploaded on the web), imported by this worker; the e-mails
    each chunk queues are sent before the next chunk, so schools hear at once."""
    done = import_batches.run_queued(
        worker, between_chunks=lambda: delivery.deliver_all(settings, worker, batch, stop=stop))
    if done is not None:
        click.echo(f"Import {done.id}: {done.status.value}, {done.rows_done} of {done.rows_total} rows.")
    return int(done is not None)


@group.command("escalate")
def escalate() -> None:
    """Escalate every notification past its deadline and not acknowledged, and send the day's
    "still missing" notifications (the worker does both each cycle; this runs them once, for a
    scheduler)."""
    _origin("escalate")
    escalated = escalation.escalate_due()
    reminded = still_missing.remind_still_missing()
    click.echo(f"Escalated {escalated} notification group(s); told {reminded} school(s) a pupil is still missing.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
