"""Alarms about the audit log and the worker, shown on the integrity panel and e-mailed to the
hub's DPOs through the outbox (the e-mail names the kind of alarm and links to the panel: no
personal data, no entry contents).

Raising is idempotent: one open alarm per kind and subject counts how often it recurred. Each
condition is re-checked by the worker every cycle and raises its alarm again while it holds, so
an alarm row deleted or marked cleared behind the hub's back is back within a cycle; and the
e-mail is decided by this process's own memory (once per alarm per day per worker), not by a row
a database administrator could mark as "already sent".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from hub import db
from hub.db import unit_of_work, utcnow
from hub.models.audit import AuditAlarm

log = logging.getLogger(__name__)

#: The kinds, with what the panel and the e-mail call them.
KINDS = {
    "log-damaged": "The audit log does not verify",
    "signing-refused": "The hub refused to sign a tree head",
    "witness-refused": "A witness refused the log's checkpoint",
    "witness-unreachable": "A witness could not be reached",
    "not-published": "The latest checkpoint is not cosigned by enough witnesses",
    "integrator-late": "Entries are waiting to be sequenced",
    "duty-failed": "A duty of the delivery worker is failing",
}
EMAIL_EVERY = timedelta(days=1)
EMAIL_SUBJECT = "Safeguarding hub: audit log alarm"

_emailed: dict[tuple[str, str], datetime] = {}
_emailed_lock = threading.Lock()

#: Who is e-mailed, and how: the hub's DPOs through the outbox (hub.dpo.alarms), handed over by
#: create_app (hub.app). The log stands below the access rules and the outbox, which know who the
#: DPOs are and how an e-mail is queued: handed over, not imported, the dependency runs one way.
AlarmMailer = Callable[[str, str], None]
_mailer: list[AlarmMailer] = []


def use_mailer(mailer: AlarmMailer) -> None:
    _mailer[:] = [mailer]


def _email_hub_dpos(kind: str, subject: str) -> None:
    if not _mailer:  # never an alarm that tells nobody
        raise RuntimeError("the audit log's alarm mailer is not set up (hub.app's create_app hands it over)")
    _mailer[0](kind, subject)


def raise_alarm(kind: str, message: str, subject: str = "", email: bool = True) -> None:
    """Record (or count again) the open alarm, and e-mail the hub's DPOs when this process has
    not for a day. Never raises: an alarm about a broken database must not break its caller."""
    if kind not in KINDS:
        raise ValueError(f"unknown alarm kind {kind!r}")
    log.warning("audit alarm %s %s: %s", kind, subject, message)
    try:
        with unit_of_work() as s:
            now = utcnow()
            alarm = s.scalar(select(AuditAlarm).where(AuditAlarm.kind == kind, AuditAlarm.subject == subject,
                                                       AuditAlarm.cleared_at.is_(None)).with_for_update())
            if alarm is None:
                s.add(AuditAlarm(kind=kind, subject=subject, message=message[:2000], first_at=now, last_at=now,
                                 count=1))
            else:
                alarm.message, alarm.last_at, alarm.count = message[:2000], now, alarm.count + 1
            if email and _due_for_email(kind, subject, now):
                _email_hub_dpos(kind, subject)
    except Exception:  # noqa: BLE001 - the alarm is in the worker's log above, whatever the database says
        log.exception("could not record the audit alarm %s", kind)
        db.session.remove()


def clear(kind: str, subject: str = "") -> None:
    """The condition no longer holds: close its open alarm (it opens anew if it comes back)."""
    try:
        with unit_of_work() as s:
            s.execute(update(AuditAlarm).where(AuditAlarm.kind == kind, AuditAlarm.subject == subject,
                                               AuditAlarm.cleared_at.is_(None)).values(cleared_at=utcnow()))
        with _emailed_lock:
            _emailed.pop((kind, subject), None)
    except Exception:  # noqa: BLE001 - as raise_alarm
        log.exception("could not clear the audit alarm %s", kind)
        db.session.remove()


def open_alarms() -> list[AuditAlarm]:
    return list(db.session().scalars(select(AuditAlarm).where(AuditAlarm.cleared_at.is_(None))
                                     .order_by(AuditAlarm.last_at.desc(), AuditAlarm.id.desc())
                                     .execution_options(populate_existing=True)))


def is_open(kind: str, subject: str = "") -> bool:
    return db.session().scalar(select(AuditAlarm.id).where(
        AuditAlarm.kind == kind, AuditAlarm.subject == subject, AuditAlarm.cleared_at.is_(None))) is not None


def _due_for_email(kind: str, subject: str, now: datetime) -> bool:
    with _emailed_lock:
        last = _emailed.get((kind, subject))
        if last is not None and now - last < EMAIL_EVERY:
            return False
        _emailed[(kind, subject)] = now
        return True
