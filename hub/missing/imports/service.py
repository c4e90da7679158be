"""The police daily download: importing a file, the review queue, and a force's column headings.

A web upload never imports inside the request: `queue_file` checks the file's envelope, stores it
encrypted (`ImportFile`) with its batch "queued", and a worker (`run_queued`, each cycle of the
delivery worker) claims the batch with a lease, as the outbox is claimed, and imports it as below,
renewing the lease with each chunk; a worker that finds its lease taken over stops. The stored
file is deleted when the import ends. The CLI imports in the foreground (`import_file`).

An import reads and checks the whole file first (hub/missing/imports/download.py), so a file that cannot
be read changes nothing but its own batch record (status failed, with the reason). Good rows are
then applied in chunks of CHUNK_ROWS, one transaction each, so a 50,000-row file never holds one
huge transaction and the batch's progress (`rows_done`) is visible to other requests as it goes.
Inside a chunk each row runs in its own savepoint (`session.begin_nested()`): a row the service
refuses, or one that hits a database error, is rolled back alone and reported by row number,
and the rows around it still import. A row that matches no child waits in the review queue,
its values encrypted, until a person matches it to a child, creates the child, or dismisses it.

Every row goes through `service.match_child` and the service's rules, the same as the API: a chunk's
new episodes (of children the hub knows, with no review row to answer) together through
`service.create_episodes`, the one path that creates episodes (the API's single row and a
practitioner's form are a list of one), with a fixed number of statements per chunk, and every
other row through `service.apply_police_record` in its own savepoint. If the chunk's insert hits a
database error its savepoint is rolled back and those rows go one by one (each a list of one), so
one bad row still fails alone. The only
shortcut is a row that would change nothing: it is counted as unchanged without calling the
service, after the same comparison the service makes (so re-importing a file costs little and
writes nothing but its batch record and audit event).
"""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import json
import logging
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from hub import db
from hub.audit import service as audit
from hub.crypto import blind_index, normalise_identifier
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.missing import service
from hub.missing.imports.download import (
    COLUMN_BY_FIELD,
    NEW_REPORT_NEEDS_CHILD,
    Limits,
    ParsedRow,
    RowError,
    UnreadableFile,
    check_archive,
    check_mapping,
    headings_for,
    read_download,
    template_bytes,
)
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.missing import (
    ColumnMapping,
    EpisodeSource,
    ImportBatch,
    ImportFile,
    ImportReviewItem,
    ImportStatus,
    MissingEpisode,
    ReviewStatus,
)
from hub.models.people import Child, ChildIdentifier, Gender, IdentifierKind
from hub.models.roles import OrgKind
from hub.notifications.routing import current_school
from hub.people import service as people
from hub.permissions import (
    child_bases,
    load_or_refuse,
    may_administer,
    may_import,
    may_import_downloads,
    refuse,
    visible_clause,
)

log = logging.getLogger(__name__)

#: Rows per transaction: bounds the transaction (and how long it holds the audit log's append
#: lock) and sets how often progress is committed.
CHUNK_ROWS = 500
COUNT_KEYS = ("created", "updated", "unchanged", "review", "dismissed", "errors")

DISMISS_REASONS = {
    "not_a_child": "Not a child: the person is 18 or over",
    "duplicate": "A duplicate of another report",
    "not_our_area": "Not a child of the hub's partnership area",
    "test_record": "A test or training record",
    "withdrawn": "The report was withdrawn or made in error",
}


# --- who may do what -------------------------------------------------------------------------------

def _force_of(actor: User) -> int:
    """The uploader's own force: only police officers of a police organisation import."""
    if not may_import(actor):
        audit.record_refusal(actor, "import-batch", None, action="import")
        raise Forbidden("Only police officers of a force can import its download")
    return actor.organisation_id


# --- importing ---------------------------------------------------------------------------------------

@dataclass
class _Run:
    """One import in progress: counts and errors so far (no personal data)."""

    batch: ImportBatch
    actor: User
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[RowError] = field(default_factory=list)
    claim: _Claim | None = None  # a worker's lease on the batch, renewed with every chunk


