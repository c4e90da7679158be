"""MACE figures (issue 11): a group with five years of history (120 meetings, 3,000 agenda items,
1,500 children, 400 locations, 300 persons of concern, 50,000 intelligence items, 10,000
actions). Through HTTP on gunicorn (2 workers), signed in as the group's chair: the meeting page,
the agenda proposals and the network view, each p95 (goal under 300 ms) with the SQL statements
per page (goal: a fixed number, the same for a small group); and the per-agency export of a
meeting (goal under 2 s). Baseline, alternated with each page in the same run: the hub's own
`/mace` page (the member's list of groups: sign-in, session, audit write, one small query).

Run: `make bench` or `.venv/bin/python -m bench.mace [--scale 1.0] [--requests 40]`.
Traffic goes to 127.0.0.1 only, bounded in count; the server and the database are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, select

from bench.audit_log import _app, _environment
from bench.http_throughput import _serve, _signed_in_session
from bench.world import signed_in_client
from hub import db
from hub.admin import service as admin
from hub.auth import second_factor as auth_second_factor
from hub.models.mace import (
    ActionStatus,
    Attendance,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceIntelligenceSubject,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MaceOutcome,
    MacePerson,
    MeetingStatus,
    MemberRole,
)
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    NoConsentReason,
    ObtainedHow,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.people.holders import record_holders

PASSWORD = "bench password 123"


def _scaled(scale: float) -> dict[str, int]:
    full = {"meetings": 120, "items": 3000, "children": 1500, "locations": 400, "persons": 300,
            "intelligence": 50_000, "actions": 10_000, "links": 4000}
    # At least 25 children: the meeting the pages open has 25 on its agenda, whatever the history.
    return {k: max(30 if k == "children" else 4, int(v * scale)) for k, v in full.items()}


def _insert(model, rows: list[dict], chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        with db.unit_of_work() as s:
            s.execute(insert(model), rows[start:start + chunk])


def _ids(model, **where) -> list[int]:
    query = select(model.id).order_by(model.id)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return list(db.session().scalars(query))


def build_group(code: str, sizes: dict[str, int], orgs: dict, users: dict, seed: int = 5) -> dict:
    """A group with `sizes` of history, loaded through SQLAlchemy Core (encrypted columns and
    all), as the services would have left it."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5 * 365)
    agencies = [orgs[k].id for k in ("la", "police", "health", "school")]
    with db.unit_of_work() as s:
        group = MaceGroup(code=code, name=f"Bench group {code}", host_organisation_id=orgs["host"].id,
                          area_authority_id=orgs["la"].id)
        s.add(group)
        s.flush()
        for org in agencies:
            s.add(MaceMembership(group_id=group.id, organisation_id=org))
        for key, role in (("chair", MemberRole.chair), ("chair2", MemberRole.co_chair), ("police", MemberRole.member),
                          ("nurse", MemberRole.member)):
            s.add(MaceMember(group_id=group.id, user_id=users[key].id, organisation_id=users[key].organisation_id,
                             role=role, start_date=start.date()))
        group_id = group.id
    first_child = (db.session().query(Child.id).order_by(Child.id.desc()).limit(1).scalar() or 0) + 1
    _insert(Child, [dict(given_name=f"Child{i}", family_name=f"{code}", date_of_birth_enc="2011-05-01",
                         dob_hash=f"bench{i}", gender="female", responsible_authority_id=orgs["la"].id,
                         looked_after=i % 5 == 0, created_at=now) for i in range(sizes["children"])])
    children = list(range(first_child, first_child + sizes["children"]))
    _insert(MaceAgendaChild, [dict(group_id=group_id, child_id=c, added_at=start, risk_level="Medium",
                                   risk_set_at=start,
                                   risk_review_due=(now + timedelta(days=rng.randint(-30, 90))).date())
                              for c in children])
    _insert(MaceLocation, [dict(group_id=group_id, name=f"Place {i}", kind="park", address=f"{i} Bench Street",
                                postcode="NB1 1AA", created_by_user_id=users["police"].id, created_at=start)
                           for i in range(sizes["locations"])])
    locations = _ids(MaceLocation, group_id=group_id)
    _insert(MacePerson, [dict(group_id=group_id, kind="person", name=f"Nickname {i}", description="Bench",
                              article_10="10+S1P10", justification="Bench",
                              review_on=(now + timedelta(days=100)).date(),
                              created_by_user_id=users["police"].id, created_at=start)
                         for i in range(sizes["persons"])])
    persons = _ids(MacePerson, group_id=group_id)
    links = []
    for i in range(sizes["links"]):
        kind = i % 3
        row = dict(group_id=group_id, child_id=None, location_id=None, person_id=None, source="Bench patrol",
                   seen_on=start.date(), created_by_user_id=users["police"].id, created_at=start)
        if kind == 0:
            row.update(child_id=rng.choice(children), location_id=rng.choice(locations))
        elif kind == 1:
            row.update(child_id=rng.choice(children), person_id=rng.choice(persons))
        else:
            row.update(person_id=rng.choice(persons), location_id=rng.choice(locations))
        links.append(row)
    _insert(MaceLink, links)
    step = (now - start) / sizes["meetings"]
    _insert(MaceMeeting, [dict(group_id=group_id, scheduled_for=start + step * i, status=MeetingStatus.held,
                               held_at=start + step * i, notes="Bench notes", created_by_user_id=users["chair"].id,
                               created_at=start) for i in range(sizes["meetings"])])
    meetings = _ids(MaceMeeting, group_id=group_id)
    per_meeting = max(1, sizes["items"] // len(meetings))
    items = []
    for m in meetings:
        for position in range(per_meeting):
            items.append(dict(meeting_id=m, position=position, child_id=rng.choice(children), reason="Bench",
                              minutes="Minutes of the discussion", decisions="Decisions", risk_level="Medium",
                              risk_review_on=now.date(), added_by_user_id=users["chair"].id, created_at=start))
    _insert(MaceAgendaItem, items)
    _insert(MaceAttendance, [dict(meeting_id=m, user_id=users[k].id, organisation_id=users[k].organisation_id,
                                  attendance=Attendance.present)
                             for m in meetings for k in ("chair", "police", "nurse")])
    outcome_rows = []
    for item in items:
        for k in ("chair", "police", "nurse"):
            outcome_rows.append(dict(meeting_id=item["meeting_id"], organisation_id=users[k].organisation_id,
                                     child_id=item["child_id"], outcome="Recorded", system_name="Bench system",
                                     system_reference="REF-1", confirmed_at=start, created_at=start))
    # One outcome per agency and child per meeting (a child may come up twice in one meeting).
    unique = {(r["meeting_id"], r["organisation_id"], r["child_id"]): r for r in outcome_rows}
    _insert(MaceOutcome, list(unique.values()))
    item_ids = _ids(MaceAgendaItem)[-len(items):]
    _insert(MaceAction, [dict(group_id=group_id, meeting_id=rng.choice(meetings), item_id=rng.choice(item_ids),
                              kind="task", description=f"Action {i}", owner_organisation_id=rng.choice(agencies),
                              owner_user_id=users["police"].id, due_on=(start + step * (i % 120)).date(),
                              status=ActionStatus.done if i % 10 else ActionStatus.open, breaches=0,
                              created_by_user_id=users["chair"].id, created_at=start)
                         for i in range(sizes["actions"])])
    shares = []
    for i in range(sizes["intelligence"]):
        shares.append(dict(
            child_id=rng.choice(children) if i % 2 else None, mace_group_id=group_id, sender_org_id=orgs["police"].id,
            sender_user_id=users["police"].id, shared=True, category=Category.police_intelligence,
            summary=f"Intelligence {i}", content="Seen with older males", purpose="MACE", special_category=False,
            criminal_offence=True, law_enforcement=True, part_3="S35+S8P4", article_6="6(1)(e)",
            source_kind=SourceKind.organisation, source_description="Patrol", obtained_how=ObtainedHow.observation,
            obtained_on=start.date(), source_evaluation="2", intelligence_assessment="B", handling_code="P",
            consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime,
            created_at=start + timedelta(minutes=i)))
    _insert(ShareRecord, shares)
    share_rows = list(db.session().execute(
        ShareRecord.__table__.select().with_only_columns(ShareRecord.id, ShareRecord.child_id, ShareRecord.created_at)
        .where(ShareRecord.mace_group_id == group_id)))
    _insert(ShareRecipient, [dict(share_id=sid, organisation_id=org, status="sent")
                             for sid, _c, _t in share_rows for org in agencies if org != orgs["police"].id])
    _insert(ShareAccess, [dict(share_id=sid, organisation_id=org, created_at=at)
                          for sid, _c, at in share_rows for org in agencies])
    with db.unit_of_work() as s:
        record_holders(s, [(c, org) for _s, c, _t in share_rows if c for org in agencies])
    _insert(MaceIntelligenceSubject, [
        dict(share_id=sid, child_id=c, location_id=None if c else rng.choice(locations), person_id=None)
        for sid, c, _t in share_rows])
    # The meeting the pages open: the latest, not yet held, with a full agenda.
    with db.unit_of_work() as s:
        meeting = MaceMeeting(group_id=group_id, scheduled_for=now + timedelta(days=7),
                              created_by_user_id=users["chair"].id)
        s.add(meeting)
        s.flush()
        for position in range(25):
            s.add(MaceAgendaItem(meeting_id=meeting.id, position=position, child_id=children[position], reason="Bench",
                                 added_by_user_id=users["chair"].id))
        upcoming = meeting.id
    busiest = max(locations, key=lambda loc: sum(1 for row in links if row["location_id"] == loc))
    return {"group": group_id, "meeting": upcoming, "held_meeting": meetings[-1], "location": busiest}


def _setup(folder: Path, scale: float):
    _environment(folder)
    os.environ["HUB_IDLE_TIMEOUT_MINUTES"] = "120"
    app = _app()
    orgs = {
        "host": admin.create_organisation(None, admin.OrganisationDetails("B-HOST", "Bench partnership",
                                                                          OrgKind.mace_host, "BHOST")),
        "la": admin.create_organisation(None, admin.OrganisationDetails("B-LA", "Bench LA",
                                                                        OrgKind.childrens_social_care, "901")),
        "police": admin.create_organisation(None, admin.OrganisationDetails("B-POL", "Bench police", OrgKind.police,
                                                                            "97")),
        "health": admin.create_organisation(None, admin.OrganisationDetails("B-NHS", "Bench NHS", OrgKind.health,
                                                                            "RB1")),
        "school": admin.create_organisation(None, admin.OrganisationDetails("B-SCH", "Bench school", OrgKind.school,
                                                                            "990998")),
    }
    users = {
        "chair": admin.create_user(None, admin.UserDetails("chair@bench.example.test", "Bench Chair", orgs["la"].id,
                                                           {Role.social_worker, Role.mace_chair}, password=PASSWORD)),
        # The co-chair opens the pages in-process to count statements (a TOTP code signs in once only).
        "chair2": admin.create_user(None, admin.UserDetails("chair2@bench.example.test", "Bench Co-chair",
                                                            orgs["la"].id, {Role.social_worker}, password=PASSWORD)),
        "police": admin.create_user(None, admin.UserDetails("police@bench.example.test", "Bench PC",
                                                            orgs["police"].id, {Role.police_officer},
                                                            password=PASSWORD)),
        "nurse": admin.create_user(None, admin.UserDetails("nurse@bench.example.test", "Bench Nurse",
                                                           orgs["health"].id, {Role.health_practitioner},
                                                           password=PASSWORD)),
    }
    secret, secret2 = auth_second_factor.new_totp_secret(), auth_second_factor.new_totp_secret()
    with db.unit_of_work():
        users["chair"].totp_secret, users["chair"].totp_confirmed_at = secret, db.utcnow()
        users["chair2"].totp_secret, users["chair2"].totp_confirmed_at = secret2, db.utcnow()
    started = time.perf_counter()
    big = build_group("BIG", _scaled(scale), orgs, users)
    small = build_group("SMALL", _scaled(0.01), orgs, users, seed=6)
    print(f"(loaded a group with {_scaled(scale)} in {time.perf_counter() - started:.0f} s)")
    return app, users, (secret, secret2), big, small


def _pages(ids: dict) -> dict[str, str]:
    return {
        "meeting page": f"/mace/meetings/{ids['meeting']}",
        "agenda proposals": f"/mace/meetings/{ids['meeting']}/proposals",
        "network view": f"/mace/network/location/{ids['location']}",
    }


def _statements(client, app, url: str) -> int:
    """SQL statements of one request, counted in-process with the same app and database."""
    client.get(url)  # warm
    engine = app.extensions["hub_engine"]
    count = {"n": 0}

    def bump(*_a, **_k):
        count["n"] += 1

    event.listen(engine, "before_cursor_execute", bump)
    try:
        status = client.get(url).status_code
    finally:
        event.remove(engine, "before_cursor_execute", bump)
    assert status == 200, f"{url} answered {status}"
    return count["n"]


def _p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def _alternate(session, base: str, url: str, baseline: str, requests_: int) -> tuple[list[float], list[float]]:
    page, base_times = [], []
    for i in range(requests_ + 3):
        for target, times in ((url, page), (baseline, base_times)):
            started = time.perf_counter()
            response = session.get(base + target, allow_redirects=False, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, f"{target} answered {response.status_code}"
            if i >= 3:  # warm-up
                times.append(elapsed)
    return page, base_times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the five-year history to load")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-mace-"))
    results: dict = {}
    server = None
    try:
        app, users, (secret, secret2), big, small = _setup(folder, args.scale)
        counter = signed_in_client(app, users["chair2"], secret2)
        db.session.remove()
        server, base = _serve("hub:create_app()", dict(os.environ))
        session = _signed_in_session(base, "chair@bench.example.test", PASSWORD, secret)
        small_pages = _pages(small)
        for name, url in _pages(big).items():
            page, baseline = _alternate(session, base, url, "/mace", args.requests)
            statements = _statements(counter, app, url)
            small_statements = _statements(counter, app, small_pages[name])
            results[name] = {"median_ms": statistics.median(page), "p95_ms": _p95(page),
                             "baseline_p95_ms": _p95(baseline), "statements": statements,
                             "statements_small_group": small_statements}
            r = results[name]
            print(f"{name}: median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms "
                  f"(baseline /mace p95 {r['baseline_p95_ms']:.0f} ms, "
                  f"ratio {r['p95_ms'] / r['baseline_p95_ms']:.1f}); "
                  f"{statements} SQL statements ({small_statements} for a small group); goal p95 < 300 ms: "
                  f"{'met' if r['p95_ms'] < 300 and statements == small_statements else 'NOT met'}")
        export_url = f"/mace/meetings/{big['held_meeting']}/export.xlsx"
        timings, base_times = [], []
        for _ in range(5):
            for target, times in ((export_url, timings), ("/mace", base_times)):
                started = time.perf_counter()
                response = session.get(base + target, timeout=60)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, f"{target} answered {response.status_code}"
        results["export"] = {"worst_s": max(timings), "median_s": statistics.median(timings),
                             "statements": _statements(counter, app, export_url)}
        print(f"per-agency export of a meeting: median {statistics.median(timings):.2f} s, worst {max(timings):.2f} s "
              f"(baseline /mace median {statistics.median(base_times) * 1000:.0f} ms); "
              f"{results['export']['statements']} SQL statements; goal < 2 s: "
              f"{'met' if max(timings) < 2 else 'NOT met'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
