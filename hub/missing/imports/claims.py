"""A worker's claim on a queued import batch: a lease, taken as the outbox is claimed, renewed with
every chunk, and lost to another worker only when it lapses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from hub import db
from hub.db import unit_of_work, utcnow
from hub.models.missing import ImportBatch, ImportStatus

# --- importing in the background -------------------------------------------------------------------

#: How long a worker's claim keeps other workers off a batch. Renewed with every chunk, so only a
#: worker that died (or stalled this long) loses its batch; another then imports it again from
#: the start, which is safe: rows already applied count as unchanged.
LEASE = timedelta(minutes=10)


def _claimable(now: datetime):
    """Queued, or running under a lease that has lapsed (its worker died). A batch the CLI
    imports has no lease, so no worker ever takes it."""
    b = ImportBatch
    return or_(b.status == ImportStatus.queued,
               and_(b.status == ImportStatus.running, b.claimed_until.is_not(None), b.claimed_until < now))


def claim_batch(worker: str, lease: timedelta = LEASE, now: datetime | None = None) -> int | None:
    """Claim the oldest claimable batch for `worker` and commit. One statement, the queue idiom:
    UPDATE the row that a subquery picks `FOR UPDATE SKIP LOCKED`, RETURNING its id. On PostgreSQL
    workers skip each other's locked rows and never wait; SQLite has no row locks (SQLAlchemy
    leaves the clause out) and runs the whole UPDATE under its write lock, so of two workers the
    second picks after the first has committed. Either way no worker can lose a batch it picked."""
    now = now or utcnow()
    b = ImportBatch
    oldest = (select(b.id).where(_claimable(now)).order_by(b.id).limit(1)
              .with_for_update(skip_locked=True).scalar_subquery())
    with unit_of_work() as s:
        return s.scalar(update(b).where(b.id == oldest).values(
            status=ImportStatus.running, claimed_by=worker[:100], claimed_until=now + lease)
            .returning(b.id).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class _Claim:
    worker: str
    lease: timedelta


class _ClaimLost(Exception):
    """Another worker took the batch over (this one's lease had lapsed): stop, it carries on."""


def _renew(batch: ImportBatch, claim: _Claim) -> None:
    """Extend the lease, or learn that it is lost, before a chunk writes anything."""
    b = ImportBatch
    won = db.session().execute(
        update(b).where(b.id == batch.id, b.claimed_by == claim.worker, b.status == ImportStatus.running)
        .values(claimed_until=utcnow() + claim.lease), execution_options={"synchronize_session": False}).rowcount
    if not won:
        raise _ClaimLost
