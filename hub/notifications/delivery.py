"""Delivering the outbox: claim due e-mails, send them over SMTP, record every attempt.

An outbox message is a small state machine; a worker moves it only forward from `pending`:

    pending --accepted (250)--------------------------------------------> sent
       |  \\-- 4xx, refused connection, timeout: attempts + 1, wait (backoff); after MAX_ATTEMPTS: failed
       \\----- 5xx rejection of the message or its recipient --------------> failed --admin retry--> pending

Claiming. A worker claims due rows by writing its name and a lease (`claimed_by`, `claimed_until`)
and commits before it opens an SMTP connection, so no database connection or row lock is held
while a slow server answers. On PostgreSQL the due rows are picked with
`SELECT ... FOR UPDATE SKIP LOCKED` (workers never wait for each other); SQLite has no SKIP LOCKED,
so each row is claimed with a conditional UPDATE that only one worker's rowcount can win. Both
skip rows whose lease has not lapsed: a crashed worker's rows are taken over when its lease ends,
not before. A worker stops sending from its batch well before its lease could lapse.

Nothing sent twice. A message is marked sent in the same commit as its attempt row, and only the
holder of a live lease sends it. One edge is at-least-once by nature and is not closed here: the
SMTP server accepted the message, then the worker died (or its commit failed) before recording
it; when the lease lapses another worker sends it again. That commit does not wait for the disk
(`db.commit_need_not_wait_for_the_disk`: the flush was most of a message's time), so the same
edge also opens if the database server or its machine crashes in the moment after it; a crash of
the worker alone still loses nothing. Every copy of a message carries the
same Message-ID, `<outbox-{id}@hub>`, so the receiving system can discard the second one.

Nothing lost. Every failure leaves the row pending (with its next attempt time) or failed (for an
administrator to see and retry); nothing is deleted. Logs name message ids, never addresses.

SMTP settings come from `HUB_SMTP_*` (see `SmtpSettings`). Workers on several hosts compare
leases with their own clocks: keep the hosts' clocks synchronised (NTP).

Longer than the 400 lines a module here aims at, on purpose: it is one state machine (the one
drawn above), whose leases, retries and sending read best in one place.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from hub import db
from hub.audit import alarms
from hub.audit import service as audit
from hub.config import ConfigurationError
from hub.db import commit_need_not_wait_for_the_disk, unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.auth import User
from hub.models.notifications import DeliveryAttempt, MessageStatus, OutboxMessage
from hub.permissions import may_administer

log = logging.getLogger(__name__)

SENT, RETRY, FAILED = "sent", "retry", "failed"
MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
DETAIL_MAX = 500
LIST_LIMIT = 200

Clock = Callable[[], datetime]


# --- settings ------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class SmtpSettings:
    """`HUB_SMTP_HOST` (default localhost), `HUB_SMTP_PORT` (default 465 with SSL, 587 with
    STARTTLS, else 25), `HUB_SMTP_USERNAME` and `HUB_SMTP_PASSWORD` (optional; only over TLS
    unless the server is on loopback), `HUB_SMTP_STARTTLS=1` or `HUB_SMTP_SSL=1` (not both),
    `HUB_SMTP_FROM` (the sender address) and `HUB_SMTP_TIMEOUT` (seconds per network operation,
    default 30)."""

    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "safeguarding-hub@localhost"
    timeout: float = 30.0

    @classmethod
    def from_config(cls, values: Mapping[str, str]) -> SmtpSettings:
        """From `app.config["HUB"].smtp` (the HUB_SMTP_* variables, keys lower-case)."""
        use_ssl = str(values.get("ssl", "")).strip().lower() in _TRUE
        starttls = str(values.get("starttls", "")).strip().lower() in _TRUE
        if use_ssl and starttls:
            raise ConfigurationError("Set HUB_SMTP_SSL or HUB_SMTP_STARTTLS, not both")
        host = (values.get("host") or "localhost").strip()
        try:
            port = int(values.get("port") or (465 if use_ssl else 587 if starttls else 25))
            timeout = float(values.get("timeout") or 30)
        except ValueError as exc:
            raise ConfigurationError("HUB_SMTP_PORT and HUB_SMTP_TIMEOUT must be numbers") from exc
        if not 0 < port < 65536 or not 0 < timeout <= 600:
            raise ConfigurationError("HUB_SMTP_PORT must be a port number and HUB_SMTP_TIMEOUT 1 to 600 seconds")
        username = values.get("username") or None
        if username and not (use_ssl or starttls) and host not in _LOOPBACK:
            # smtplib would send the password in clear text to a remote server.
            raise ConfigurationError("HUB_SMTP_USERNAME needs HUB_SMTP_STARTTLS=1 or HUB_SMTP_SSL=1")
        return cls(host=host, port=port, username=username, password=values.get("password") or None,
                   starttls=starttls, ssl=use_ssl, sender=values.get("from") or cls.sender, timeout=timeout)

    @property
    def lease(self) -> timedelta:
        """How long a claim keeps other workers off a batch: long enough for a slow server."""
        return timedelta(seconds=max(300.0, 20 * self.timeout))

    @property
    def margin(self) -> timedelta:
        """Stop sending from a batch when less than this is left of its lease: one message may
        take several network operations, each up to the timeout."""
        return timedelta(seconds=10 * self.timeout)


# --- sending --------------------------------------------------------------------------------------

class ServerUnavailable(Exception):
    """The SMTP server could not be reached or would not take a session: every message waits."""


class SmtpMailer:
    """One SMTP session, opened on first use and reused for the messages of one batch."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            try:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password or "")
            except BaseException:
                smtp.close()
                raise
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(describe(exc)) from exc
        return smtp

    def send(self, message: Message, to_address: str) -> None:
        """Hand one message to the server; raises on anything but acceptance."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message, from_addr=self.settings.sender, to_addrs=[to_address])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # the server answered and smtplib reset the transaction: the session is still good
        except BaseException:
            self.close()  # a timeout or a broken connection leaves the session in an unknown state
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def describe(exc: BaseException) -> str:
    """What went wrong, for the attempt log and the administrator: the server's code and text,
    with any e-mail address in it replaced (servers echo the recipient back)."""
    if isinstance(exc, ServerUnavailable):
        text = f"server unavailable: {exc}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))
        text = f"{code} {_text(reply)}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _ADDRESS.sub("<address>", text).strip()[:DETAIL_MAX]


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def is_permanent(exc: BaseException) -> bool:
    """A 5xx rejection of this message (sender, recipient or content) will not change on a
    retry. Anything else may: 4xx, timeouts, refused or dropped connections, and session-level
    errors (greeting, EHLO, login), which are the server's or the configuration's, not the
    message's, and must not fail every message at once."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return 500 <= exc.smtp_code < 600
    return False