def import_file(actor: User, data: bytes, filename: str, limits: Limits | None = None,
                progress: Callable[[int, int], None] | None = None) -> ImportBatch:
    """Import a download for the actor's force now, in this process (the CLI). Always returns the
    batch: status done (with counts and row errors) or failed (with the reason, and nothing else
    stored). The web upload queues the file instead (queue_file) for a worker (run_queued)."""
    police_org_id = _force_of(actor)
    batch = _new_batch(actor, police_org_id, data, filename, ImportStatus.running)
    with _long_lived_objects_frozen():
        _import(actor, batch, data, limits, progress)
    return batch


def _new_batch(actor: User, police_org_id: int, data: bytes, filename: str, status: ImportStatus) -> ImportBatch:
    """The batch, and for a queued one the file itself (encrypted) in the same commit."""
    digest = hashlib.sha256(data).hexdigest()
    queued = status == ImportStatus.queued
    with unit_of_work() as s:
        batch = ImportBatch(police_org_id=police_org_id, uploaded_by_user_id=actor.id,
                            filename=_clean_filename(filename), sha256=digest, status=status)
        s.add(batch)
        s.flush()
        if queued:
            s.add(ImportFile(batch_id=batch.id, data=base64.b64encode(data).decode("ascii")))
        # No file name in the log: it is the uploader's free text.
        audit.record("import", actor=actor, object_type="import-batch", object_id=batch.id,
                     detail={"stage": "queued" if queued else "started", "force": police_org_id,
                             "sha256": digest, "bytes": len(data)})
    return batch


# --- importing in the background -------------------------------------------------------------------

#: How long a worker's claim keeps other workers off a batch. Renewed with every chunk, so only a
#: worker that died (or stalled this long) loses its batch; another then imports it again from
#: the start, which is safe: rows already applied count as unchanged.
LEASE = timedelta(minutes=10)


def queue_file(actor: User, data: bytes, filename: str, limits: Limits | None = None) -> ImportBatch:
    """The web upload: check at once what needs no parsing (size, a zip holding a workbook, no
    encryption, no bomb), store the file encrypted and leave its rows to a worker, so no request
    waits for thousands of rows. Returns the batch: queued, or failed with the reason."""
    police_org_id = _force_of(actor)
    try:
        check_archive(data, limits or Limits.from_env())
    except UnreadableFile as exc:
        batch = _new_batch(actor, police_org_id, data, filename, ImportStatus.running)
        _fail(actor, batch, exc.reason)
        return batch
    return _new_batch(actor, police_org_id, data, filename, ImportStatus.queued)


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


def run_queued(worker: str, limits: Limits | None = None, between_chunks: Callable[[], object] | None = None,
               lease: timedelta = LEASE) -> ImportBatch | None:
    """Claim one queued batch and import it (the delivery worker calls this each cycle, sending
    the e-mails of each chunk in `between_chunks`). None when nothing waits."""
    batch_id = claim_batch(worker, lease)
    if batch_id is None:
        return None
    s = db.session()
    batch = s.get(ImportBatch, batch_id, populate_existing=True)
    stored = s.get(ImportFile, batch_id)
    uploader = s.get(User, batch.uploaded_by_user_id) if batch.uploaded_by_user_id else None
    if stored is None or not (uploader is not None and uploader.is_active and may_import(uploader)
                              and uploader.organisation_id == batch.police_org_id):
        _fail(uploader, batch, "The import could not start: the file is gone, or the officer who uploaded it "
                               "may no longer import for the force. Upload the file again.")
        return batch
    data = base64.b64decode(stored.data)
    s.expunge(stored)  # not held in the session while the rows are applied
    with unit_of_work():
        audit.record("import", actor=uploader, object_type="import-batch", object_id=batch.id,
                     detail={"stage": "started", "worker": worker[:100]})
    progress = (lambda _done, _total: between_chunks()) if between_chunks else None
    with _long_lived_objects_frozen():
        _import(uploader, batch, data, limits, progress, _Claim(worker[:100], lease))
    return batch


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


