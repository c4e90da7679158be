"""Reports figures (issue 14): five years of a large county (20,000 children, 50,000 episodes,
200,000 school notifications), bulk-loaded through SQLAlchemy Core. Through HTTP on gunicorn (2
workers), signed in with password + TOTP: the dashboard (`/reports`) for a year's filter as the
partnership's analyst and as a missing-team social worker of an authority, p95 over `--requests`
requests (goal < 500 ms), each alternated with two baselines in the same run: the same page for a
year with no episodes, and the home page `/`. SQL statements per dashboard request, counted
in-process (a `before_cursor_execute` listener) for the full county and for a small authority (or
a one-week period): goal a fixed number, the same both ways. The annual workbook through the CLI
(`flask --app hub reports annual --year 2026`, goal < 10 s) against the same command for a year
with no data, and in-process (`annual.build`). Both returns (`ssd_missing`, the SSDA903 missing
file) downloaded over HTTP by the authority's social worker (goal < 5 s each) against the returns
page. Where a figure is short of its goal, a cProfile of it in-process is printed.

Run: `make bench` or `.venv/bin/python -m bench.reports [--scale 1.0] [--requests 40]`
(`--scale 0.05` for a quick look). SQLite in a temporary folder; with
`HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres` a database created
on that server for the run and dropped at its end. Traffic goes to 127.0.0.1 only, bounded in
count; the server and the database are removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, select

from bench._databases import on_bench_database
from bench._util import PASSWORD, analyse, environment, flask, percentile, scratch, serve, stop
from bench.audit_log import _app
from bench.http_throughput import _signed_in_session
from bench.world import make_user, signed_in_client
from hub import db
from hub.admin import service as admin
from hub.crypto import blind_index
from hub.models.auth import User
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification
from hub.models.people import Child, ChildIdentifier, Enrolment, IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.people.holders import record_holders
from hub.people.service import normalise_identifier
from hub.permissions import command_line_report_scope, report_scope
from hub.reports import annual, figures, returns
from hub.reports.returns import CollectionYear

FULL = {"children": 20_000, "episodes": 50_000, "notifications": 200_000}
YEAR_ARGS = "date_from=1&date_from=1&date_from=2025&date_to=31&date_to=12&date_to=2025"
EMPTY_YEAR_ARGS = "date_from=1&date_from=1&date_from=2016&date_to=31&date_to=12&date_to=2016"
WEEK_ARGS = "date_from=1&date_from=6&date_from=2025&date_to=7&date_to=6&date_to=2025"
ANNUAL_YEAR, EMPTY_ANNUAL_YEAR = 2026, 2017
DASHBOARD_GOAL_MS, ANNUAL_GOAL_S, RETURN_GOAL_S = 500, 10, 5


def _scaled(scale: float) -> dict[str, int]:
    return {k: max(50, int(v * scale)) for k, v in FULL.items()}


def _insert(model, rows: list[dict], chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        with db.unit_of_work() as s:
            s.execute(insert(model), rows[start:start + chunk])


def _ids(column, *where) -> list[int]:
    return list(db.session().scalars(select(column).where(*where).order_by(column)))


def _organisations() -> dict:
    def org(code, name, kind, identifier):
        return admin.create_organisation(None, admin.OrganisationDetails(code, name, kind, identifier))

    return {
        # Three authorities share the county's children; a fourth, small one holds 1% of them (its
        # social worker's statement count is the "small" one).
        "las": [org(f"B-LA{i}", f"Bench LA {i}", OrgKind.childrens_social_care, f"{901 + i}") for i in range(3)],
        "small_la": org("B-LAS", "Bench small LA", OrgKind.childrens_social_care, "909"),
        "forces": [org(f"B-POL{i}", f"Bench police {i}", OrgKind.police, f"{91 + i}") for i in range(2)],
        "schools": [org(f"B-SCH{i}", f"Bench school {i}", OrgKind.school, f"{990000 + i}") for i in range(40)],
        "host": org("B-HOST", "Bench partnership", OrgKind.mace_host, "BHOST"),
    }


def _users(orgs: dict) -> dict:
    """Each with a confirmed TOTP secret: (user, secret). The second analyst and social worker
    open pages in-process to count statements (a TOTP code signs in once only)."""
    la = orgs["las"][0]
    wanted = {"analyst": (orgs["host"], Role.analyst), "analyst2": (orgs["host"], Role.analyst),
              "sw": (la, Role.social_worker), "sw2": (la, Role.social_worker),
              "sw_small": (orgs["small_la"], Role.social_worker)}
    wanted.update({f"dsl{i}": (orgs["schools"][i], Role.dsl) for i in range(5)})
    return {key: make_user(org, role, f"{key}@bench.example.test")
            for key, (org, role) in wanted.items()}


def load_county(sizes: dict[str, int], orgs: dict, users: dict, seed: int = 14) -> None:
    """Five years of a county up to now, as the services would have left it (encrypted columns
    encrypted by their types; each child has the authority's own id, so both returns name them)."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=5 * 365)
    las = [la.id for la in orgs["las"]]
    small = orgs["small_la"].id
    children = []
    for n in range(sizes["children"]):
        dob = date(2008, 1, 1) + timedelta(days=rng.randint(0, 365 * 14))
        home = small if n % 100 == 0 else rng.choice(las)
        looked_after = rng.random() < 0.2
        # Some looked-after children are placed in the area by another authority.
        placed_elsewhere = looked_after and rng.random() < 0.3
        placing = rng.choice([la for la in las + [small] if la != home]) if placed_elsewhere else None
        children.append(dict(given_name=f"Child{n}", family_name="Bench", date_of_birth_enc=dob.isoformat(),
                             dob_hash=f"bench{n}", birth_month=dob.replace(day=1),
                             gender=rng.choice(["female", "male"]),
                             looked_after=looked_after, responsible_authority_id=home, placing_authority_id=placing,
                             is_demo=False, created_at=first))
    _insert(Child, children)
    child_ids = _ids(Child.id)
    homes = {cid: row["responsible_authority_id"] for cid, row in zip(child_ids, children, strict=True)}
    _insert(ChildIdentifier, [dict(child_id=cid, kind=IdentifierKind.la_id, value=f"LA{cid:07d}",
                                   lookup_hash=blind_index("la_id", normalise_identifier(f"LA{cid:07d}")))
                              for cid in child_ids])
    schools = [s.id for s in orgs["schools"]]
    _insert(Enrolment, [dict(child_id=cid, school_id=rng.choice(schools), start_date=date(2020, 9, 1))
                        for cid in child_ids])
    span = int((now - first).total_seconds() // 60)
    episodes = []
    for n in range(sizes["episodes"]):
        child = rng.choice(child_ids)
        start = first + timedelta(minutes=rng.randint(0, span))
        found = start + timedelta(hours=rng.randint(1, 60)) if rng.random() < 0.97 else None
        interviewed = found + timedelta(hours=rng.randint(10, 120)) if found and rng.random() < 0.6 else None
        episodes.append(dict(
            child_id=child, police_org_id=rng.choice(orgs["forces"]).id, police_reference=f"R{n}", reported_start=start,
            classification=rng.choice(["missing", "absent"]),
            risk_grade=rng.choice(["no_apparent_risk", "low", "medium", "high"]),
            missing_from=rng.choice(["home", "care_placement", "school", "other"]), found_at=found,
            prevention_check_at=found + timedelta(hours=rng.randint(1, 8)) if found else None,
            return_interview_offered_at=found, return_interview_at=interviewed,
            return_interview_declined=bool(found and not interviewed and rng.random() < 0.2),
            iro_informed_at=start + timedelta(hours=6) if rng.random() < 0.15 else None,
            home_authority_id=homes[child], receiving_authority_id=rng.choice(las),
            strategy_discussion_at=start + timedelta(hours=30) if rng.random() < 0.05 else None,
            trigger_plan_at=start - timedelta(days=10) if rng.random() < 0.3 else None,
            push_factors="problems_at_home" if rng.random() < 0.3 else "", pull_factors="", risk_factors="",
            source="manual", police_requested_meeting=False, created_at=start, updated_at=start))
    _insert(MissingEpisode, episodes)
    with db.unit_of_work() as s:
        record_holders(s, [(e["child_id"], e[column]) for e in episodes
                           for column in ("police_org_id", "home_authority_id", "receiving_authority_id")])
    episode_ids = _ids(MissingEpisode.id)
    starts = dict(zip(episode_ids, (e["reported_start"] for e in episodes), strict=True))
    dsls = [users[f"dsl{i}"][0] for i in range(5)]
    notes = []
    for n in range(sizes["notifications"]):
        e = rng.choice(episode_ids)
        dsl = dsls[n % 5]
        deadline = starts[e] + timedelta(hours=2)
        notes.append(dict(episode_id=e, organisation_id=dsl.organisation_id, user_id=dsl.id, kind="missing",
                          reason="key_adult", group_key=f"{e}:missing:{dsl.organisation_id}:1", deadline_at=deadline,
                          acknowledged_at=starts[e] + timedelta(minutes=rng.randint(5, 300)) if n % 3 else None,
                          escalated_at=deadline if n % 3 == 0 and n % 2 else None, created_at=starts[e]))
    _insert(Notification, notes, chunk=10_000)


# --- measuring ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def counting(app):
    """SQL statements run while the block runs, counted on the hub's engine."""
    engine = app.extensions["hub_engine"]
    count = {"n": 0}

    def bump(*_a, **_k):
        count["n"] += 1

    event.listen(engine, "before_cursor_execute", bump)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", bump)


def statements(client, app, url: str) -> int:
    """SQL statements of one request (after a warm one), in-process with the same app and database."""
    client.get(url)
    with counting(app) as count:
        status = client.get(url).status_code
    assert status == 200, f"{url} answered {status}"
    return count["n"]


def alternate(session, base: str, targets: dict[str, str], rounds: int, warm: int = 3) -> dict[str, list[float]]:
    """Each target in turn, `rounds` times after `warm` rounds: milliseconds per target."""
    times: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(rounds + warm):
        for name, url in targets.items():
            started = time.perf_counter()
            response = session.get(base + url, allow_redirects=False, timeout=120)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, f"{url} answered {response.status_code}"
            if i >= warm:
                times[name].append(elapsed)
    return times


def profile(label: str, call, lines: int = 18) -> None:
    """A cProfile of one call, by cumulative time, printed."""
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"--- profile: {label} ---\n{out.getvalue()}")


def _met(ok: bool) -> str:
    return "met" if ok else "SHORT"


def _dashboard_figures(app, session, base: str, client, small_client, label: str, rounds: int,
                       small_url: str) -> dict:
    times = alternate(session, base, {"year": f"/reports?{YEAR_ARGS}", "empty": f"/reports?{EMPTY_YEAR_ARGS}",
                                      "home": "/"}, rounds)
    full = statements(client, app, f"/reports?{YEAR_ARGS}")
    small = statements(small_client, app, small_url)
    r = {"median_ms": statistics.median(times["year"]), "p95_ms": percentile(times["year"], 95),
         "empty_p95_ms": percentile(times["empty"], 95), "home_p95_ms": percentile(times["home"], 95),
         "statements": full, "statements_small": small, "requests": len(times["year"])}
    r["met"] = r["p95_ms"] < DASHBOARD_GOAL_MS and full == small
    print(f"dashboard, a year's filter, {label}: median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms "
          f"over {r['requests']} requests (baselines p95: the same page for an empty year {r['empty_p95_ms']:.0f} ms, "
          f"ratio {r['p95_ms'] / r['empty_p95_ms']:.1f}; home page {r['home_p95_ms']:.0f} ms, ratio "
          f"{r['p95_ms'] / r['home_p95_ms']:.1f}); {full} SQL statements ({small} at small scale); "
          f"goal p95 < {DASHBOARD_GOAL_MS} ms, fixed statements: {_met(r['met'])}", flush=True)
    return r


def _annual_figures(env: dict) -> dict:
    with scratch("hub-bench-annual-") as out:
        runs, empty = [], []
        for _ in range(2):
            for year, times in ((ANNUAL_YEAR, runs), (EMPTY_ANNUAL_YEAR, empty)):
                started = time.perf_counter()
                done = flask(["reports", "annual", "--year", str(year), "--out", str(out / f"{year}.xlsx")], env)
                times.append(time.perf_counter() - started)
                assert done.returncode == 0, done.stderr[-2000:]
        size = (out / f"{ANNUAL_YEAR}.xlsx").stat().st_size
    started = time.perf_counter()
    annual.build(command_line_report_scope(), CollectionYear(ANNUAL_YEAR), 10, True)
    in_process = time.perf_counter() - started
    r = {"worst_s": max(runs), "empty_worst_s": max(empty), "in_process_s": in_process, "bytes": size}
    r["met"] = r["worst_s"] < ANNUAL_GOAL_S
    print(f"annual workbook {ANNUAL_YEAR} via `flask --app hub reports annual`: worst of 2 {r['worst_s']:.1f} s "
          f"({size:,} bytes; baseline the same command for {EMPTY_ANNUAL_YEAR}, a year with no data: "
          f"{r['empty_worst_s']:.1f} s, ratio {r['worst_s'] / r['empty_worst_s']:.1f}); in-process build "
          f"{in_process:.1f} s; goal < {ANNUAL_GOAL_S} s: {_met(r['met'])}", flush=True)
    return r


def _returns_figures(session, base: str, rounds: int = 5) -> dict:
    targets = {"ssd_missing": "/reports/returns/ssd-missing.csv",
               "ssda903_missing": f"/reports/returns/ssda903-missing.csv?year={ANNUAL_YEAR}",
               "returns page": "/reports/returns"}
    times = alternate(session, base, targets, rounds, warm=1)
    sizes = {name: len(session.get(base + url, timeout=120).content.splitlines()) - 1
             for name, url in targets.items() if name != "returns page"}
    baseline = statistics.median(times["returns page"])
    results = {}
    for name in ("ssd_missing", "ssda903_missing"):
        worst = max(times[name]) / 1000
        results[name] = {"worst_s": worst, "median_s": statistics.median(times[name]) / 1000, "rows": sizes[name],
                         "baseline_median_ms": baseline, "met": worst < RETURN_GOAL_S}
        print(f"return {name} ({sizes[name]:,} rows) as the authority's social worker over HTTP: median "
              f"{results[name]['median_s']:.2f} s, worst of {rounds} {worst:.2f} s (baseline the returns page, median "
              f"{baseline:.0f} ms, ratio of medians {results[name]['median_s'] * 1000 / baseline:.0f}); goal < "
              f"{RETURN_GOAL_S} s: {_met(results[name]['met'])}", flush=True)
    return results


def _run(folder: Path, scale: float, rounds: int, database_url: str | None) -> dict:
    environment(folder, database_url)
    app = _app()
    orgs = _organisations()
    users = _users(orgs)
    sizes = _scaled(scale)
    started = time.perf_counter()
    load_county(sizes, orgs, users)
    analyse()
    print(f"(loaded {sizes} over five years in {time.perf_counter() - started:.0f} s on "
          f"{db.session().get_bind().dialect.name})", flush=True)
    results: dict = {"sizes": sizes}
    clients = {}
    for key in ("analyst2", "sw2", "sw_small"):
        clients[key] = signed_in_client(app, users[key][0], users[key][1])
    db.session.remove()
    env = dict(os.environ)
    server = None
    try:
        server, base = serve("hub:create_app()", env, timeout=120)
        analyst = _signed_in_session(base, "analyst@bench.example.test", PASSWORD, users["analyst"][1])
        social_worker = _signed_in_session(base, "sw@bench.example.test", PASSWORD, users["sw"][1])
        # The analyst's "small scale": one week's episodes instead of a year's (the same filters);
        # and the authority filter for a large authority against the small one.
        results["dashboard_analyst"] = _dashboard_figures(
            app, analyst, base, clients["analyst2"], clients["analyst2"], "as the analyst (whole area; small "
            "scale: one week)", rounds, f"/reports?{WEEK_ARGS}")
        big_la, small_la = orgs["las"][0].id, orgs["small_la"].id
        results["statements_analyst_authority"] = [
            statements(clients["analyst2"], app, f"/reports?{YEAR_ARGS}&authority={la}") for la in (big_la, small_la)]
        print("  (the analyst's dashboard filtered to a large authority and to the small one: {} and {} SQL "
              "statements)".format(*results["statements_analyst_authority"]), flush=True)
        results["dashboard_social_worker"] = _dashboard_figures(
            app, social_worker, base, clients["sw2"], clients["sw_small"],
            "as a missing-team social worker of an authority (small scale: the small authority's)", rounds,
            f"/reports?{YEAR_ARGS}")
        results["returns"] = _returns_figures(social_worker, base)
    finally:
        stop(server)
    db.session.remove()
    results["annual"] = _annual_figures(env)
    _profile_short(app, results, users)
    return results


def _profile_short(app, results: dict, users: dict) -> None:
    """A cProfile, in-process, of each figure short of its goal."""
    year = figures.ReportFilters(date(2025, 1, 1), date(2025, 12, 31))
    for key, who in (("dashboard_analyst", "analyst"), ("dashboard_social_worker", "sw")):
        if not results[key]["met"]:
            with app.test_request_context():
                user = db.session().get(User, users[who][0].id)
                profile(f"dashboard() as {who}", lambda user=user: figures.dashboard(report_scope(user), year))
    if not results["annual"]["met"]:
        with app.test_request_context():
            profile("annual.build", lambda: annual.build(command_line_report_scope(),
                                                         returns.CollectionYear(ANNUAL_YEAR), 10, True))
    for name, make in (("ssd_missing", lambda u: returns.ssd_missing(u)),
                       ("ssda903_missing", lambda u: returns.ssda903_missing(u, ANNUAL_YEAR))):
        if not results["returns"][name]["met"]:
            with app.test_request_context():
                user = db.session().get(User, users["sw"][0].id)
                profile(f"returns.{name}", lambda make=make, user=user: make(user))
    db.session.remove()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the county to load (0.05: a quick look)")
    parser.add_argument("--requests", type=int, default=40, help="dashboard requests per viewer for the p95")
    args = parser.parse_args(argv)
    with scratch("hub-bench-reports-") as folder:
        return on_bench_database("hub_bench_reports", lambda url: _run(folder, args.scale, args.requests, url))


if __name__ == "__main__":
    main()
