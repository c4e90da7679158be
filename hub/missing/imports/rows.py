"""Applying a police download's rows, one chunk per transaction.

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

import dataclasses
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError

from hub import db
from hub.audit import service as audit
from hub.crypto import blind_index, normalise_identifier
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.missing import details as missing_details
from hub.missing import service
from hub.missing.imports.claims import _Claim, _renew
from hub.missing.imports.download import NEW_REPORT_NEEDS_CHILD, ParsedRow, RowError
from hub.missing.imports.review import _reason, _resolve
from hub.models.auth import User
from hub.models.missing import EpisodeSource, ImportBatch, ImportReviewItem, MissingEpisode, ReviewStatus
from hub.models.people import Child, ChildIdentifier, IdentifierKind

log = logging.getLogger(__name__)

COUNT_KEYS = ("created", "updated", "unchanged", "review", "dismissed", "errors")


# --- importing ---------------------------------------------------------------------------------------

@dataclass
class _Run:
    """One import in progress: counts and errors so far (no personal data)."""

    batch: ImportBatch
    actor: User
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[RowError] = field(default_factory=list)
    claim: _Claim | None = None  # a worker's lease on the batch, renewed with every chunk


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


def _changes(row: ParsedRow) -> missing_details.EpisodeChanges:
    """The change apply_police_record makes from a row (the same fields, the same way)."""
    d = row.details
    return missing_details.EpisodeChanges(reported_start=d.reported_start, classification=d.classification,
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


def _summary_json(run: _Run) -> tuple[str, str]:
    errors = sorted(run.errors, key=lambda e: e.row)
    return json.dumps(run.counts), json.dumps([e.as_dict() for e in errors])