@contextmanager
def _long_lived_objects_frozen():
    """While a file imports, the cyclic garbage collector leaves alone the objects that existed
    before (the application's modules, mappers and caches: about 150,000): an import allocates
    hundreds of thousands of short-lived ones, and every full collection would walk them all,
    about a third of a large import's time. unfreeze() hands them back to the collector, so
    nothing is kept that would otherwise be freed. (Process-wide but harmless to other threads:
    their garbage is only collected later.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _import(actor: User, batch: ImportBatch, data: bytes, limits: Limits | None,
            progress: Callable[[int, int], None] | None, claim: _Claim | None = None) -> None:
    """Read the whole file, then apply its rows chunk by chunk, each chunk committing the
    progress (rows done, counts and errors so far) the batch page shows."""
    try:
        download = read_download(data, _stored_mapping(batch.police_org_id), limits)
    except UnreadableFile as exc:
        _fail(actor, batch, exc.reason)
        return
    run = _Run(batch, actor, errors=list(download.errors), claim=claim)
    run.counts["errors"] = download.error_rows
    with unit_of_work():
        batch.rows_total = download.rows_total
        batch.rows_done = download.error_rows  # rows refused on reading are done with
        batch.summary, batch.row_errors = _summary_json(run)
    if progress:
        progress(batch.rows_done, batch.rows_total)
    for start in range(0, len(download.rows), CHUNK_ROWS):
        chunk = download.rows[start:start + CHUNK_ROWS]
        counts, errors = dict(run.counts), len(run.errors)
        try:
            _apply_chunk(run, chunk)
        except _ClaimLost:
            log.warning("import batch %s: another worker took it over; this one stops", batch.id)
            return
        except Exception:  # noqa: BLE001 - a bug or an outage: the chunk rolled back, the batch says so
            log.exception("import batch %s stopped in the chunk starting at row %s", batch.id, chunk[0].row_number)
            run.counts, run.errors = counts, run.errors[:errors]  # the chunk's rows were rolled back
            _fail(actor, batch, f"The import stopped at row {chunk[0].row_number} because of an error in the hub; "
                                "the rows before it were imported. Import the file again to finish.", run)
            return
        if progress:
            progress(batch.rows_done, batch.rows_total)
    _finish(run)


def _clean_filename(filename: str | None) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or "download.xlsx")[:200]


def _apply_chunk(run: _Run, chunk: list[ParsedRow]) -> None:
    batch = run.batch
    with unit_of_work() as s, _holding_loaded_objects(s):
        # A write before the first savepoint, on purpose: pysqlite opens its transaction only at
        # the first write, and a SAVEPOINT before that is the outermost one, whose RELEASE would
        # commit each row on its own. It is also the progress other pages read.
        if run.claim is not None:
            _renew(batch, run.claim)
        batch.rows_done += len(chunk)
        batch.summary = json.dumps(run.counts)
        s.flush()
        refs = [row.reference for row in chunk]
        episodes = {e.police_reference: e for e in s.scalars(select(MissingEpisode).where(
            MissingEpisode.police_org_id == batch.police_org_id, MissingEpisode.police_reference.in_(refs)))}
        reviews = {i.police_reference: i for i in s.scalars(select(ImportReviewItem).where(
            ImportReviewItem.police_org_id == batch.police_org_id, ImportReviewItem.police_reference.in_(refs)))}
        by_police_id = _children_by_police_id([row.police_id for row in chunk if row.police_id])
        todo: list[tuple[ParsedRow, int | None, ImportReviewItem | None]] = []
        for row in chunk:
            episode = episodes.get(row.reference)
            child_id = by_police_id.get(row.police_id) if row.police_id else None
            if child_id is None:
                child_id = service.match_child(row.police_id, row.nhs_number, row.given_name, row.family_name,
                                               row.date_of_birth)
            if child_id is None and episode is not None:
                child_id = episode.child_id  # a reviewed row: its episode says whose it is
            item = reviews.get(row.reference)
            if (episode is not None and episode.child_id == child_id and _unchanged(episode, row)
                    and (item is None or item.status != ReviewStatus.waiting)):
                run.counts["unchanged"] += 1  # nothing to write, so no savepoint either
            else:
                todo.append((row, child_id, item))
        # New episodes of known children, with no review row to answer, go in bulk; updates and
        # anything else keep the per-row path (and a row the bulk path hands back joins them).
        new: list[tuple[ParsedRow, int]] = []
        one_by_one: list[tuple[ParsedRow, int | None, ImportReviewItem | None]] = []
        for row, child_id, item in todo:
            if child_id is not None and item is None and row.reference not in episodes:
                new.append((row, child_id))
            else:
                one_by_one.append((row, child_id, item))
        if new:
            one_by_one += [(row, child_id, None) for row, child_id in _apply_new_in_bulk(run, new)]
        wanted = {child_id for _, child_id, _ in one_by_one if child_id is not None}
        if wanted:  # loaded once for the chunk (and held), not twice per row by the service
            s.scalars(select(Child).where(Child.id.in_(wanted))).all()
        for row, child_id, item in one_by_one:
            run.counts[_apply_in_savepoint(run, row, child_id, item, episodes, reviews)] += 1
        batch.summary, batch.row_errors = _summary_json(run)  # the counts and errors so far


def _apply_new_in_bulk(run: _Run, new: list[tuple[ParsedRow, int]]) -> list[tuple[ParsedRow, int]]:
    """The chunk's new episodes through service.create_episodes, in one savepoint. Returns
    the rows left for the per-row path: all of them when the bulk insert hit a database error (so
    one bad row cannot lose the others: one by one, it alone fails), else those it found already
    recorded. Rows the service refuses are reported by number, as the per-row path does."""
    savepoint = db.session().begin_nested()
    try:
        results = service.create_episodes(run.actor, run.batch.police_org_id,
                                          [(child_id, row.details) for row, child_id in new],
                                          EpisodeSource.police_download)
        savepoint.commit()
    except SQLAlchemyError:
        savepoint.rollback()
        log.warning("import batch %s: the bulk insert of %s new rows failed; applying them one by one",
                    run.batch.id, len(new))
        return new
    left = []
    for (row, child_id), result in zip(new, results, strict=True):
        if isinstance(result, Invalid):
            run.errors.extend(RowError(row.row_number, _reason(name, message))
                              for name, message in result.errors.items())
            run.counts["errors"] += 1
        elif result is service.NOT_NEW:
            left.append((row, child_id))
        else:
            run.counts["created"] += 1
    return left


def _apply_in_savepoint(run: _Run, row: ParsedRow, child_id: int | None, item: ImportReviewItem | None,
                        episodes: dict[str, MissingEpisode], reviews: dict[str, ImportReviewItem]) -> str:
    """One row in its own savepoint: a refused row is rolled back alone and reported by number."""
    if child_id is None and not row.identifies_child:
        # A row of a report the hub holds needs nothing but its reference: its episode, or its
        # waiting review row, says whose it is. A new report must say who the child is
        # (download.CHILD_KEYS, as the template's Guidance sheet says).
        if item is None:
            run.errors.append(RowError(row.row_number, NEW_REPORT_NEEDS_CHILD))
            return "errors"
        if item.status == ReviewStatus.waiting:
            row = _with_identity_of(item, row)
    savepoint = db.session().begin_nested()
    try:
        if child_id is None:
            outcome = _queue(run, row, item, reviews)
        else:
            outcome = _apply_row(run, row, child_id, item, episodes)
        savepoint.commit()
        return outcome
    except Invalid as exc:
        savepoint.rollback()
        run.errors.extend(RowError(row.row_number, _reason(name, message)) for name, message in exc.errors.items())
    except SQLAlchemyError:
        savepoint.rollback()
        log.warning("import batch %s: row %s could not be stored", run.batch.id, row.row_number)
        run.errors.append(RowError(row.row_number, "Row: it could not be stored (a database error); "
                                                   "import the file again"))
    return "errors"


def _with_identity_of(item: ImportReviewItem, row: ParsedRow) -> ParsedRow:
    """A later row of a waiting report, carrying the child's details the first row gave."""
    first = ParsedRow.from_json(item.row_number, json.loads(item.row_data))
    return dataclasses.replace(row, police_id=first.police_id, nhs_number=first.nhs_number,
                               given_name=first.given_name, family_name=first.family_name,
                               date_of_birth=first.date_of_birth)


