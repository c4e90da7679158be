"""Operational data purged by age in days, and the worker's retention duty.

Operational data (failed sign-in attempts, sessions, a police download's stored file, and the
outbox's e-mails, hub.retention.destruction.purge_outbox) is the hub's own: it follows the hub's
host's schedule, is never reviewed row by row, and is purged when older than its days, unless a
standing legal hold names its class. Each purge that removes anything writes a destruction
certificate like any other (class, how many, rule; no row, no person).

`run_due` is what the delivery worker runs each cycle (hub/worker.py): destroy what the DPOs
approved (`destroy_approved`: the one destroy step, which refuses a held record) every cycle, and
the purges by age at most once an hour (they delete by a date: no need to ask every few seconds).
`retention destroy` on the command line does the same at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select

from hub import db
from hub.db import unit_of_work, utcnow
from hub.models.auth import Organisation, SignInAttempt, UserSession
from hub.models.missing import ImportBatch, ImportFile, ImportStatus
from hub.models.retention import RecordClass
from hub.models.roles import OrgKind
from hub.retention import destruction, rules
from hub.retention.holds import class_held
from hub.retention.scheduling import periods_of

#: How often the worker purges by age (the approved records it destroys every cycle).
PURGE_EVERY = 3600.0


@dataclass(frozen=True)
class _Purge:
    record_class: RecordClass
    model: type
    #: The rows past their days, given the moment their days began.
    old: object


def _old_attempts(before: datetime) -> ColumnElement[bool]:
    return SignInAttempt.at < before


def _old_sessions(before: datetime) -> ColumnElement[bool]:
    """Ended before, or (never ended) last used before: such a session has long expired."""
    return or_(UserSession.ended_at < before, UserSession.last_seen_at < before)


def _old_files(before: datetime) -> ColumnElement[bool]:
    """A stored download whose batch was uploaded before, unless a worker is importing it now."""
    return ImportFile.batch_id.in_(select(ImportBatch.id).where(ImportBatch.created_at < before,
                                                                ImportBatch.status != ImportStatus.running))


PURGES = (_Purge(RecordClass.sign_in_attempt, SignInAttempt, _old_attempts),
          _Purge(RecordClass.user_session, UserSession, _old_sessions),
          _Purge(RecordClass.import_file, ImportFile, _old_files))


def hub_host() -> int | None:
    """The hub's host organisation: whose schedule the operational data follows."""
    return db.session().scalar(select(Organisation.id).where(Organisation.kind == OrgKind.mace_host)
                               .order_by(Organisation.id).limit(1))


def purge_operational(now: datetime | None = None) -> list[destruction.Certificate]:
    """Purge each operational class (but the outbox's) past its days, unless held; one
    transaction and one certificate per class that lost rows."""
    now = now or utcnow()
    host = hub_host()
    certificates = []
    for purge in PURGES:
        if class_held(purge.record_class):
            continue
        key = (host, purge.record_class)
        period = periods_of({key})[key] if host else rules.DEFAULTS[purge.record_class].period
        with unit_of_work():
            count = db.session().execute(delete(purge.model).where(purge.old(now - timedelta(days=period)))
                                         .execution_options(synchronize_session=False)).rowcount
            if count:
                certificate = destruction.Certificate(host, purge.record_class, count,
                                                      rules.describe(purge.record_class, period), None)
                destruction._certify(certificate, None, None)  # the one certificate format
                certificates.append(certificate)
    return certificates


def destroy_and_purge(now: datetime | None = None) -> list[destruction.Certificate]:
    """Everything due now: approved records (not held), then operational data past its days."""
    certificates = destruction.destroy_approved(now)
    outbox = destruction.purge_outbox(now)
    return certificates + ([outbox] if outbox else []) + purge_operational(now)


_last_purge: list[float] = []
_last_purge_lock = threading.Lock()


def _purge_due(clock=time.monotonic) -> bool:
    with _last_purge_lock:
        if _last_purge and clock() - _last_purge[0] < PURGE_EVERY:
            return False
        _last_purge[:] = [clock()]
        return True


def run_due() -> int:
    """The worker's "retention" duty: how many records it destroyed or purged this cycle."""
    certificates = destroy_and_purge() if _purge_due() else destruction.destroy_approved()
    return sum(c.count for c in certificates)
