"""The police download imported in the background: progress committed chunk by chunk, a bad file's
clear error, claims that two workers never share, and a Guidance sheet that says exactly what the
import requires."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from hub import db
from hub.db import unit_of_work, utcnow
from hub.missing.imports import batches as import_batches
from hub.missing.imports import claims as import_claims
from hub.missing.imports.download import COLUMNS, REQUIRED_FOR_NEW_REPORT, template_bytes
from hub.models.audit import AuditEvent
from hub.models.missing import ImportBatch, ImportStatus, MissingEpisode
from tests.factories import sign_in
from tests.support.police_download import DownloadWorld, count, download_world, episodes, local, row, upload, xlsx
from tests.support.threads import in_threads


@pytest.fixture
def world(app) -> DownloadWorld:
    return download_world()


def _queued(world, rows: list[dict]) -> ImportBatch:
    return import_batches.queue_file(world.officer, xlsx(rows), "download.xlsx")


def _rows(n: int, bad: set[int] = frozenset()) -> list[dict]:
    """n rows of the known child (by police id); the 1-based positions in `bad` have a bad risk grade."""
    return [row(f"P/{i}", police_id="NB-P-1001", **({"risk_grade": "Severe"} if i in bad else {}))
            for i in range(1, n + 1)]


def test_the_worker_commits_rows_done_of_rows_total_and_the_errors_so_far_after_each_chunk(world, app, monkeypatch):
    monkeypatch.setattr(import_batches, "CHUNK_ROWS", 2)
    batch = _queued(world, _rows(5, bad={2}))
    seen = []

    def look() -> None:  # what another connection (the batch page) reads between chunks
        with app.extensions["hub_engine"].connect() as other:
            seen.append(other.execute(select(ImportBatch.rows_done, ImportBatch.rows_total, ImportBatch.row_errors)
                                      .where(ImportBatch.id == batch.id)).one())

    import_batches.run_queued("worker-1", between_chunks=look)
    # Row 3 (the second data row) is refused on reading: done at once, and its error shown at once.
    assert [(done, total) for done, total, _ in seen] == [(1, 5), (3, 5), (5, 5)]
    assert all("Risk grade: not one of" in errors for _, _, errors in seen)
    finished = db.session().get(ImportBatch, batch.id, populate_existing=True)
    assert finished.status == ImportStatus.done and import_batches.summary_of(finished)["created"] == 4


def test_the_batch_page_shows_rows_done_of_rows_total_and_the_errors_so_far(world, client):
    with unit_of_work() as s:
        batch = ImportBatch(police_org_id=world.police.id, uploaded_by_user_id=world.officer.id, filename="x.xlsx",
                            sha256="0" * 64, status=ImportStatus.running, rows_total=10_000, rows_done=1_500,
                            summary='{"errors": 1, "created": 1499}',
                            row_errors='[{"row": 7, "reason": "Risk grade: not one of No apparent risk"}]')
        s.add(batch)
    sign_in(client, world.officer, world.officer_secret)
    page = client.get(f"/missing/import/{batch.id}").get_data(as_text=True)
    assert "Importing: 1,500 of 10,000 rows done, 1 with errors so far." in page
    assert "Row errors so far" in page and "Risk grade: not one of" in page
    assert 'data-testid="check-progress"' in page and 'data-testid="summary"' not in page
    assert client.get(f"/missing/import/{batch.id}/progress").get_json()["rows_done"] == 1_500
    listing = client.get("/missing/import").get_data(as_text=True)
    assert "Running" in listing


def test_a_bad_file_still_gives_a_clear_error(world, client):
    sign_in(client, world.officer, world.officer_secret)
    # Not a workbook at all: refused at once, nothing stored for the worker.
    response = upload(client, b"not a zip at all", "download.xlsx")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The import failed" in page and "not an Excel workbook" in page and "check-progress" not in page
    assert db.session().execute(text("SELECT count(*) FROM import_file")).scalar_one() == 0
    # A workbook without a required column: the worker finds out, and the page says which column.
    headings = {c.field: c.heading for c in COLUMNS} | {"risk_grade": ""}
    response = upload(client, xlsx([row("MP/1", police_id="NB-P-1001")], headings))
    assert "Queued" in client.get(response.headers["Location"]).get_data(as_text=True)
    failed = import_batches.run_queued("worker-1")
    assert failed.status == ImportStatus.failed
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The import failed" in page and "The heading row has no column &#39;Risk grade&#39;" in page
    assert db.session().execute(text("SELECT count(*) FROM import_file")).scalar_one() == 0
    assert count(MissingEpisode) == 0


def test_two_workers_claiming_at_once_never_share_a_batch(world, app):
    ids = [_queued(world, [row(f"B/{n}", police_id="NB-P-1001")]).id for n in range(6)]

    def claim_all(name: str) -> list[int]:
        mine = []
        for _ in range(len(ids)):
            got = import_claims.claim_batch(name)
            if got is None:
                break
            mine.append(got)
        return mine

    results = in_threads(claim_all, ["a", "b", "c"])
    assert sorted(i for got in results.values() for i in got) == ids
    owner = dict(db.session().execute(select(ImportBatch.id, ImportBatch.claimed_by)).all())
    assert all(owner[i] == name for name, got in results.items() for i in got)


def test_two_workers_do_not_import_one_batch_twice(world, monkeypatch):
    monkeypatch.setattr(import_batches, "CHUNK_ROWS", 1)
    batch = _queued(world, _rows(4))
    taken_over, calls = [], []

    def second_worker_arrives() -> None:
        # While the first worker imports, a second looks for work: the batch is claimed.
        assert import_claims.claim_batch("worker-2") is None
        calls.append(1)
        if len(calls) == 2:  # after the first chunk
            # The first worker stalls past its lease: the second takes the batch over ...
            lapsed = utcnow() + import_claims.LEASE + timedelta(seconds=1)
            taken_over.append(import_claims.claim_batch("worker-2", now=lapsed))

    import_batches.run_queued("worker-1", between_chunks=second_worker_arrives)
    assert taken_over == [batch.id]
    # ... and the first stops at its next chunk instead of importing alongside it.
    started = db.session().scalar(select(ImportBatch).where(ImportBatch.id == batch.id)
                                  .execution_options(populate_existing=True))
    assert started.status == ImportStatus.running and started.claimed_by == "worker-2"
    assert started.rows_done == 1
    assert count(MissingEpisode) == 1
    # worker-2 holds a live lease, so nobody else takes it; when it is done, nothing was imported twice.
    assert import_batches.run_queued("worker-3") is None
    started.claimed_until = utcnow() - timedelta(seconds=1)  # worker-2 dies too; worker-3 then finishes it
    db.session().commit()
    done = import_batches.run_queued("worker-3")
    assert done.status == ImportStatus.done
    assert import_batches.summary_of(done)["created"] == 3 and import_batches.summary_of(done)["unchanged"] == 1
    assert count(MissingEpisode) == 4
    finished = db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "import-batch", AuditEvent.object_id == str(batch.id),
        AuditEvent.detail.contains('"finished"')))
    assert finished == 1


# --- the Guidance sheet says what the import requires ---------------------------------------------------

IDENTIFYING = {"police_id": "NB-P-1001"}


def _full_row(reference: str) -> dict:
    start = local(utcnow() - timedelta(hours=5))
    return row(reference, found_at=start + timedelta(hours=1), found_where="Bus station", police_id="NB-P-1001",
               nhs_number=None, given_name="Ava", family_name="Police", date_of_birth=datetime(2011, 5, 1))


def _imports(world, values: dict) -> bool:
    """Does the import take this one row (no row error)?"""
    batch = import_batches.import_file(world.officer, xlsx([values]), "x.xlsx")
    assert batch.status == ImportStatus.done, import_batches.summary_of(batch)
    return not import_batches.errors_of(batch)


def test_the_guidance_sheet_marks_as_required_exactly_what_the_import_requires(world):
    sheet = load_workbook(io.BytesIO(template_bytes()), read_only=True)["Guidance"]
    required = {name: value for name, value, *_ in sheet.iter_rows(min_row=2, values_only=True) if name}
    known = "KNOWN/1"
    assert _imports(world, _full_row(known))  # a report the hub then holds
    for n, column in enumerate(COLUMNS):
        said = required[column.heading]
        new_without = _full_row(f"NEW/{n}") | {column.field: None}
        known_without = _full_row(known) | {column.field: None}
        if said == "Yes":
            assert not _imports(world, new_without) and not _imports(world, known_without), column.heading
        elif said == "No":
            assert _imports(world, new_without) and _imports(world, known_without), column.heading
        else:
            assert said == REQUIRED_FOR_NEW_REPORT, column.heading
    # The child's columns: a found-time update of a report the hub holds needs none of them; a new
    # report needs one of the three ways to say who the child is.
    child = {c.field: None for c in COLUMNS if c.identifies_child}
    found = local(utcnow() - timedelta(hours=1))
    assert _imports(world, _full_row(known) | child | {"found_at": found})
    assert episodes()[known].found_at is not None
    assert not _imports(world, _full_row("NEW/NOBODY") | child)
    for enough in ({"police_id": "NB-P-1001"}, {"nhs_number": world.nhs},
                   {"given_name": "Cara", "family_name": "Named", "date_of_birth": datetime(2013, 7, 3)}):
        assert _imports(world, _full_row(f"NEW/{sorted(enough)[0]}") | child | enough), enough