@contextmanager
def _holding_loaded_objects(session):
    """Keep every object loaded during a chunk alive until the chunk ends. The identity map
    holds objects only while something refers to them, so the child the service checks and the
    key adults it routes to would be loaded again, with their relationships, for every row."""
    held: list = []

    def hold(_session, instance) -> None:
        held.append(instance)

    event.listen(session, "loaded_as_persistent", hold)
    try:
        yield held
    finally:
        event.remove(session, "loaded_as_persistent", hold)


def _children_by_police_id(values: list[str]) -> dict[str, int]:
    """The first of match_child's keys for a whole chunk in one query: the same keyed-hash lookup
    as hub.people.service.child_ids_by_identifier, done for many values at once."""
    if not values:
        return {}
    hashes = {blind_index(IdentifierKind.police_id.value, normalise_identifier(v)): v for v in set(values)}
    found: dict[str, int] = {}
    for child_id, lookup in db.session().execute(
            select(ChildIdentifier.child_id, ChildIdentifier.lookup_hash)
            .where(ChildIdentifier.kind == IdentifierKind.police_id, ChildIdentifier.lookup_hash.in_(list(hashes)))
            .order_by(ChildIdentifier.id)):
        found.setdefault(hashes[lookup], child_id)
    return found


def _changes(row: ParsedRow) -> service.EpisodeChanges:
    """The change apply_police_record makes from a row (the same fields, the same way)."""
    d = row.details
    return service.EpisodeChanges(reported_start=d.reported_start, classification=d.classification,
                                  risk_grade=d.risk_grade, found_at=d.found_at, found_where=d.found_where or None)


