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
    """Claim the oldest claimable batch for `worker` and commit, as the outbox is claimed
    (hub/notifications/delivery.py): SKIP LOCKED on PostgreSQL, and on SQLite a conditional
    UPDATE that only one worker's rowcount can win."""
    now = now or utcnow()
    b = ImportBatch
    with unit_of_work() as s:
        candidates = select(b.id).where(_claimable(now)).order_by(b.id)
        if s.get_bind().dialect.name == "postgresql":
            ids = list(s.scalars(candidates.limit(1).with_for_update(skip_locked=True)))
        else:
            ids = list(s.scalars(candidates.limit(10)))
        for batch_id in ids:
            won = s.execute(update(b).where(b.id == batch_id, _claimable(now)).values(
                status=ImportStatus.running, claimed_by=worker[:100], claimed_until=now + lease),
                execution_options={"synchronize_session": False}).rowcount
            if won:
                return batch_id
    return None


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