def message_id(outbox_id: int) -> str:
    """Stable across retries, so a receiver can discard a second copy (see the module docstring)."""
    return f"<outbox-{outbox_id}@hub>"


@dataclass(frozen=True)
class Claimed:
    """What a worker needs to send one claimed message, read while claiming it."""

    id: int
    to_address: str
    subject: str
    body: str
    attempts: int


_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in a raw mail file, unlike base64


def build_message(claimed: Claimed, sender: str, now: datetime) -> Message:
    """The e-mail. Built with the classic (compat32) classes: the modern EmailMessage parses every
    header it is given, which cost more than the SMTP exchange itself. That parsing also refuses
    header injection, so the check is made here instead."""
    body = claimed.body
    message = MIMEText(body, "plain", "us-ascii" if body.isascii() else _UTF8)
    headers = {"From": sender, "To": claimed.to_address, "Subject": claimed.subject,
               "Message-ID": message_id(claimed.id), "Date": email.utils.format_datetime(now),
               "Auto-Submitted": "auto-generated"}  # RFC 3834: no out-of-office replies, please
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"line break in the {name} header")
        message[name] = value if value.isascii() else Header(value, "utf-8")
    return message


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4, ... minutes, capped at an hour, with
    "equal jitter" (half fixed, half random) so messages that failed together spread out."""
    delay = min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay / 2 + delay / 2 * (rng or random).random()


# --- claiming and recording ------------------------------------------------------------------------

def _due(now: datetime):
    m = OutboxMessage
    return (m.status == MessageStatus.pending, m.next_attempt_at <= now,
            or_(m.claimed_until.is_(None), m.claimed_until < now))


def claim(worker: str, batch: int, lease: timedelta, now: datetime | None = None) -> list[Claimed]:
    """Claim up to `batch` due messages for `worker` until `now + lease`, and commit."""
    now = now or utcnow()
    m = OutboxMessage
    with unit_of_work() as s:
        due = select(m.id).where(*_due(now)).order_by(m.next_attempt_at, m.id).limit(batch)
        if s.get_bind().dialect.name == "postgresql":
            ids = list(s.scalars(due.with_for_update(skip_locked=True)))
            if ids:
                s.execute(update(m).where(m.id.in_(ids)).values(claimed_by=worker, claimed_until=now + lease),
                          execution_options={"synchronize_session": False})
        else:
            ids = _claim_each(s, worker, batch, lease, now)
        if not ids:
            return []
        rows = s.execute(select(m.id, m.to_address, m.subject, m.body, m.attempts)
                         .where(m.id.in_(ids)).order_by(m.next_attempt_at, m.id)).all()
    return [Claimed(*row) for row in rows]


def _claim_each(s, worker: str, batch: int, lease: timedelta, now: datetime) -> list[int]:
    """No SKIP LOCKED on SQLite: each UPDATE re-checks its row under the database's write lock, so
    of two workers that saw the same candidates only one gets a rowcount of 1 for each row. A
    worker that lost some looks again (inside its write transaction it now sees the winner's
    claims), so a lost race does not end a run while messages are still due."""
    m = OutboxMessage
    connection = s.connection()
    take = (update(m.__table__).where(m.id == bindparam("claim_id"), *_due(now))
            .values(claimed_by=worker, claimed_until=now + lease))
    ids: list[int] = []
    tried: set[int] = set()
    while len(ids) < batch:
        candidates = list(connection.scalars(select(m.id).where(*_due(now), m.id.not_in(tried))
                                             .order_by(m.next_attempt_at, m.id).limit(batch - len(ids))))
        if not candidates:
            break
        tried.update(candidates)
        ids += [i for i in candidates if connection.execute(take, {"claim_id": i}).rowcount == 1]
    return ids


def release(ids: list[int], worker: str) -> None:
    """Give back claimed messages this worker will not send now (stopping, or too little lease
    left): another worker, or this one later, takes them at once. Never empty: the worker stops
    before a message it still holds."""
    m = OutboxMessage
    with unit_of_work() as s:
        s.execute(update(m).where(m.id.in_(ids), m.claimed_by == worker, m.status == MessageStatus.pending)
                  .values(claimed_by=None, claimed_until=None), execution_options={"synchronize_session": False})


def release_own(worker: str) -> int:
    """A worker starting under its name hands back what an earlier run under that name still
    holds: that run died holding its claims (SIGKILL, a crashed host), and the name is its alone
    (`--worker-id` must be unique), so nobody is sending them. Without this they would wait out
    the lease -- ten minutes at the default timeout -- though the worker is back in seconds. The
    message in hand when it died may have been accepted by the server already: it goes again with
    the same Message-ID, the at-least-once edge of the module docstring, as after a lapsed lease.
    How many were handed back."""
    m = OutboxMessage
    with unit_of_work() as s:
        return s.execute(update(m).where(m.claimed_by == worker, m.status == MessageStatus.pending)
                         .values(claimed_by=None, claimed_until=None),
                         execution_options={"synchronize_session": False}).rowcount


# The three statements of `record`, built once: building and hashing a statement per message cost
# more than running it (a quarter of a message's time in the delivery benchmark's profile).
_OUTBOX = OutboxMessage.__table__
_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("message_id"),
                                    _OUTBOX.c.status == MessageStatus.pending)
              .values(status=MessageStatus.sent, sent_at=bindparam("now"), attempts=bindparam("attempts"),
                      claimed_by=None, claimed_until=None))
_MARK_UNSENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("message_id"),
                                      _OUTBOX.c.status == MessageStatus.pending,
                                      _OUTBOX.c.claimed_by == bindparam("worker"))
                .values(status=bindparam("status"), attempts=bindparam("attempts"),
                        next_attempt_at=bindparam("next_attempt_at"), last_error=bindparam("detail"),
                        claimed_by=None, claimed_until=None))
_ATTEMPT = insert(DeliveryAttempt.__table__).values(
    message_id=bindparam("message_id"), attempted_at=bindparam("now"), outcome=bindparam("outcome"),
    detail=bindparam("detail"), worker=bindparam("worker"))


def record(claimed: Claimed, worker: str, outcome: str, detail: str, now: datetime) -> str:
    """Record one attempt and move the message on, in one commit. Returns the outcome stored
    (a retry becomes a failure after MAX_ATTEMPTS). On the Core connection: the ORM's
    bookkeeping for two fixed statements cost as much as the statements."""
    attempts = claimed.attempts + 1
    with unit_of_work() as s:
        connection = s.connection()
        # The disk's flush was most of a message's time. Lost only if the database server or its
        # machine crashes in that moment: the message is then sent again with its same
        # Message-ID, the at-least-once edge above. A crash of this worker loses nothing.
        commit_need_not_wait_for_the_disk(connection)
        if outcome == SENT:
            # Sent is sent, whoever holds the claim now: the server has the message.
            won = connection.execute(_MARK_SENT, {"message_id": claimed.id, "now": now,
                                                  "attempts": attempts}).rowcount
            if not won:
                detail = "accepted again: another worker had sent it already (this worker's lease had lapsed)"
        else:
            if outcome == RETRY and attempts >= MAX_ATTEMPTS:
                outcome, detail = FAILED, f"{detail} (gave up after {attempts} attempts)"[:DETAIL_MAX]
            connection.execute(_MARK_UNSENT, {
                "message_id": claimed.id, "worker": worker, "attempts": attempts, "detail": detail,
                "status": MessageStatus.failed if outcome == FAILED else MessageStatus.pending,
                "next_attempt_at": now + backoff(attempts)})
        connection.execute(_ATTEMPT, {"message_id": claimed.id, "now": now, "outcome": outcome,
                                      "detail": detail[:DETAIL_MAX], "worker": worker[:100]})
    return outcome


#: How long a worker keeps trying to record an attempt while the database is out of reach (a
#: restart, a failover): the server has answered, and only this worker knows what it said.
RECORD_PATIENCE = 60.0


def record_surely(claimed: Claimed, worker: str, outcome: str, detail: str, clock: Clock,
                  patience: float | None = None) -> str:
    """`record`, tried again while the database cannot be reached (each try a fresh connection)
    for up to `patience` seconds. A message the server accepted and that was not recorded would
    wait out the lease and be sent a second time: proof.faults saw it when the database
    restarted mid-batch."""
    deadline = time.monotonic() + (RECORD_PATIENCE if patience is None else patience)
    pause = 0.25
    while True:
        try:
            return record(claimed, worker, outcome, detail, clock())
        except OperationalError:
            db.session.remove()
            if time.monotonic() + pause > deadline:
                raise
            log.warning("outbox message %d: the database is out of reach; recording again in %.1f s",
                        claimed.id, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


# --- the worker ------------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What one or more passes did; `unavailable` when a pass found the server unreachable."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    unavailable: bool = False

    def add(self, other: RunResult) -> None:
        for name in ("claimed", "sent", "retried", "failed", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unavailable = self.unavailable or other.unavailable

    def count(self, outcome: str) -> None:
        name = {SENT: "sent", RETRY: "retried", FAILED: "failed"}[outcome]
        setattr(self, name, getattr(self, name) + 1)


def deliver_due(settings: SmtpSettings, worker: str, batch: int = 50, clock: Clock = utcnow,
                stop: threading.Event | None = None, mailer: SmtpMailer | None = None) -> RunResult:
    """One pass: claim up to `batch` due messages and send them over one SMTP session."""
    result = RunResult()
    claimed = claim(worker, batch, settings.lease, clock())
    result.claimed = len(claimed)
    if not claimed:
        return result
    send_until = time.monotonic() + (settings.lease - settings.margin).total_seconds()
    mailer = mailer or SmtpMailer(settings)
    try:
        for position, message in enumerate(claimed):
            if (stop is not None and stop.is_set()) or time.monotonic() > send_until:
                rest = [c.id for c in claimed[position:]]
                release(rest, worker)
                result.released += len(rest)
                break
            try:
                mailer.send(build_message(message, settings.sender, clock()), message.to_address)
            except ServerUnavailable as exc:
                # Nobody to talk to: every message of the batch waits for its backoff, each with
                # its own attempt row, rather than each waiting out its own connection timeout.
                result.unavailable = True
                log.warning("SMTP server unavailable; %d messages wait (%s)", len(claimed) - position, exc)
                for waiting in claimed[position:]:
                    result.count(record_surely(waiting, worker, RETRY, describe(exc), clock))
                break
            except (OSError, smtplib.SMTPException) as exc:
                outcome = FAILED if is_permanent(exc) else RETRY
                stored = record_surely(message, worker, outcome, describe(exc), clock)
                log.info("outbox message %d: %s (%s)", message.id, stored, describe(exc))
                result.count(stored)
            except Exception as exc:  # noqa: BLE001 - a message that cannot be built would block its row forever
                # Not log.exception: the exception's text may hold the address.
                log.error("outbox message %d: could not be sent (%s)", message.id, type(exc).__name__)
                result.count(record_surely(message, worker, FAILED, f"not sent: {type(exc).__name__}", clock))
            else:
                result.count(record_surely(message, worker, SENT, "accepted", clock))
                log.debug("outbox message %d: sent", message.id)
    finally:
        mailer.close()
    return result


def deliver_all(settings: SmtpSettings, worker: str, batch: int = 50, clock: Clock = utcnow,
                stop: threading.Event | None = None) -> RunResult:
    """Pass after pass until nothing is due (what `notifications deliver --once` runs). Stops
    early when the server is unreachable: the worker loop tries again after its pause."""
    total = RunResult()
    while stop is None or not stop.is_set():
        result = deliver_due(settings, worker, batch, clock, stop)
        total.add(result)
        if result.claimed == 0 or result.unavailable or result.released:
            break
    return total


@dataclass(frozen=True)
class Duty:
    """One thing the worker does every cycle, by name (the name is what an alarm says)."""

    name: str
    run: Callable[[], int]


_failing: set[str] = set()
_failing_lock = threading.Lock()


def run_duty(duty: Duty) -> int:
    """Run one duty; its failure is logged and alarmed (the integrity panel, the hub DPO's
    e-mail) and never passed on, so one broken duty -- a damaged audit log, say -- stops none of
    the others. What it did (a count), or 0 when it failed."""
    try:
        done = duty.run()
    except Exception as exc:  # noqa: BLE001 - each duty fails on its own
        log.exception("worker duty %r failed; the other duties go on", duty.name)
        db.session.remove()
        with _failing_lock:
            _failing.add(duty.name)
        alarms.raise_alarm("duty-failed", f"the worker's duty '{duty.name}' failed ({type(exc).__name__}); "
                                          "the other duties go on", subject=duty.name)
        return 0
    finally:
        db.session.remove()  # no connection or stale identity map kept across duties
    with _failing_lock:
        recovered = duty.name in _failing
        _failing.discard(duty.name)
    if recovered:
        alarms.clear("duty-failed", duty.name)
    return done


def run_duties(duties: list[Duty], stop: threading.Event, pause: float) -> None:
    """A loop of its own for duties that may take long (the audit log's: signing and witnessing,
    flags, the nightly full check): run each, pause, repeat until `stop`. Started in its own
    thread by the deliver command, so delivery never waits for the audit log."""
    while not stop.is_set():
        worked = sum(run_duty(duty) for duty in duties if not stop.is_set())
        if not worked:
            stop.wait(pause)


def run_worker(settings: SmtpSettings, worker: str, batch: int = 50, poll: float = 5.0,
               stop: threading.Event | None = None, escalate: Callable[[], int] | None = None,
               report: Callable[[RunResult, int], None] | None = None,
               background: Callable[[], int] | None = None, duties: list[Duty] | None = None) -> None:
    """The long-running worker: escalate what is overdue, deliver what is due, run one piece of
    `background` work (a queued police download import) and any other `duties`, pause, repeat,
    until `stop` is set. Each is a duty that fails on its own (`run_duty`): a database outage or
    a broken audit log is alarmed and tried again next cycle while the rest go on."""
    stop = stop or threading.Event()
    # A pass that failed (the database gone mid-batch) leaves this worker's claims on the rows it
    # had not recorded; it is alive and holds none of them now, so it hands them back before the
    # next pass rather than leaving them to wait out the lease.
    failed_pass = [False]
    while not stop.is_set():
        outcome = {"result": RunResult()}

        def deliver(outcome: dict[str, RunResult] = outcome) -> int:  # this cycle's outcome, bound now
            if failed_pass[0]:
                release_own(worker)
                failed_pass[0] = False
            failed_pass[0] = True
            outcome["result"] = deliver_all(settings, worker, batch, stop=stop)
            failed_pass[0] = False
            return outcome["result"].claimed

        escalated = run_duty(Duty("escalate", escalate)) if escalate is not None else 0
        run_duty(Duty("deliver", deliver))
        result = outcome["result"]
        worked = run_duty(Duty("import", background)) if background is not None and not stop.is_set() else 0
        for duty in duties or []:
            if not stop.is_set():
                worked += run_duty(duty)
        if report is not None and (escalated or result.claimed):
            report(result, escalated)
        if (result.claimed == 0 or result.unavailable) and not worked:
            stop.wait(poll)


# --- the administrator's view --------------------------------------------------------------------

def _require_admin(actor: User, object_type: str, object_id: int | None = None, action: str = "read") -> None:
    if not may_administer(actor):
        audit.record_refusal(actor, object_type, object_id, action=action)
        raise Forbidden("Only a hub administrator can do this")


@dataclass
class OutboxSummary:
    messages: list[OutboxMessage]
    counts: dict[str, int]
    limit: int
    checked_at: datetime


def undelivered(actor: User, limit: int = LIST_LIMIT) -> OutboxSummary:
    """Messages not yet sent, failed first, oldest first, with attempts and last error. The
    recipient addresses are staff's personal data: the listing is audited."""
    _require_admin(actor, "outbox")
    m = OutboxMessage
    failed_first = case((m.status == MessageStatus.failed, 0), else_=1)
    messages = list(db.session().scalars(
        select(m).where(m.status != MessageStatus.sent).order_by(failed_first, m.created_at, m.id).limit(limit)
        .execution_options(populate_existing=True)))
    counts = {status.value: 0 for status in MessageStatus}
    counts.update({s.value: n for s, n in db.session().execute(select(m.status, func.count()).group_by(m.status))})
    with unit_of_work():
        audit.record("read", actor=actor, object_type="outbox", basis="role:hub-admin",
                     detail={"shown": len(messages)})
    return OutboxSummary(messages, counts, limit, utcnow())


def retry(actor: User, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """An administrator sends a failed message again: it is due at once, with a fresh count of
    attempts (its earlier attempts stay in the attempt log)."""
    _require_admin(actor, "outbox-message", message_id, action="update")
    now = now or utcnow()
    m = OutboxMessage
    with unit_of_work() as s:
        message = s.get(m, message_id, populate_existing=True)
        if message is None:
            raise NotFound("message not found")
        # Conditional, so two administrators pressing the button at once make one retry.
        won = s.execute(update(m).where(m.id == message_id, m.status == MessageStatus.failed).values(
            status=MessageStatus.pending, attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None),
            execution_options={"synchronize_session": False}).rowcount
        if not won:
            raise Invalid({"": "This message has not failed, so there is nothing to retry"})
        audit.record("update", actor=actor, object_type="outbox-message", object_id=message_id,
                     basis="role:hub-admin", detail={"change": "retry", "previous_attempts": message.attempts})
    s.refresh(message)
    return message