def _unchanged(episode: MissingEpisode, row: ParsedRow) -> bool:
    return all(getattr(episode, name) == value for name, value in _changes(row).given().items())


def _apply_row(run: _Run, row: ParsedRow, child_id: int, item: ImportReviewItem | None,
               episodes: dict[str, MissingEpisode]) -> str:
    batch = run.batch
    result = service.apply_police_record(run.actor, batch.police_org_id, child_id, row.details,
                                         EpisodeSource.police_download)
    episodes[row.reference] = result.episode
    if item is not None and item.status == ReviewStatus.waiting:
        # The child has since become known (a later file carries an identifier, or the child was
        # added): the waiting row is answered by this one.
        _resolve(run.actor, item, ReviewStatus.matched, child_id, result.episode.id, how="import")
    return result.outcome


def _queue(run: _Run, row: ParsedRow, item: ImportReviewItem | None,
           reviews: dict[str, ImportReviewItem]) -> str:
    """A row no child matches waits for a person; the same row imported again is not queued twice."""
    data = json.dumps(row.to_json(), sort_keys=True)
    batch = run.batch
    if item is None:
        item = ImportReviewItem(batch_id=batch.id, row_number=row.row_number, police_org_id=batch.police_org_id,
                                police_reference=row.reference, row_data=data, status=ReviewStatus.waiting)
        db.session().add(item)
        db.session().flush()
        reviews[row.reference] = item
        audit.record("create", actor=run.actor, object_type="import-review-item", object_id=item.id,
                     detail={"batch": batch.id, "row": row.row_number})
        return "review"
    if item.status != ReviewStatus.waiting:
        # Dismissed by a person: the same report stays dismissed. (A matched or created row has an
        # episode, so its later rows never get here.)
        return "dismissed"
    if item.row_data != data:  # a later file says more (found, risk): the waiting row keeps the latest
        item.row_data, item.batch_id, item.row_number = data, batch.id, row.row_number
        audit.record("update", actor=run.actor, object_type="import-review-item", object_id=item.id,
                     detail={"batch": batch.id, "row": row.row_number, "change": "newer row"})
    return "review"


def _reason(name: str, message: str) -> str:
    column = COLUMN_BY_FIELD.get(name)
    return f"{column.heading if column else 'Row'}: {message}"


def _summary_json(run: _Run) -> tuple[str, str]:
    errors = sorted(run.errors, key=lambda e: e.row)
    return json.dumps(run.counts), json.dumps([e.as_dict() for e in errors])


def _finished(batch: ImportBatch) -> None:
    """The file is deleted once its import ends (only its SHA-256 stays); the claim ends too."""
    batch.claimed_until = None
    db.session().execute(delete(ImportFile).where(ImportFile.batch_id == batch.id))


def _finish(run: _Run) -> None:
    batch = run.batch
    with unit_of_work():
        _finished(batch)
        batch.summary, batch.row_errors = _summary_json(run)
        batch.rows_done = batch.rows_total
        batch.status = ImportStatus.done
        batch.finished_at = utcnow()
        audit.record("import", actor=run.actor, object_type="import-batch", object_id=batch.id,
                     detail={"stage": "finished", **run.counts})


