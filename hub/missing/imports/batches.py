"""The police daily download: a batch's life, from the upload to done or failed.

A web upload never imports inside the request: `queue_file` checks the file's envelope, stores it
encrypted (`ImportFile`) with its batch "queued", and a worker (`run_queued`, each cycle of the
delivery worker) claims the batch with a lease (hub/missing/imports/claims.py), as the outbox is
claimed, and imports it as below, renewing the lease with each chunk; a worker that finds its lease
taken over stops. The stored file is deleted when the import ends. The CLI imports in the
foreground (`import_file`).

An import reads and checks the whole file first (hub/missing/imports/download.py), so a file that cannot
be read changes nothing but its own batch record (status failed, with the reason). Good rows are
then applied in chunks of CHUNK_ROWS, one transaction each (hub/missing/imports/rows.py), so a
50,000-row file never holds one huge transaction and the batch's progress (`rows_done`) is visible
to other requests as it goes. A row that matches no child waits in the review queue
(hub/missing/imports/review.py) until a person matches it to a child, creates the child, or
dismisses it.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import logging
import re
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden
from hub.missing.imports.claims import LEASE, _Claim, _ClaimLost, claim_batch
from hub.missing.imports.download import Limits, UnreadableFile, check_archive, read_download
from hub.missing.imports.mapping import _stored_mapping
from hub.missing.imports.rows import _apply_chunk, _Run, _summary_json
from hub.models.auth import User
from hub.models.missing import ImportBatch, ImportFile, ImportStatus
from hub.permissions import load_or_refuse, may_import, visible_clause

log = logging.getLogger(__name__)

#: Rows per transaction: bounds the transaction (and how long it holds the audit log's append
#: lock) and sets how often progress is committed.
CHUNK_ROWS = 500


# --- who may do what -------------------------------------------------------------------------------

def _force_of(actor: User) -> int:
    """The uploader's own force: only police officers of a police organisation import."""
    if not may_import(actor):
        audit.record_refusal(actor, "import-batch", None, action="import")
        raise Forbidden("Only police officers of a force can import its download")
    return actor.organisation_id


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
