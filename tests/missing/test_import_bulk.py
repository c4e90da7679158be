"""The bulk path of the police download (issues 5 and 21): a chunk's new episodes written together
by `service.create_episodes`, the one path that creates episodes, must give exactly what the same
path gives one row at a time (a list of one, as for a practitioner's form or the API): the same
episodes and risk histories, notifications to the same key adults (another authority's school, the
LA contact when a school has no key adult, nobody for a child with no school), one e-mail each
without personal data, and the same audit events in the same order, in a log that still verifies.

Each comparison imports the same file twice in one database, for two forces: once a row per chunk
and once in chunks of `import_batches.CHUNK_ROWS`, then compares the two forces' results with their ids
replaced by police references."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
import rfc8785
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from hub import db
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.verification import verify_log
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing import details as missing_details
from hub.missing import service
from hub.missing.imports import batches as import_batches
from hub.models.audit import AuditEvent
from hub.models.missing import (
    Classification,
    EpisodeSource,
    ImportReviewItem,
    MissingEpisode,
    MissingFrom,
    ReviewStatus,
    RiskGrade,
)
from hub.models.notifications import ClosureKind, Notification, OutboxMessage, SchoolClosure
from hub.models.people import IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.notifications import calendar, issuing, routing
from hub.notifications.service import base_url
from tests.factories import enrol, make_child, make_org, make_user, valid_nhs_number
from tests.support.police_download import local, row, xlsx


@pytest.fixture
def town(app):
    """Two authorities; a school with a DSL and a deputy, one in the other authority with a DSL
    only, one with no key adult (its authority's education contact is told instead); children on
    their rolls, and one child with no school and no authority (nobody can be told)."""
    t = type("Town", (), {})()
    t.la1 = make_org(OrgKind.la_education)
    t.la2 = make_org(OrgKind.la_education)
    t.la1_contact, _ = make_user(t.la1, Role.dsl)
    t.school_a = make_org(OrgKind.school, local_authority_id=t.la1.id)
    t.school_b = make_org(OrgKind.school, local_authority_id=t.la2.id, school_day_start="09:15")
    t.school_c = make_org(OrgKind.school, local_authority_id=t.la1.id)
    t.dsl_a, _ = make_user(t.school_a, Role.dsl)
    t.deputy_a, _ = make_user(t.school_a, Role.deputy_dsl)
    t.dsl_b, _ = make_user(t.school_b, Role.dsl)
    t.nhs = valid_nhs_number(5151)
    t.ava = make_child("Ava", "Bulkfield", date(2011, 5, 1), identifiers={IdentifierKind.police_id: "BK-1"})
    t.ben = make_child("Ben", "Crossborder", date(2012, 6, 2), identifiers={IdentifierKind.nhs_number: t.nhs})
    t.cara = make_child("Cara", "Nokeyadult", date(2013, 7, 3), identifiers={IdentifierKind.police_id: "BK-3"})
    t.dan = make_child("Dan", "Noschool", date(2010, 1, 4), identifiers={IdentifierKind.police_id: "BK-4"})
    enrol(t.ava, t.school_a)
    enrol(t.ben, t.school_b)
    enrol(t.cara, t.school_c)
    today = datetime.now(calendar.LONDON).date()
    with unit_of_work() as s:  # school A is closed for the next week: its deadline moves past it
        s.add(SchoolClosure(organisation_id=t.school_a.id, first_day=today, last_day=today + timedelta(days=7),
                            kind=ClosureKind.inset))
    t.forces = []
    for _ in range(2):
        force = make_org(OrgKind.police)
        officer, _ = make_user(force, Role.police_officer)
        t.forces.append((force, officer))
    return t


FOUND = local(utcnow() - timedelta(hours=1))


def new_rows(t) -> list[dict]:
    return [row("NEW/1", police_id="BK-1", found_at=FOUND, found_where="Bus station"),
            row("NEW/2", nhs_number=t.nhs, risk_grade="High", classification="Absent"),
            row("NEW/3", police_id="bk-3", missing_from="Care placement"),
            row("NEW/4", police_id="BK-4", found_at=FOUND)]


def import_as(force_index: int, t, data: bytes, bulk: bool, monkeypatch, **kwargs):
    force, officer = t.forces[force_index]
    first = db.session().scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
    with monkeypatch.context() as patch:
        if not bulk:
            patch.setattr(import_batches, "CHUNK_ROWS", 1)  # each new episode a list of one
        batch = import_batches.import_file(officer, data, "download.xlsx", **kwargs)
    return batch, first + 1


# --- a picture of one force's results, with ids replaced by references --------------------------------

def _episodes(force_id: int) -> dict[int, MissingEpisode]:
    return {e.id: e for e in db.session().scalars(
        select(MissingEpisode).where(MissingEpisode.police_org_id == force_id))}


def picture(force_id: int, officer_id: int, since_seq: int) -> dict:
    db.session().expire_all()
    episodes = _episodes(force_id)
    ref = {e.id: e.police_reference for e in episodes.values()}
    notes = list(db.session().scalars(select(Notification).where(Notification.episode_id.in_(list(ref)))
                                      .order_by(Notification.id)))
    note_name = {n.id: (ref[n.episode_id], n.kind.value, n.user_id) for n in notes}
    mail = list(db.session().scalars(select(OutboxMessage).where(OutboxMessage.notification_id.in_(list(note_name)))))
    who = {officer_id: "officer"}

    def group(key: str) -> str:
        episode_id, rest = key.split(":", 1)
        return f"{ref[int(episode_id)]}:{rest}"

    def event(e: AuditEvent) -> tuple:
        detail = json.loads(e.detail) if e.detail else None
        if detail and "force" in detail:
            detail["force"] = "force"
        for key in ("sha256", "batch"):
            if detail and key in detail:
                detail[key] = key
        name = {"notification": lambda i: note_name[int(i)],
                "missing-episode": lambda i: ref[int(i)]}.get(e.object_type, lambda i: "id")
        return (e.action, e.outcome, e.object_type, name(e.object_id) if e.object_id else None, e.child_id,
                who.get(e.actor_user_id, e.actor_user_id), e.actor_roles, e.auth_method, e.access_basis,
                json.dumps(detail, sort_keys=True))

    events = list(db.session().scalars(select(AuditEvent).where(AuditEvent.id >= since_seq).order_by(AuditEvent.id)))
    return {
        "episodes": sorted((e.police_reference, e.child_id, e.reported_start, e.classification, e.risk_grade,
                            e.missing_from, e.missing_from_detail, e.found_at, e.found_where, e.source,
                            who.get(e.created_by_user_id), e.return_interview_declined, e.police_requested_meeting,
                            e.risk_factors, e.push_factors, e.pull_factors,
                            [(c.grade, c.source, who.get(c.changed_by_user_id)) for c in e.risk_history])
                           for e in episodes.values()),
        "notifications": sorted((note_name[n.id], n.organisation_id, n.reason, group(n.group_key), n.deadline_at,
                                 n.opened_at, n.acknowledged_at, n.escalated_at) for n in notes),
        "outbox": sorted((note_name[m.notification_id], m.to_address, m.subject,
                          m.body.replace(f"/notifications/{m.notification_id}", "/notifications/N"), m.status,
                          m.attempts, m.claimed_by, m.sent_at) for m in mail),
        "audit": [event(e) for e in events if e.object_type != "import-batch"],
        "batch_events": [event(e) for e in events if e.object_type == "import-batch"],
    }


def same_results(t, monkeypatch, *files: bytes) -> tuple[dict, dict, list, list]:
    """Import the files a row per chunk for the first force and in bulk for the second; both pictures."""
    pictures, batches = [], []
    for index, bulk in ((0, False), (1, True)):
        force, officer = t.forces[index]
        since = None
        for data in files:
            batch, first = import_as(index, t, data, bulk, monkeypatch)
            since = since or first
            batches.append(batch)
        pictures.append(picture(force.id, officer.id, since))
    return pictures[0], pictures[1], batches[:len(files)], batches[len(files):]


# --- the same result both ways --------------------------------------------------------------------------

def test_new_episodes_in_bulk_are_exactly_what_the_per_row_path_writes(town, monkeypatch):
    per_row, bulk, [a], [b] = same_results(town, monkeypatch, xlsx(new_rows(town)))
    assert import_batches.summary_of(a) == import_batches.summary_of(b) == {
        "created": 4, "updated": 0, "unchanged": 0, "review": 0, "dismissed": 0, "errors": 0}
    assert bulk["episodes"] == per_row["episodes"] and len(bulk["episodes"]) == 4
    assert bulk["notifications"] == per_row["notifications"]
    assert bulk["outbox"] == per_row["outbox"]
    # The same events in the same order: each episode's notifications, then its creation.
    assert bulk["audit"] == per_row["audit"]
    assert bulk["batch_events"] == per_row["batch_events"]


def test_the_bulk_path_tells_the_right_people_by_the_right_deadline(town, monkeypatch):
    force, _officer = town.forces[1]
    batch, _ = import_as(1, town, xlsx(new_rows(town)), True, monkeypatch)
    assert import_batches.summary_of(batch)["created"] == 4
    episodes = {e.police_reference: e for e in _episodes(force.id).values()}
    told = {}
    for n in db.session().scalars(select(Notification).order_by(Notification.id)):
        told.setdefault(n.episode_id, []).append(n)

    def people(reference: str) -> list[tuple[str, int, str, int]]:
        return [(n.kind.value, n.user_id, n.reason.value, n.organisation_id)
                for n in told.get(episodes[reference].id, [])]

    a, b = town.school_a.id, town.school_b.id
    # Recorded already found: told once, as found (one notification to acknowledge, not two).
    assert people("NEW/1") == [("found", town.dsl_a.id, "key_adult", a), ("found", town.deputy_a.id, "key_adult", a)]
    assert people("NEW/2") == [("missing", town.dsl_b.id, "key_adult", b)]          # a school of another authority
    assert people("NEW/3") == [("missing", town.la1_contact.id, "la_contact", town.la1.id)]  # no key adult
    assert people("NEW/4") == []                                                     # no school, no authority
    failed = list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.action == "notify", AuditEvent.outcome == "failed", AuditEvent.child_id == town.dan.id)))
    assert [json.loads(e.detail)["kind"] for e in failed] == ["found"]
    # Copies of one message share a group key; the deadline is the school's next school day start.
    for reference, school in (("NEW/1", town.school_a), ("NEW/2", town.school_b), ("NEW/3", None)):
        for n in told[episodes[reference].id]:
            assert n.group_key == f"{episodes[reference].id}:{n.kind.value}:{n.organisation_id}:0"
            assert n.deadline_at == calendar.next_school_day_start(school, n.created_at)
    closed_until = datetime.now(calendar.LONDON).date() + timedelta(days=7)
    assert all(n.deadline_at.astimezone(calendar.LONDON).date() > closed_until for n in told[episodes["NEW/1"].id])
    assert told[episodes["NEW/2"].id][0].deadline_at.astimezone(calendar.LONDON).strftime("%H:%M") == "09:15"


def test_bulk_e_mails_carry_no_personal_data_and_encrypted_columns_are_encrypted(town, monkeypatch):
    batch, _ = import_as(1, town, xlsx(new_rows(town)), True, monkeypatch)
    assert import_batches.summary_of(batch)["created"] == 4
    notes = {n.id: n for n in db.session().scalars(select(Notification))}
    mail = list(db.session().scalars(select(OutboxMessage)))
    assert sorted(m.notification_id for m in mail) == sorted(notes)  # one e-mail per notification
    emails = {u.id: u.email for u in (town.dsl_a, town.deputy_a, town.dsl_b, town.la1_contact)}
    for m in mail:
        assert m.to_address == emails[notes[m.notification_id].user_id]
        assert m.body == issuing.EMAIL_BODY.format(
            link=f"{base_url()}/notifications/{m.notification_id}")
        assert m.status.value == "pending" and m.attempts == 0
        for name in ("Ava", "Bulkfield", "Ben", "Crossborder", "Cara", "Dan", "Bus station", "NEW/"):
            assert name not in m.body and name not in m.subject
    raw = db.session().execute(text("SELECT to_address, body FROM outbox_message")).all()
    assert all("@" not in address for address, _ in raw)  # Fernet tokens, not the addresses
    raw_found = db.session().execute(text("SELECT found_where FROM missing_episode WHERE found_where IS NOT NULL"))
    assert [v for (v,) in raw_found if "Bus station" in v] == []
    assert {e.found_where for e in _episodes(town.forces[1][0].id).values()} == {"Bus station", None}


def test_the_log_still_verifies_after_a_bulk_import(town, monkeypatch, runner, app):
    import_as(1, town, xlsx(new_rows(town)), True, monkeypatch)
    audit_tree_heads.sign_tree_head()
    assert verify_log(audit_keys.signing_key().public_key()).ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output


def test_a_mixed_file_gives_the_same_result_both_ways(town, monkeypatch):
    """New rows, an update (found), a row already unchanged, a bad row, an unmatched row and a
    reference already recorded for another child, after an earlier file."""
    earlier = xlsx([row("OLD/1", police_id="BK-1"), row("OLD/2", police_id="BK-3"), row("CLASH", police_id="BK-1")])
    mixed = xlsx(new_rows(town) + [
        row("OLD/1", police_id="BK-1", found_at=FOUND),                      # found: the school told
        row("OLD/2", police_id="BK-3"),                                      # unchanged
        row("BAD", police_id="BK-1", risk_grade="Severe"),                   # refused on reading
        row("WHO", police_id="BK-UNKNOWN", given_name="Eve", family_name="Nobody", date_of_birth=datetime(2012, 1, 1)),
        row("CLASH", nhs_number=town.nhs),                                   # another child's reference
    ])
    per_row, bulk, batches_a, batches_b = same_results(town, monkeypatch, earlier, mixed)
    summary = {"created": 4, "updated": 1, "unchanged": 1, "review": 1, "dismissed": 0, "errors": 2}
    assert import_batches.summary_of(batches_a[1]) == import_batches.summary_of(batches_b[1]) == summary
    assert import_batches.errors_of(batches_a[1]) == import_batches.errors_of(batches_b[1]) == [
        {"row": 8, "reason": "Risk grade: not one of No apparent risk, Low, Medium or High"},
        {"row": 10, "reason": "Police reference: This police reference is recorded for a different child"}]
    for part in ("episodes", "notifications", "outbox", "audit", "batch_events"):
        assert bulk[part] == per_row[part], part
    waiting = list(db.session().scalars(
        select(ImportReviewItem).where(ImportReviewItem.status == ReviewStatus.waiting)))
    assert sorted(i.police_org_id for i in waiting) == sorted(f.id for f, _ in town.forces)
    # And the same file again changes nothing, whichever path wrote it.
    again, _ = import_as(1, town, mixed, True, monkeypatch)
    assert import_batches.summary_of(again) == {"created": 0, "updated": 0, "unchanged": 6, "review": 1, "dismissed": 0,
                                         "errors": 2}


# --- failures -------------------------------------------------------------------------------------------

def test_a_database_error_in_the_bulk_insert_falls_back_to_one_row_at_a_time(town, monkeypatch):
    """The bulk savepoint is rolled back whole (nothing it wrote stays), the rows then go one by
    one, and the one row that cannot be stored fails alone."""
    real_bulk, real_row = service.create_episodes, service.apply_police_record
    calls = []

    def failing_bulk(actor, police_org_id, rows, source, **kwargs):
        made = real_bulk(actor, police_org_id, rows, source, **kwargs)
        if len(rows) == 1:
            return made  # a row on its own, from apply_police_record
        calls.append(len(rows))
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))  # wrote everything, then refused

    def one_bad_row(actor, police_org_id, child_id, details, source):
        if details.police_reference == "NEW/2":
            raise OperationalError("INSERT", {}, Exception("constraint"))
        return real_row(actor, police_org_id, child_id, details, source)

    monkeypatch.setattr(service, "create_episodes", failing_bulk)
    monkeypatch.setattr(service, "apply_police_record", one_bad_row)
    batch, since = import_as(1, town, xlsx(new_rows(town)), True, monkeypatch)
    assert calls == [4]
    assert import_batches.summary_of(batch)["created"] == 3 and import_batches.summary_of(batch)["errors"] == 1
    assert import_batches.errors_of(batch) == [
        {"row": 3, "reason": "Row: it could not be stored (a database error); import the file again"}]
    force, officer = town.forces[1]
    assert sorted(e.police_reference for e in _episodes(force.id).values()) == ["NEW/1", "NEW/3", "NEW/4"]
    creates = db.session().scalars(select(AuditEvent.object_id).where(
        AuditEvent.id >= since, AuditEvent.action == "create", AuditEvent.object_type == "missing-episode")).all()
    assert len(creates) == 3  # the rolled-back bulk attempt left no event behind
    assert db.session().scalar(select(Notification.id).where(
        Notification.episode_id.not_in(list(_episodes(force.id))))) is None
    audit_tree_heads.sign_tree_head()
    assert verify_log(audit_keys.signing_key().public_key()).ok


def test_an_error_in_the_hub_during_the_bulk_path_stops_the_import_and_keeps_the_chunks_before_it(
        town, monkeypatch):
    real = service.create_episodes
    seen = []

    def broken(actor, police_org_id, rows, source):
        seen.append(len(rows))
        if len(seen) == 2:
            raise RuntimeError("the hub broke")
        return real(actor, police_org_id, rows, source)

    monkeypatch.setattr(service, "create_episodes", broken)
    monkeypatch.setattr(import_batches, "CHUNK_ROWS", 2)
    batch, _ = import_as(1, town, xlsx(new_rows(town)), True, monkeypatch)
    assert batch.status.value == "failed"
    summary = import_batches.summary_of(batch)
    assert "stopped at row 4" in summary["failure"] and summary["created"] == 2
    assert sorted(e.police_reference for e in _episodes(town.forces[1][0].id).values()) == ["NEW/1", "NEW/2"]


def test_progress_is_reported_per_chunk_on_the_bulk_path(town, monkeypatch):
    monkeypatch.setattr(import_batches, "CHUNK_ROWS", 3)
    seen = []
    batch, _ = import_as(1, town, xlsx(new_rows(town) + [row("BAD", police_id="BK-1", risk_grade="?")]), True,
                         monkeypatch, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 5), (4, 5), (5, 5)]
    assert batch.rows_done == batch.rows_total == 5


# --- the service and routing functions themselves -------------------------------------------------------

def test_create_episodes_refuses_bad_rows_alone_and_leaves_recorded_ones_to_the_per_row_path(town):
    force, officer = town.forces[0]

    def details(reference: str, **extra) -> missing_details.EpisodeDetails:
        values = dict(police_reference=reference, reported_start=utcnow() - timedelta(hours=3),
                      classification=Classification.missing, risk_grade=RiskGrade.low, missing_from=MissingFrom.home)
        values.update(extra)
        return missing_details.EpisodeDetails(**values)

    with unit_of_work():
        service.apply_police_record(officer, force.id, town.ava.id, details("DONE/1"), EpisodeSource.api)
    with unit_of_work():
        results = service.create_episodes(officer, force.id, [
            (town.ava.id, details("B/1")),
            (town.ava.id, details("B/2", reported_start=utcnow() + timedelta(days=1))),   # in the future
            (999_999, details("B/3")),                                                     # no such child
            (town.ava.id, details("DONE/1")),                                              # already recorded
            (town.ben.id, details(" B/1 ")),                                               # repeated in the call
            (town.cara.id, details("B/4")),
        ], EpisodeSource.api)
    assert isinstance(results[0], int) and isinstance(results[5], int)
    assert isinstance(results[1], Invalid) and "reported_start" in results[1].errors
    assert isinstance(results[2], Invalid) and results[2].errors == {"child": "No such child"}
    assert results[3] is service.NOT_NEW and results[4] is service.NOT_NEW
    assert {e.police_reference for e in _episodes(force.id).values()} == {"DONE/1", "B/1", "B/4"}


def test_routes_for_many_children_are_route_for_each(town):
    children = [town.ava, town.ben, town.cara, town.dan]
    many = routing.routes_for([c.id for c in children])
    for child in children:
        one = routing.route(child)
        got = many[child.id]
        assert (got is None) == (one is None)
        if got is not None:
            assert got.organisation.id == one.organisation.id
            assert [(u.id, r) for u, r in got.recipients] == [(u.id, r) for u, r in one.recipients]
    assert {c: s.id for c, s in routing.current_schools([c.id for c in children]).items()} == {
        town.ava.id: town.school_a.id, town.ben.id: town.school_b.id, town.cara.id: town.school_c.id}


def test_next_school_day_starts_are_next_school_day_start_for_each_school(town):
    with unit_of_work() as s:  # an authority-wide closure reaches school C too
        s.add(SchoolClosure(organisation_id=town.la1.id, first_day=date.today() + timedelta(days=1),
                            last_day=date.today() + timedelta(days=3), kind=ClosureKind.holiday))
    for moment in (utcnow(), datetime(2026, 12, 24, 18, 0, tzinfo=UTC),
                   datetime(2026, 3, 27, 23, 0, tzinfo=UTC)):
        schools = [town.school_a, town.school_b, town.school_c]
        starts = calendar.next_school_day_starts(schools, moment)
        assert starts == {s.id: calendar.next_school_day_start(s, moment) for s in schools}


# --- the canonical JSON behind every leaf ------------------------------------------------------------------

CANONICAL_CASES = [
    {"a": 1, "b": None, "c": "x"},
    {"z": [1, 2, {"y": "é", "x": "\u2028"}], "a": True, "m": False},
    {"text": "quote \" backslash \\ slash / tab \t newline \n bell \x07 del \x7f nul \x00"},
    {"emoji": "\U0001F600", "cjk": "漢字", "ascii": "plain"},
    {"big": 2**53 - 1, "small": -(2**53 - 1), "zero": 0},
    {"big": 2**53},                       # outside I-JSON: rfc8785 decides
    {"float": 1.0, "exp": 1e21},          # floats: rfc8785 decides
    {"é": 1, "e": 2},                     # a non-ASCII key: rfc8785 decides
    {"nested": {"deeper": {"deepest": [None, "", []]}}},
    [],
    "just text",
]


@pytest.mark.parametrize("value", CANONICAL_CASES)
def test_canonical_json_is_byte_for_byte_rfc8785(value):
    try:
        expected = rfc8785.dumps(value)
    except Exception as exc:  # noqa: BLE001 - then the hub must refuse it the same way
        with pytest.raises(type(exc)):
            audit.canonical_json(value)
        return
    assert audit.canonical_json(value) == expected


def test_canonical_json_matches_rfc8785_on_event_like_values():
    rng = random.Random(5)
    alphabet = "abcXYZ09 \"\\/\t\n\x01\x1f\x7fé漢\u2028\U0001F600"
    for _ in range(500):
        value = {f"k{rng.randint(0, 30)}": rng.choice([
            None, True, False, rng.randint(-2**53 + 1, 2**53 - 1),
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))),
            [rng.randint(0, 9), "x"], {"inner": rng.randint(0, 5)}]) for _ in range(rng.randint(0, 8))}
        assert audit.canonical_json(value) == rfc8785.dumps(value)
