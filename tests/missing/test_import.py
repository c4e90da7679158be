"""The police daily download: a good file, the same file twice, a later file, bad rows, an
unreadable file, the review queue, a force's own headings, the upload page and the CLI."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from hub import db
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.missing import service
from hub.missing.imports import batches as import_batches
from hub.missing.imports import mapping as import_mapping
from hub.missing.imports import review as import_review
from hub.missing.imports import rows as import_rows
from hub.missing.imports.download import COLUMNS
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.missing import (
    ImportBatch,
    ImportReviewItem,
    ImportStatus,
    MissingEpisode,
    ReviewStatus,
    RiskGrade,
    RiskGradeChange,
)
from hub.models.notifications import Notification, OutboxMessage
from hub.models.people import Child, Gender, IdentifierKind
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, make_child, make_org, make_user, post_form, sign_in
from tests.support.police_download import (
    LONDON,
    DownloadWorld,
    count,
    download_world,
    episodes,
    local,
    row,
    upload,
    xlsx,
)


def three_rows(**overrides) -> list[dict]:
    return [row("MP/1", police_id="nb-p-1001", **overrides),
            row("MP/2", nhs_number=overrides.pop("nhs", None) or "", **overrides),
            row("MP/3", given_name="Cara", family_name="Named", date_of_birth=datetime(2013, 7, 3), **overrides)]


def good_file(world, **overrides) -> bytes:
    rows = three_rows(**overrides)
    rows[1]["nhs_number"] = world.nhs
    return xlsx(rows)


def one_row_at_a_time(monkeypatch) -> None:
    """Every new row through the per-row path (apply_police_record, each a list of one), as when a
    chunk's insert hits a database error (the chunk's path: test_import_bulk.py)."""
    monkeypatch.setattr(import_rows, "_apply_new_in_bulk", lambda run, new: new)


def audit_count(action: str, object_type: str = "missing-episode") -> int:
    return count(AuditEvent, AuditEvent.action == action, AuditEvent.object_type == object_type)


@pytest.fixture
def world(app) -> DownloadWorld:
    return download_world()


# --- a good file, twice, and a later one ----------------------------------------------------------------

def test_a_good_file_matches_each_child_by_its_key_records_episodes_and_tells_the_school(world):
    batch = import_batches.import_file(world.officer, good_file(world), "download.xlsx")
    assert batch.status == ImportStatus.done
    assert import_batches.summary_of(batch) == {"created": 3, "updated": 0, "unchanged": 0, "review": 0, "dismissed": 0,
                                         "errors": 0}
    assert import_batches.errors_of(batch) == []
    assert batch.rows_total == batch.rows_done == 3
    found = episodes()
    # by police id (case and hyphens as the force types them), by NHS number, by name and date of birth
    assert found["MP/1"].child_id == world.by_police_id.id
    assert found["MP/2"].child_id == world.by_nhs.id
    assert found["MP/3"].child_id == world.by_name.id
    assert all(e.police_org_id == world.police.id and e.source.value == "police_download" for e in found.values())
    assert all(e.risk_grade == RiskGrade.medium for e in found.values())
    # Each episode tells the school's two key adults, with an e-mail each.
    assert count(Notification) == 6 and count(OutboxMessage) == 6
    events = list(db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "missing-episode",
                                                                AuditEvent.action == "create")))
    assert len(events) == 3 and {e.actor_user_id for e in events} == {world.officer.id}


def test_importing_the_same_file_again_changes_nothing(world):
    data = good_file(world)
    import_batches.import_file(world.officer, data, "download.xlsx")
    before = {name: count(model) for name, model in (("episodes", MissingEpisode), ("notes", Notification),
                                                     ("mail", OutboxMessage), ("risk", RiskGradeChange))}
    updates = audit_count("update")
    stamps = {ref: e.updated_at for ref, e in episodes().items()}
    again = import_batches.import_file(world.officer, data, "download.xlsx")
    assert import_batches.summary_of(again)["unchanged"] == 3
    assert import_batches.summary_of(again)["created"] == import_batches.summary_of(again)["updated"] == 0
    after = {name: count(model) for name, model in (("episodes", MissingEpisode), ("notes", Notification),
                                                    ("mail", OutboxMessage), ("risk", RiskGradeChange))}
    assert after == before
    assert audit_count("update") == updates
    db.session().expire_all()
    assert {ref: e.updated_at for ref, e in episodes().items()} == stamps


def test_a_later_file_updates_found_times_and_risk_grades(world):
    import_batches.import_file(world.officer, good_file(world), "monday.xlsx")
    found_at = local(utcnow() - timedelta(hours=1))
    rows = three_rows()
    rows[1]["nhs_number"] = world.nhs
    rows[0].update(found_at=found_at, found_where="Bus station")
    rows[1].update(risk_grade="High")
    batch = import_batches.import_file(world.officer, xlsx(rows), "tuesday.xlsx")
    assert import_batches.summary_of(batch) == {"created": 0, "updated": 2, "unchanged": 1, "review": 0,
                                             "dismissed": 0, "errors": 0}
    found = episodes()
    assert found["MP/1"].found_at == found_at.replace(tzinfo=LONDON).astimezone(UTC)
    assert found["MP/1"].found_where == "Bus station"
    assert found["MP/2"].risk_grade == RiskGrade.high
    assert [c.grade for c in found["MP/2"].risk_history] == [RiskGrade.medium, RiskGrade.high]
    assert count(Notification, Notification.kind == "found") == 2
    assert count(Notification, Notification.kind == "risk_raised") == 2


def test_times_are_read_as_london_time_and_iso_text_may_carry_its_own_zone(world):
    summer = datetime(2026, 7, 1, 9, 30)          # BST: 08:30 UTC
    rows = [row("T/1", police_id="NB-P-1001", reported_start=summer),
            row("T/2", nhs_number=world.nhs, reported_start="2026-01-10 09:30"),       # GMT
            row("T/3", given_name="Cara", family_name="Named", date_of_birth="27/03/2013",
                reported_start="2026-07-01T09:30:00Z")]
    make_child("Cara", "Named", date(2013, 3, 27), identifiers={})
    batch = import_batches.import_file(world.officer, xlsx(rows), "times.xlsx")
    assert import_batches.summary_of(batch)["created"] == 3, import_batches.errors_of(batch)
    found = episodes()
    assert found["T/1"].reported_start == datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    assert found["T/2"].reported_start == datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
    assert found["T/3"].reported_start == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)


# --- bad rows ------------------------------------------------------------------------------------------

def test_bad_rows_are_reported_by_row_number_and_reason_and_the_good_rows_still_import(world):
    future = local(utcnow() + timedelta(days=2))
    start = local(utcnow() - timedelta(hours=5))
    rows = [row("", police_id="NB-P-1001"),                                              # row 2
            row("BAD/DATE", police_id="NB-P-1001", reported_start="next Tuesday-ish"),   # row 3
            row("BAD/RISK", police_id="NB-P-1001", risk_grade="Catastrophic"),           # row 4
            row("BAD/FUTURE", police_id="NB-P-1001", reported_start=future),             # row 5
            row("BAD/FOUND", police_id="NB-P-1001", reported_start=start,
                found_at=start - timedelta(hours=2)),                                    # row 6
            row("GOOD/1", police_id="NB-P-1001")]                                        # row 7
    batch = import_batches.import_file(world.officer, xlsx(rows), "bad.xlsx")
    assert batch.status == ImportStatus.done
    summary = import_batches.summary_of(batch)
    assert summary["created"] == 1 and summary["errors"] == 5
    errors = import_batches.errors_of(batch)
    assert [e["row"] for e in errors] == [2, 3, 4, 5, 6]
    reasons = {e["row"]: e["reason"] for e in errors}
    assert reasons[2] == "Police reference: this column is empty"
    assert reasons[3].startswith("Reported start: not a date and time")
    assert reasons[4] == "Risk grade: not one of No apparent risk, Low, Medium or High"
    assert reasons[5] == "Reported start: the time is in the future"
    assert reasons[6] == "Found at: the child cannot be found before the reported start"
    stored = db.session().scalar(select(ImportBatch.row_errors).where(ImportBatch.id == batch.id))
    for value in ("Tuesday", "Catastrophic", "NB-P-1001", "Ava"):
        assert value not in stored  # reasons name the column and the problem, never the value
    assert set(episodes()) == {"GOOD/1"}


def test_a_row_without_anything_identifying_the_child_and_a_repeated_reference_are_errors(world):
    rows = [row("R/1"), row("R/2", police_id="NB-P-1001"), row("R/2", police_id="NB-P-1001", risk_grade="High")]
    batch = import_batches.import_file(world.officer, xlsx(rows), "x.xlsx")
    reasons = {e["row"]: e["reason"] for e in import_batches.errors_of(batch)}
    assert reasons[2].startswith("Child: give the child's police id")
    assert reasons[4] == "Police reference: the same reference is already in row 3"
    assert episodes()["R/2"].risk_grade == RiskGrade.medium


def test_a_row_the_service_refuses_after_writing_is_rolled_back_alone(world, monkeypatch):
    """Per-row savepoints: whatever a failing row wrote (episode, notifications, audit events)
    goes; the rows before and after it in the same chunk stay."""
    real = service.apply_police_record

    def failing(actor, police_org_id, child_id, details, source):
        outcome = real(actor, police_org_id, child_id, details, source)
        if details.police_reference == "MP/2":
            raise Invalid({"police_reference": "refused after writing"})
        return outcome

    monkeypatch.setattr(service, "apply_police_record", failing)
    one_row_at_a_time(monkeypatch)
    batch = import_batches.import_file(world.officer, good_file(world), "x.xlsx")
    assert import_batches.summary_of(batch)["created"] == 2 and import_batches.summary_of(batch)["errors"] == 1
    assert import_batches.errors_of(batch) == [{"row": 3, "reason": "Police reference: refused after writing"}]
    assert set(episodes()) == {"MP/1", "MP/3"}
    assert count(Notification) == 4
    assert audit_count("create") == 2


def test_an_error_in_the_hub_stops_the_import_and_keeps_the_chunks_before_it(world, monkeypatch):
    real = service.apply_police_record

    def broken(actor, police_org_id, child_id, details, source):
        if details.police_reference == "MP/3":
            raise RuntimeError("the database went away")
        return real(actor, police_org_id, child_id, details, source)

    monkeypatch.setattr(service, "apply_police_record", broken)
    one_row_at_a_time(monkeypatch)
    monkeypatch.setattr(import_batches, "CHUNK_ROWS", 2)
    batch = import_batches.import_file(world.officer, good_file(world), "x.xlsx")
    assert batch.status == ImportStatus.failed
    summary = import_batches.summary_of(batch)
    assert "stopped at row 4" in summary["failure"] and summary["created"] == 2
    assert set(episodes()) == {"MP/1", "MP/2"}


def test_a_reference_recorded_for_another_child_is_a_row_error(world):
    import_batches.import_file(world.officer, xlsx([row("MP/9", police_id="NB-P-1001")]), "a.xlsx")
    batch = import_batches.import_file(world.officer, xlsx([row("MP/9", nhs_number=world.nhs)]), "b.xlsx")
    assert import_batches.errors_of(batch) == [
        {"row": 2, "reason": "Police reference: This police reference is recorded for a different child"}]


# --- a file that cannot be read ------------------------------------------------------------------------

@pytest.mark.parametrize("data, reason", [
    (bytes(range(256)) * 40, "not an Excel workbook"),
    (b"", "empty"),
])
def test_an_unreadable_file_changes_nothing_but_its_failed_batch(world, data, reason):
    events = count(AuditEvent)
    batch = import_batches.import_file(world.officer, data, "junk.xlsx")
    assert batch.status == ImportStatus.failed
    assert reason in import_batches.summary_of(batch)["failure"]
    assert count(MissingEpisode) == count(ImportReviewItem) == count(Notification) == 0
    # Only the batch's own start and failure are on record.
    assert count(AuditEvent) == events + 2


def test_a_file_without_a_required_column_is_refused_whole(world):
    headings = {"risk_grade": ""}
    batch = import_batches.import_file(world.officer, xlsx([row("MP/1", police_id="NB-P-1001")], headings), "x.xlsx")
    assert batch.status == ImportStatus.failed
    assert "no column 'Risk grade'" in import_batches.summary_of(batch)["failure"]
    assert count(MissingEpisode) == 0


def test_only_a_police_officer_imports_and_only_for_their_own_force(world):
    with pytest.raises(Forbidden):
        import_batches.import_file(world.dsl, good_file(world), "x.xlsx")
    with pytest.raises(Forbidden):
        import_batches.import_file(world.admin, good_file(world), "x.xlsx")
    assert count(ImportBatch) == 0
    assert count(AuditEvent, AuditEvent.outcome == "refused", AuditEvent.object_type == "import-batch") == 2


# --- the review queue ----------------------------------------------------------------------------------

def unmatched_file(**extra) -> bytes:
    return xlsx([row("UN/1", given_name="Dana", family_name="Unknown", date_of_birth=datetime(2012, 1, 2),
                     police_id="NB-P-9999", **extra), row("UN/2", police_id="NB-P-1001")])


def test_unmatched_rows_wait_for_review_once_with_their_values_encrypted(world):
    batch = import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    assert import_batches.summary_of(batch)["review"] == 1 and import_batches.summary_of(batch)["created"] == 1
    item = db.session().scalar(select(ImportReviewItem))
    assert item.status == ReviewStatus.waiting and item.row_number == 2 and item.police_reference == "UN/1"
    raw = db.session().execute(text("SELECT row_data FROM import_review_item")).scalar_one()
    assert "Dana" not in raw and "NB-P-9999" not in raw
    again = import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    assert import_batches.summary_of(again)["review"] == 1 and import_batches.summary_of(again)["unchanged"] == 1
    assert count(ImportReviewItem) == 1
    # A later file with more to say updates the waiting row, still one.
    import_batches.import_file(world.officer, unmatched_file(risk_grade="High"), "x.xlsx")
    assert count(ImportReviewItem) == 1
    db.session().expire_all()
    assert json.loads(db.session().scalar(select(ImportReviewItem)).row_data)["risk_grade"] == "high"


def test_matching_a_review_row_records_the_episode_and_tells_the_school(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    search = import_review.CandidateSearch(given_name="Ava", family_name="Police", date_of_birth=date(2011, 5, 1))
    found = import_review.candidates(world.officer, item.id, search)
    assert [c.child_id for c in found] == [world.by_police_id.id]
    # The force already holds a report about this child: the officer sees the child whole.
    assert found[0].child.id == world.by_police_id.id and found[0].school.id == world.school.id
    notes = count(Notification)
    episode = import_review.match_item(world.officer, item.id, world.by_police_id.id, search)
    assert episode.child_id == world.by_police_id.id and episode.police_reference == "UN/1"
    assert count(Notification) == notes + 2  # the school's DSL and deputy
    db.session().expire_all()
    item = db.session().get(ImportReviewItem, item.id)
    assert item.status == ReviewStatus.matched and item.episode_id == episode.id
    assert item.resolved_by_user_id == world.officer.id
    # The same file again: the reference's episode says whose row it is.
    again = import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    assert import_batches.summary_of(again)["unchanged"] == 2 and import_batches.summary_of(again)["review"] == 0


def test_a_reviewer_cannot_match_a_child_their_search_did_not_find(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    search = import_review.CandidateSearch(given_name="Ava", family_name="Police", date_of_birth=date(2011, 5, 1))
    with pytest.raises(Invalid):
        import_review.match_item(world.officer, item.id, world.by_nhs.id, search)
    with pytest.raises(Invalid):
        import_review.match_item(world.officer, item.id, world.by_nhs.id, None)
    assert count(MissingEpisode, MissingEpisode.police_reference == "UN/1") == 0


def test_an_identifier_search_finds_a_child_by_any_of_their_identifiers(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    found = import_review.candidates(world.officer, item.id, import_review.CandidateSearch(identifier=world.nhs))
    assert [c.child_id for c in found] == [world.by_nhs.id]


def test_a_candidate_is_shown_whole_only_to_a_reviewer_who_may_see_the_child(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    search = import_review.CandidateSearch(identifier=world.nhs)
    [blind] = import_review.candidates(world.officer, item.id, search)
    assert blind.child is None and blind.school is None
    admin = make_user(make_org(OrgKind.mace_host), Role.hub_admin)[0]  # who may see every child
    [whole] = import_review.candidates(admin, item.id, search)
    assert whole.child.id == world.by_nhs.id and whole.matches == blind.matches


def test_creating_the_child_from_a_review_row(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    episode = import_review.create_child_for_item(world.officer, item.id, Gender.female)
    child = db.session().get(Child, episode.child_id)
    assert (child.given_name, child.family_name, child.date_of_birth) == ("Dana", "Unknown", date(2012, 1, 2))
    assert service.match_child("NB-P-9999", None, None, None, None) == child.id
    db.session().expire_all()
    assert db.session().get(ImportReviewItem, item.id).status == ReviewStatus.created
    # A child with no school: nobody at a school to tell (the missing team sees that).
    assert count(Notification, Notification.episode_id == episode.id) == 0


def test_dismissing_a_row_keeps_it_dismissed_on_the_next_import(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    with pytest.raises(Invalid):
        import_review.dismiss_item(world.officer, item.id, "because I said so")
    import_review.dismiss_item(world.officer, item.id, "test_record")
    assert import_review.dismissal_reason(item.id) == import_review.DISMISS_REASONS["test_record"]
    with pytest.raises(Invalid):
        import_review.dismiss_item(world.officer, item.id, "test_record")
    again = import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    assert import_batches.summary_of(again)["dismissed"] == 1 and count(ImportReviewItem) == 1


def test_a_waiting_row_is_answered_when_a_later_import_matches_it(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    make_child("Dana", "Unknown", date(2012, 1, 2), identifiers={IdentifierKind.police_id: "NB-P-9999"})
    batch = import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    assert import_batches.summary_of(batch)["created"] == 1 and import_batches.summary_of(batch)["review"] == 0
    db.session().expire_all()
    assert db.session().scalar(select(ImportReviewItem)).status == ReviewStatus.matched


def test_a_later_row_giving_only_the_reference_updates_the_waiting_row_and_keeps_who_the_child_is(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    # The force's next download names the report by its reference alone: it is the same report.
    batch = import_batches.import_file(world.officer, xlsx([row("UN/1", risk_grade="High")]), "y.xlsx")
    assert import_batches.summary_of(batch)["review"] == 1 and import_batches.errors_of(batch) == []
    assert count(ImportReviewItem) == 1
    db.session().expire_all()
    waiting = json.loads(db.session().scalar(select(ImportReviewItem)).row_data)
    assert waiting["risk_grade"] == "high"  # the latest row's values ...
    assert (waiting["police_id"], waiting["family_name"]) == ("NB-P-9999", "Unknown")  # ... the first's child
    # So the child it names, once known, is matched by the next import.
    make_child("Dana", "Unknown", date(2012, 1, 2), identifiers={IdentifierKind.police_id: "NB-P-9999"})
    later = import_batches.import_file(world.officer, unmatched_file(risk_grade="High"), "z.xlsx")
    assert import_batches.summary_of(later)["created"] == 1
    assert episodes()["UN/1"].risk_grade == RiskGrade.high


def test_a_later_row_giving_only_the_reference_of_a_dismissed_report_stays_dismissed(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    import_review.dismiss_item(world.officer, db.session().scalar(select(ImportReviewItem.id)), "test_record")
    batch = import_batches.import_file(world.officer, xlsx([row("UN/1", risk_grade="High")]), "y.xlsx")
    assert import_batches.summary_of(batch)["dismissed"] == 1 and import_batches.errors_of(batch) == []
    assert "UN/1" not in episodes() and count(ImportReviewItem) == 1


def test_another_force_sees_none_of_the_queue_and_gets_a_404(world):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    other, _ = make_user(make_org(OrgKind.police), Role.police_officer)
    assert import_review.review_queue(other) == []
    with pytest.raises(NotFound):
        import_review.get_review_item(other, item.id)
    with pytest.raises(NotFound):
        import_review.dismiss_item(other, item.id, "test_record")
    with pytest.raises(NotFound):
        import_review.review_queue(world.dsl)
    assert [r.item.id for r in import_review.review_queue(world.admin)] == [item.id]
    assert [r.item.id for r in import_review.review_queue(world.officer)] == [item.id]


# --- a force's own headings ----------------------------------------------------------------------------

def test_an_administrator_sets_a_force_s_headings_and_its_export_imports(world):
    own = {"police_reference": "Occurrence No", "reported_start": "Reported Date/Time", "police_id": "Person URN",
           "found_where": ""}
    with pytest.raises(NotFound):
        import_mapping.save_mapping(world.officer, world.police.id, own)
    with pytest.raises(Invalid) as refused:
        import_mapping.save_mapping(world.admin, world.police.id, {**own, "risk_grade": ""})
    assert "risk_grade" in refused.value.errors
    headings = {c.field: c.heading for c in COLUMNS} | own
    import_mapping.save_mapping(world.admin, world.police.id, headings)
    data = xlsx([row("OCC/1", police_id="NB-P-1001")], headings={**own, "found_where": ""})
    batch = import_batches.import_file(world.officer, data, "force-export.xlsx")
    assert import_batches.summary_of(batch)["created"] == 1, import_batches.summary_of(batch)
    # The hub's own headings no longer fit this force.
    assert import_batches.import_file(world.officer, good_file(world), "x.xlsx").status == ImportStatus.failed


def test_a_forces_headings_are_read_and_set_only_by_an_administrator_and_only_for_a_force(world):
    assert import_mapping.mapping_of(world.admin, world.police.id) == import_mapping.headings(world.police.id)
    with pytest.raises(NotFound):
        import_mapping.mapping_of(world.officer, world.police.id)
    refused = db.session().scalars(select(AuditEvent).where(
        AuditEvent.object_type == "import-column-mapping", AuditEvent.outcome == "refused")).one()
    assert refused.actor_user_id == world.officer.id
    for not_a_force in (world.school.id, 10**6):
        with pytest.raises(Invalid) as info:
            import_mapping.mapping_of(world.admin, not_a_force)
        assert info.value.errors["police_org_id"] == "Choose a police force"
        with pytest.raises(Invalid):
            import_mapping.save_mapping(world.admin, not_a_force, {c.field: c.heading for c in COLUMNS})


def test_headings_must_be_distinct(world):
    with pytest.raises(Invalid) as refused:
        import_mapping.save_mapping(world.admin, world.police.id, {c.field: c.heading for c in COLUMNS}
                             | {"found_at": "Police reference"})
    assert "found_at" in refused.value.errors


# --- the pages -------------------------------------------------------------------------------------------

def test_the_upload_returns_at_once_with_the_batch_queued_and_the_worker_imports_it(world, client):
    sign_in(client, world.officer, world.officer_secret)
    page = client.get("/missing/import").get_data(as_text=True)
    assert 'accept=".xlsx"' in page and 'enctype="multipart/form-data"' in page
    bad = xlsx([row("MP/1", police_id="NB-P-1001"), row("MP/2", police_id="NB-P-1001", risk_grade="Severe")])
    response = upload(client, bad)
    assert response.status_code == 302
    queued = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Queued: the file is stored" in queued and 'data-testid="check-progress"' in queued
    assert count(MissingEpisode) == 0  # nothing imported inside the request
    batch = db.session().scalar(select(ImportBatch))
    assert batch.status == ImportStatus.queued
    stored = db.session().execute(text("SELECT data FROM import_file")).scalar_one()
    assert "UEsDB" not in stored  # base64 of the zip's "PK\x03\x04": the file is stored encrypted
    assert import_batches.run_queued("worker-1").id == batch.id
    assert import_batches.run_queued("worker-1") is None  # nothing else waits
    assert db.session().execute(text("SELECT count(*) FROM import_file")).scalar_one() == 0  # deleted once done
    summary = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="count-created">1<' in summary and 'data-testid="count-errors">1<' in summary
    assert "Risk grade: not one of" in summary and "Severe" not in summary
    assert "check-progress" not in summary and "import-progress.js" not in summary  # finished: no more polling
    assert count(MissingEpisode) == 1


def test_the_upload_page_refuses_a_missing_or_wrong_file_with_a_clear_message(world, client):
    sign_in(client, world.officer, world.officer_secret)
    page = client.get("/missing/import")
    response = client.post("/missing/import", data={"csrf_token": csrf_token(page.get_data(as_text=True))},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and "Select the daily download file" in response.get_data(as_text=True)
    response = upload(client, b"name,dob\n", "download.csv")
    assert "must be an Excel workbook (.xlsx)" in response.get_data(as_text=True)
    response = upload(client, b"not a zip at all", "download.xlsx")
    assert response.status_code == 302
    failed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The import failed" in failed and "not an Excel workbook" in failed
    # Without the CSRF token nothing is imported.
    response = client.post("/missing/import", data={"file": (io.BytesIO(good_file(world)), "x.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and count(MissingEpisode) == 0


def test_a_school_cannot_open_the_upload_page_and_another_force_cannot_see_a_batch(world, client, app):
    batch = import_batches.import_file(world.officer, good_file(world), "x.xlsx")
    sign_in(client, world.dsl, world.dsl_secret)
    assert client.get("/missing/import").status_code == 403
    assert client.get(f"/missing/import/{batch.id}").status_code == 404
    other, secret = make_user(make_org(OrgKind.police), Role.police_officer)
    other_client = app.test_client()
    sign_in(other_client, other, secret)
    assert other_client.get(f"/missing/import/{batch.id}").status_code == 404
    assert 'data-testid="import-batches"' not in other_client.get("/missing/import").get_data(as_text=True)


def test_a_running_batch_page_updates_its_progress_without_reloading_itself(world, client):
    sign_in(client, world.officer, world.officer_secret)
    with unit_of_work() as s:
        batch = ImportBatch(police_org_id=world.police.id, uploaded_by_user_id=world.officer.id, filename="x.xlsx",
                            sha256="0" * 64, status=ImportStatus.running, rows_total=1000, rows_done=500)
        s.add(batch)
    page = client.get(f"/missing/import/{batch.id}").get_data(as_text=True)
    assert "http-equiv" not in page  # a page that reloads itself fails WCAG 2.2.1 (axe: meta-refresh)
    assert "500 of 1,000 rows done" in page and "import-progress.js" in page
    assert f'data-progress-url="/missing/import/{batch.id}/progress"' in page
    progress = client.get(f"/missing/import/{batch.id}/progress").get_json()
    assert progress == {"status": "running", "rows_done": 500, "rows_total": 1000, "errors": 0, "finished": False,
                        "text": "Importing: 500 of 1,000 rows done so far."}


def test_the_review_pages_match_a_row_to_a_child(world, client):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    sign_in(client, world.officer, world.officer_secret)
    queue = client.get("/missing/import/review").get_data(as_text=True)
    assert "UN/1" in queue and "Dana" in queue
    url = f"/missing/import/review/{item.id}"
    search = f"{url}?identifier=&given_name=Ava&family_name=Police&date_of_birth=1&date_of_birth=5&date_of_birth=2011"
    page = client.get(search).get_data(as_text=True)
    assert 'data-testid="candidates"' in page and "Ava Police" in page
    response = post_form(client, f"{url}/match", {"child_id": str(world.by_police_id.id), "given_name": "Ava",
                                                  "family_name": "Police", "date_of_birth": "2011-05-01",
                                                  "identifier": ""}, form_page=search)
    assert response.status_code == 302 and "/missing/" in response.headers["Location"]
    assert episodes()["UN/1"].child_id == world.by_police_id.id
    assert "No rows are waiting" in client.get("/missing/import/review").get_data(as_text=True)


def test_the_review_page_refuses_a_half_search_and_a_child_not_found(world, client):
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem))
    sign_in(client, world.officer, world.officer_secret)
    url = f"/missing/import/review/{item.id}"
    page = client.get(f"{url}?given_name=Ava").get_data(as_text=True)
    assert "Enter an identifier, or the given name, family name and date of birth" in page
    response = post_form(client, f"{url}/match", {"child_id": str(world.by_nhs.id)}, form_page=url)
    assert response.status_code == 400 and "Choose a child from the search results" in response.get_data(as_text=True)
    refused = client.post(f"{url}/dismiss", data={"dismiss-reason": "test_record"})  # no CSRF token
    assert refused.status_code == 400 and "could not be sent" in refused.get_data(as_text=True)
    assert db.session().get(ImportReviewItem, item.id).status == ReviewStatus.waiting
    response = post_form(client, f"{url}/dismiss", {"dismiss-reason": "test_record"}, form_page=url)
    assert response.status_code == 302
    assert db.session().get(ImportReviewItem, item.id).status == ReviewStatus.dismissed


def test_an_administrator_edits_a_force_s_headings_on_the_mapping_page(world, client):
    sign_in(client, world.admin, world.admin_secret)
    page = client.get(f"/missing/import/mapping?force={world.police.id}").get_data(as_text=True)
    assert 'value="Police reference"' in page
    data = {c.field: c.heading for c in COLUMNS} | {"police_reference": "Occurrence No"}
    url = f"/missing/import/mapping?force={world.police.id}"
    response = post_form(client, url, data)
    assert response.status_code == 302
    assert import_mapping.headings(world.police.id)["police_reference"] == "Occurrence No"
    response = post_form(client, url, data | {"classification": ""})
    assert "Enter the heading of the classification column" in response.get_data(as_text=True)
    other = client.application.test_client()
    sign_in(other, world.officer, world.officer_secret)
    assert other.get("/missing/import/mapping").status_code == 403


def test_the_template_is_a_blank_download_with_a_guidance_sheet(world, client):
    sign_in(client, world.officer, world.officer_secret)
    response = client.get("/missing/import/template.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    assert workbook.sheetnames == ["Download", "Guidance"]
    headings = next(workbook["Download"].iter_rows(values_only=True))
    assert list(headings) == [c.heading for c in COLUMNS]
    guidance = [r[0] for r in workbook["Guidance"].iter_rows(min_row=2, values_only=True)]
    assert all(c.heading in guidance for c in COLUMNS)
    # The template itself imports (as an empty file).
    officer = db.session().get(User, world.officer.id)  # the request detached the test's objects
    assert import_batches.import_file(officer, response.data, "t.xlsx").status == ImportStatus.done


# --- the command line ------------------------------------------------------------------------------------

def test_the_cli_imports_with_progress_and_reports_row_errors(world, runner, tmp_path):
    path = tmp_path / "download.xlsx"
    rows = three_rows()
    rows[1]["nhs_number"] = world.nhs
    path.write_bytes(xlsx(rows + [row("BAD", police_id="NB-P-1001", classification="Vanished")]))
    result = runner.invoke(args=["missing", "import", str(path), "--force", world.police.code,
                                 "--as", world.officer.email])
    assert result.exit_code == 0, result.output
    assert "Importing rows" in result.output and "created 3" in result.output and "errors 1" in result.output
    assert "row 5: Classification: not one of Missing or Absent" in result.output
    assert count(MissingEpisode) == 3
    assert count(AuditEvent, AuditEvent.action == "create", AuditEvent.object_type == "missing-episode",
                 AuditEvent.actor_user_id == world.officer.id, AuditEvent.auth_method == "cli") == 3


def test_the_cli_needs_an_officer_of_that_force_and_fails_on_an_unreadable_file(world, runner, tmp_path):
    path = tmp_path / "download.xlsx"
    path.write_bytes(good_file(world))
    result = runner.invoke(args=["missing", "import", str(path), "--force", world.police.code,
                                 "--as", world.dsl.email])
    assert result.exit_code != 0 and "is not an active police officer" in result.output
    result = runner.invoke(args=["missing", "import", str(path), "--force", world.school.code,
                                 "--as", world.officer.email])
    assert result.exit_code != 0 and "No police force" in result.output
    path.write_bytes(b"garbage")
    result = runner.invoke(args=["missing", "import", str(path), "--force", world.police.code,
                                 "--as", world.officer.email])
    assert result.exit_code == 1 and "not an Excel workbook" in result.output
    assert count(MissingEpisode) == 0


def test_the_cli_writes_the_template(runner, tmp_path, app):
    out = tmp_path / "template.xlsx"
    result = runner.invoke(args=["missing", "template", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out, read_only=True).sheetnames == ["Download", "Guidance"]


def test_the_cli_template_can_carry_a_force_s_own_headings(world, runner, tmp_path):
    own = {"police_reference": "Occurrence No", "found_where": ""}
    import_mapping.save_mapping(world.admin, world.police.id, {c.field: c.heading for c in COLUMNS} | own)
    out = tmp_path / "force.xlsx"
    result = runner.invoke(args=["missing", "template", str(out), "--force", world.police.code])
    assert result.exit_code == 0, result.output
    headings = next(load_workbook(out, read_only=True)["Download"].iter_rows(values_only=True))
    assert headings[0] == "Occurrence No" and "Found where" not in headings
    result = runner.invoke(args=["missing", "template", str(out), "--force", world.school.code])
    assert result.exit_code != 0 and "No police force" in result.output


def test_matching_shows_where_the_row_or_a_child_has_no_nhs_number(world, client):
    """The consistent identifier (Children Act 2004 s.16LC) is what agencies match on: the review
    page says when the row gives none and when a candidate child has none recorded."""
    import_batches.import_file(world.officer, unmatched_file(), "x.xlsx")
    item = db.session().scalar(select(ImportReviewItem).where(ImportReviewItem.police_reference == "UN/1"))
    sign_in(client, world.admin, world.admin_secret)  # may see every child: candidates are shown whole
    page = client.get(f"/missing/import/review/{item.id}").get_data(as_text=True)
    assert 'data-testid="row-no-nhs-number"' in page
    named = client.get(f"/missing/import/review/{item.id}?given_name=Cara&family_name=Named&date_of_birth=3"
                       "&date_of_birth=7&date_of_birth=2013").get_data(as_text=True)
    assert "Cara Named" in named and 'data-testid="candidate-no-nhs-number"' in named
    by_nhs = client.get(f"/missing/import/review/{item.id}?identifier={world.nhs}").get_data(as_text=True)
    assert "Ben Health" in by_nhs and 'data-testid="candidate-no-nhs-number"' not in by_nhs