def _fail(actor: User, batch: ImportBatch, reason: str, run: _Run | None = None) -> None:
    with unit_of_work():
        _finished(batch)
        batch.status = ImportStatus.failed
        batch.finished_at = utcnow()
        if run is not None:
            batch.summary, batch.row_errors = _summary_json(run)
        summary = json.loads(batch.summary or "{}")
        summary["failure"] = reason
        batch.summary = json.dumps(summary)
        audit.record("import", actor=actor, outcome="failed", object_type="import-batch", object_id=batch.id,
                     detail={"stage": "failed", "reason": reason})


# --- batches ---------------------------------------------------------------------------------------

def get_batch(actor: User, batch_id: int) -> ImportBatch:
    """A batch, for an officer of its force or an administrator (it holds no personal data)."""
    return load_or_refuse(actor, ImportBatch, batch_id)


def recent_batches(actor: User, limit: int = 20) -> list[ImportBatch]:
    return list(db.session().scalars(select(ImportBatch).where(visible_clause(actor, ImportBatch))
                                     .order_by(ImportBatch.id.desc()).limit(limit)))


def progress_text(batch: ImportBatch) -> str:
    """What the batch page says of an import, while it waits, runs and once it has ended."""
    errors = summary_of(batch).get("errors", 0)
    with_errors = f", {errors:,} with errors" if errors else ""
    if batch.status == ImportStatus.queued:
        return "Queued: the file is stored and waits for the import worker to start."
    if batch.status == ImportStatus.running:
        if not batch.rows_total:
            return "Reading the file."
        return f"Importing: {batch.rows_done:,} of {batch.rows_total:,} rows done{with_errors} so far."
    if batch.status == ImportStatus.failed:
        return "The import failed."
    return f"The import has finished: {batch.rows_total:,} rows{with_errors}."


def summary_of(batch: ImportBatch) -> dict:
    return json.loads(batch.summary or "{}")


def errors_of(batch: ImportBatch) -> list[dict]:
    return json.loads(batch.row_errors or "[]")


# --- the review queue --------------------------------------------------------------------------------

@dataclass
class ReviewRow:
    item: ImportReviewItem
    row: ParsedRow
    force: Organisation


def _review_row(item: ImportReviewItem) -> ReviewRow:
    return ReviewRow(item, ParsedRow.from_json(item.row_number, json.loads(item.row_data)),
                     db.session().get(Organisation, item.police_org_id))


def review_queue(actor: User, limit: int = 200) -> list[ReviewRow]:
    """Waiting rows: of the officer's own force, or of every force for an administrator. The
    page shows the names the force sent, so it is an audited read."""
    if not may_import_downloads(actor):
        refuse(actor, "import-review-item", None)
    items = list(db.session().scalars(
        select(ImportReviewItem).where(ImportReviewItem.status == ReviewStatus.waiting,
                                       visible_clause(actor, ImportReviewItem))
        .order_by(ImportReviewItem.id).limit(limit)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="import-review-list",
                     detail={"items": [i.id for i in items]})
    return [_review_row(i) for i in items]


def _item_for(actor: User, item_id: int, action: str) -> ImportReviewItem:
    return load_or_refuse(actor, ImportReviewItem, item_id, action=action)


def get_review_item(actor: User, item_id: int) -> ReviewRow:
    item = _item_for(actor, item_id, "read")
    with unit_of_work():
        audit.record("read", actor=actor, object_type="import-review-item", object_id=item.id,
                     child_id=item.child_id)
    return _review_row(item)


@dataclass
class CandidateSearch:
    """What a reviewer knows. Exact keys only (an identifier, or full name and date of birth):
    the reviewer may not know the child yet, so this is a lookup, not a browse."""

    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    identifier: str = ""

    @property
    def given(self) -> bool:
        return bool(self.identifier.strip() or (self.given_name.strip() and self.family_name.strip()
                                                and self.date_of_birth))


@dataclass
class Candidate:
    """A child the row may be about. The reviewer sees which of the row's own details the child's
    record has (`matches`); the child's name, date of birth and school only when they may see the
    child already (`child` is None otherwise): a lookup by an exact key must not tell a force's
    officer about a child they hold no relationship to (hub.permissions)."""

    child_id: int
    matches: list[str]
    child: Child | None = None
    school: Organisation | None = None


#: The row's details a candidate is compared on, in the order the page lists them.
_COMPARED = {"given name": lambda row, child: _same(row.given_name, child.given_name),
             "family name": lambda row, child: _same(row.family_name, child.family_name),
             "date of birth": lambda row, child: row.date_of_birth is not None
             and row.date_of_birth == child.date_of_birth,
             "NHS number": lambda row, child: _same_identifier(row.nhs_number,
                                                               child.identifier(IdentifierKind.nhs_number)),
             "police id": lambda row, child: _same_identifier(row.police_id,
                                                              child.identifier(IdentifierKind.police_id))}


def _same(given: str | None, recorded: str | None) -> bool:
    return bool(given and recorded) and given.strip().casefold() == recorded.strip().casefold()


def _same_identifier(given: str | None, recorded: str | None) -> bool:
    return bool(given and recorded) and normalise_identifier(given) == normalise_identifier(recorded)


def _candidate_ids(row: ParsedRow, search: CandidateSearch | None) -> list[int]:
    if search is not None and search.given:
        if search.identifier.strip():
            found: list[int] = []
            for kind in IdentifierKind:
                found += [c for c in people.child_ids_by_identifier(kind, search.identifier.strip()) if c not in found]
            return found
        return people.child_ids_by_name(search.given_name, search.family_name, search.date_of_birth)
    # Without a search: children with the row's own name and date of birth (matching stopped
    # because there were several, or the row's identifiers are not recorded yet).
    if row.given_name and row.family_name and row.date_of_birth:
        return people.child_ids_by_name(row.given_name, row.family_name, row.date_of_birth)
    return []


def candidates(actor: User, item_id: int, search: CandidateSearch | None = None) -> list[Candidate]:
    """Children the row may be about, for the reviewer to choose; each one shown is audited."""

    item = _item_for(actor, item_id, "read")
    if item.status != ReviewStatus.waiting:
        return []
    row = _review_row(item).row
    ids = _candidate_ids(row, search)[:20]
    children = list(db.session().scalars(select(Child).where(Child.id.in_(ids)).order_by(Child.id))) if ids else []
    known = child_bases(actor, [c.id for c in children])
    with unit_of_work():
        audit.record("read", actor=actor, object_type="child-list", basis="import-review",
                     purpose="match a police download row", detail={"item": item.id},
                     children=[c.id for c in children])
    return [Candidate(c.id, [name for name, same in _COMPARED.items() if same(row, c)],
                      c if c.id in known else None, current_school(c.id) if c.id in known else None)
            for c in children]


def _waiting(item: ImportReviewItem) -> None:
    if item.status != ReviewStatus.waiting:
        raise Invalid({"": "This row has already been dealt with"})


def match_item(actor: User, item_id: int, child_id: int, search: CandidateSearch | None = None) -> MissingEpisode:
    """The reviewer says whose row it is; the row is then applied (episode, school told). The
    child must be one the same search finds: a reviewer cannot attach a report to any child id."""
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    row = _review_row(item).row
    if child_id not in _candidate_ids(row, search):
        raise Invalid({"child_id": "Choose a child from the search results"})
    with unit_of_work():
        episode = _apply_reviewed(actor, item, row, child_id)
        _resolve(actor, item, ReviewStatus.matched, child_id, episode.id, how="person")
    return episode


def create_child_for_item(actor: User, item_id: int, gender: Gender) -> MissingEpisode:
    """No such child is recorded: create the child from the row, then apply it."""
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    row = _review_row(item).row
    if not (row.given_name and row.family_name and row.date_of_birth):
        raise Invalid({"": "The row has no full name and date of birth, so the hub cannot create the child: "
                           "find the child and match the row instead"})
    identifiers = {kind: value for kind, value in ((IdentifierKind.police_id, row.police_id),
                                                   (IdentifierKind.nhs_number, row.nhs_number)) if value}
    with unit_of_work():
        # Only an administrator creates children in their own name; for a police officer the
        # record is created by the import (as the CLI does) and the review event names them.
        child = people.create_child(actor if may_administer(actor) else None, people.ChildDetails(
            given_name=row.given_name, family_name=row.family_name, date_of_birth=row.date_of_birth,
            gender=gender, identifiers=identifiers))
        episode = _apply_reviewed(actor, item, row, child.id)
        _resolve(actor, item, ReviewStatus.created, child.id, episode.id, how="person")
    return episode


def _apply_reviewed(actor: User, item: ImportReviewItem, row: ParsedRow, child_id: int) -> MissingEpisode:
    try:
        result = service.apply_police_record(actor, item.police_org_id, child_id, row.details,
                                             EpisodeSource.police_download)
    except Invalid as exc:
        raise Invalid({"": "; ".join(_reason(name, message) for name, message in exc.errors.items())}) from None
    return result.episode


def _resolve(actor: User, item: ImportReviewItem, status: ReviewStatus, child_id: int | None,
             episode_id: int | None, how: str, reason: str | None = None) -> None:
    item.status, item.child_id, item.episode_id = status, child_id, episode_id
    item.resolved_by_user_id, item.resolved_at = actor.id, utcnow()
    detail = {"outcome": status.value, "by": how}
    if episode_id:
        detail["episode"] = episode_id
    if reason:
        detail["reason"] = reason  # a code from DISMISS_REASONS, never free text
    audit.record("update", actor=actor, object_type="import-review-item", object_id=item.id, child_id=child_id,
                 basis="police-report" if child_id else None, detail=detail)


def dismiss_item(actor: User, item_id: int, reason: str) -> None:
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    if reason not in DISMISS_REASONS:
        raise Invalid({"reason": "Choose why the row is dismissed"})
    with unit_of_work():
        _resolve(actor, item, ReviewStatus.dismissed, None, None, how="person", reason=reason)


def dismissal_reason(item_id: int) -> str | None:
    """The reason a row was dismissed: kept in the audit event (the model has no column for it)."""
    detail = db.session().scalar(select(AuditEvent.detail).where(
        AuditEvent.object_type == "import-review-item", AuditEvent.object_id == str(item_id),
        AuditEvent.action == "update").order_by(AuditEvent.id.desc()).limit(1))
    code = json.loads(detail).get("reason") if detail else None
    return DISMISS_REASONS.get(code) if code else None


# --- a force's column headings --------------------------------------------------------------------------

def _stored_mapping(police_org_id: int) -> dict[str, str]:
    stored = db.session().scalar(select(ColumnMapping.mapping).where(ColumnMapping.police_org_id == police_org_id))
    return json.loads(stored) if stored else {}


def headings(police_org_id: int) -> dict[str, str]:
    """Field -> heading for the force: its own where set, else the template's."""
    return headings_for(_stored_mapping(police_org_id))


def _require_force(police_org_id: int) -> Organisation:
    force = db.session().get(Organisation, police_org_id)
    if force is None or force.kind != OrgKind.police:
        raise Invalid({"police_org_id": "Choose a police force"})
    return force


def mapping_of(actor: User, police_org_id: int) -> dict[str, str]:
    if not may_administer(actor):
        audit.record_refusal(actor, "import-column-mapping", police_org_id)
        raise NotFound("mapping not found")
    _require_force(police_org_id)
    return headings(police_org_id)


def save_mapping(actor: User, police_org_id: int, given: dict[str, str]) -> ColumnMapping:
    """An administrator sets the headings of a force whose export differs from the template.
    An optional column left empty means the force's export does not have it."""
    if not may_administer(actor):
        audit.record_refusal(actor, "import-column-mapping", police_org_id, action="update")
        raise NotFound("mapping not found")
    _require_force(police_org_id)
    cleaned = {name: re.sub(r"\s+", " ", (given.get(name) or "")).strip() for name in COLUMN_BY_FIELD}
    errors = check_mapping(cleaned)
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        mapping = s.scalar(select(ColumnMapping).where(ColumnMapping.police_org_id == police_org_id))
        created = mapping is None
        if created:
            mapping = ColumnMapping(police_org_id=police_org_id, mapping="{}")
            s.add(mapping)
        old = json.loads(mapping.mapping or "{}")
        mapping.mapping = json.dumps(cleaned, sort_keys=True)
        mapping.updated_by_user_id = actor.id
        s.flush()
        changed = sorted(name for name in cleaned if headings_for(old).get(name) != cleaned[name])
        audit.record("create" if created else "update", actor=actor, object_type="import-column-mapping",
                     object_id=mapping.id, detail={"force": police_org_id, "changed": changed})
    return mapping


def template(police_org_id: int | None = None) -> bytes:
    """The blank download: the hub's headings, or a force's own."""
    return template_bytes(headings(police_org_id) if police_org_id else None)
