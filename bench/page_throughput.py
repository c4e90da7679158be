"""Throughput of real audited pages (issue 13) against a bare Flask + SQLAlchemy app reading the
same rows: a child's page with 500 shares (as the child's social worker), `/sharing` (the same
social worker: 100 shares with us, 100 by us) and a school DSL's notifications inbox. Both apps
on gunicorn with 2 workers, the same database, measured alternately (hub, bare, bare, hub, ...)
in rounds of a few seconds each, so background load lands on both sides alike. Requests/s, median
and p95 (nearest rank) per side and the ratio of requests/s. Goal: each page >= 0.3 of the bare app.

The hub's side is the whole thing: a session signed in over HTTP with password and TOTP, the
permission checks, and the audit event each page writes (pending, in the page's own transaction).
The delivery worker (`flask --app hub notifications deliver`, its own process) integrates the log
during the run; afterwards `flask --app hub audit verify` must pass with nothing left pending.
The baseline (bench/bare_pages.py) has no session, permission check, audit or layout.

Run: `.venv/bin/python -m bench page_throughput` or
`.venv/bin/python -m bench.page_throughput [--seconds 4] [--rounds 5] [--clients 4] [--profile]`.
SQLite in a temporary folder (removed at the end); HUB_BENCH_DATABASE_URL=postgresql+psycopg://...
for an empty PostgreSQL database instead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import requests
from sqlalchemy import insert, select

from bench import _util
from bench.audit_log import _app
from bench.notifications import _record
from bench.world import signed_in_client
from hub import create_app, db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.models.auth import User
from hub.models.people import AgencyInvolvement, Child, Enrolment
from hub.models.roles import OrgKind, Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    ObtainedHow,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.people.holders import record_holders

CHRONOLOGY_SHARES = 500


def _setup(other_shares: int, inbox: int) -> dict:
    app = _app()
    la = admin.create_organisation(None, admin.OrganisationDetails("B-LA", "Bench LA", OrgKind.childrens_social_care,
                                                                   "901"))
    school = admin.create_organisation(None, admin.OrganisationDetails("B-SCH", "Bench school", OrgKind.school,
                                                                       "990999"))
    police = admin.create_organisation(None, admin.OrganisationDetails("B-POL", "Bench police", OrgKind.police, "42"))
    worker = admin.create_user(None, admin.UserDetails("sw@bench.example.test", "Bench SW", la.id,
                                                       {Role.social_worker}, password=_util.PASSWORD))
    dsl = admin.create_user(None, admin.UserDetails("dsl@bench.example.test", "Bench DSL", school.id, {Role.dsl},
                                                    password=_util.PASSWORD))
    admin.create_user(None, admin.UserDetails("deputy@bench.example.test", "Bench deputy", school.id,
                                              {Role.deputy_dsl}, password=_util.PASSWORD))
    officer = admin.create_user(None, admin.UserDetails("officer@bench.example.test", "Bench officer", police.id,
                                                        {Role.police_officer}, password=_util.PASSWORD))
    children = max(200, inbox + 1)
    with db.unit_of_work() as s:
        s.execute(insert(Child), [dict(given_name=f"Child{i}", family_name="Bench", date_of_birth_enc="2012-01-01",
                                       dob_hash=f"bench{i}", gender="female", responsible_authority_id=la.id,
                                       looked_after=False, is_demo=False) for i in range(children)])
        ids = list(s.scalars(select(Child.id).order_by(Child.id)))
        s.execute(insert(Enrolment), [dict(child_id=c, school_id=school.id, start_date=date(2024, 9, 1)) for c in ids])
        s.execute(insert(AgencyInvolvement), [dict(child_id=c, organisation_id=police.id, reason="open case",
                                                   started_on=date(2025, 1, 1)) for c in ids])
    _shares(la.id, school.id, worker.id, ids[0], [ids[0]] * CHRONOLOGY_SHARES, 0)
    rng = random.Random(11)
    _shares(la.id, school.id, worker.id, ids[0], [rng.choice(ids[1:]) for _ in range(other_shares)], 1)
    _shares(school.id, la.id, dsl.id, ids[0], [rng.choice(ids[1:]) for _ in range(other_shares // 2)], 2)
    for n, child in enumerate(ids[1:inbox + 1]):
        _record(officer, child, n)
    secrets_ = _util.give_totp([worker.id, dsl.id])
    audit_integrator.integrate_all()
    db.session.remove()
    return {"app": app, "child": ids[0], "la": la.id, "worker": (worker.email, secrets_[worker.id], worker.id),
            "dsl": (dsl.email, secrets_[dsl.id], dsl.id)}


def _shares(sender: int, recipient: int, user_id: int, _first: int, children: list[int], seed: int) -> None:
    """Shares through Core as create_share leaves them (record, recipient, access rows)."""
    if not children:
        return
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=seed)
    rows = [dict(child_id=child, sender_org_id=sender, sender_user_id=user_id, shared=True,
                 category=rng.choice(list(Category)), summary=f"Summary {seed}-{i}", content=f"Content {i}",
                 purpose="Safeguarding", special_category=False, criminal_offence=False, law_enforcement=False,
                 article_6="6(1)(e)", gateway="CA1989-s47", source_kind=SourceKind.organisation,
                 source_description="Bench", obtained_how=ObtainedHow.observation, obtained_on=date(2025, 1, 1),
                 consent_position=rng.choice(list(ConsentPosition)), created_at=base + timedelta(minutes=i))
            for i, child in enumerate(children)]
    with db.unit_of_work() as s:
        first = (s.scalar(select(ShareRecord.id).order_by(ShareRecord.id.desc()).limit(1)) or 0)
        for start in range(0, len(rows), 5000):
            s.execute(insert(ShareRecord), rows[start:start + 5000])
        shares = list(s.execute(select(ShareRecord.id, ShareRecord.created_at).where(ShareRecord.id > first)))
        s.execute(insert(ShareRecipient), [{"share_id": sid, "organisation_id": recipient, "status": "sent"}
                                           for sid, _ in shares])
        s.execute(insert(ShareAccess), [{"share_id": sid, "organisation_id": org, "created_at": at}
                                        for sid, at in shares for org in (sender, recipient)])
        record_holders(s, [(child, org) for child in set(children) for org in (sender, recipient)])


def _load(make_session, url: str, seconds: float, clients: int) -> tuple[list[float], float, int]:
    """Each client thread requests `url` in a loop until the time is up: (latencies, wall, errors)."""
    deadline = time.perf_counter() + seconds

    def client() -> tuple[list[float], int]:
        session, times, errors = make_session(), [], 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = session.get(url, allow_redirects=False, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            times.append(time.perf_counter() - start)
            errors += not ok
        return times, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [f.result() for f in [pool.submit(client) for _ in range(clients)]]
    return [t for r in results for t in r[0]], time.perf_counter() - start, sum(r[1] for r in results)


def _profile(app, email: str, secret_user: int, url: str, runs: int = 30) -> str:
    """cProfile of `runs` in-process requests of the page: the hub's functions by cumulative time."""
    client = signed_in_client(app, db.session().get(User, secret_user[0]), secret_user[1])
    for _ in range(3):
        client.get(url)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(runs):
        assert client.get(url).status_code == 200
    profiler.disable()
    each = (time.perf_counter() - start) / runs * 1000
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"hub/|sqlalchemy/orm/(session|context|loading)\.py|jinja2/environment|flask/app", 25)
    db.session.remove()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return f"{url}: {each:.1f} ms a request in-process (profiled)\n" + "\n".join(lines[-28:])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4, help="seconds per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--other-shares", type=int, default=2000, help="shares about other children")
    parser.add_argument("--inbox", type=int, default=100, help="notifications in the DSL's inbox")
    parser.add_argument("--profile", action="store_true", help="also cProfile each page in-process")
    args = parser.parse_args(argv)
    results: dict = {}
    with _util.scratch("hub-bench-pages-") as folder:
        _util.environment(folder, development=True)
        started = time.perf_counter()
        setup = _setup(args.other_shares, args.inbox)
        print(f"(set up {CHRONOLOGY_SHARES} shares about one child, {args.other_shares + args.other_shares // 2:,} "
              f"others and {args.inbox} notifications in {time.perf_counter() - started:.0f} s; "
              f"database {os.environ['HUB_DATABASE_URL'].split(':')[0]})")
        setup["app"].extensions["hub_engine"].dispose()
        env = dict(os.environ)
        hub = bare = None
        try:
            with _util.delivery_worker(env):
                hub, hub_url = _util.serve("hub:create_app()", env)
                bare, bare_url = _util.serve("bench.bare_pages:app", env)
                worker_session = _util.sign_in(hub_url, setup["worker"][0], setup["worker"][1])
                dsl_session = _util.sign_in(hub_url, setup["dsl"][0], setup["dsl"][1])

                def copy(signed):
                    def make():
                        s = requests.Session()
                        s.cookies.update(signed.cookies)
                        return s
                    return make

                pages = {
                    "child's page, 500 shares": (copy(worker_session), f"{hub_url}/children/{setup['child']}",
                                                 f"{bare_url}/children/{setup['child']}"),
                    "/sharing": (copy(worker_session), f"{hub_url}/sharing", f"{bare_url}/sharing?org={setup['la']}"),
                    f"DSL's inbox, {args.inbox} notifications": (
                        copy(dsl_session), f"{hub_url}/notifications",
                        f"{bare_url}/notifications?user={setup['dsl'][2]}"),
                }
                for name, (signed, hub_page, bare_page) in pages.items():
                    sides = {"hub": [[], 0.0, 0], "bare": [[], 0.0, 0]}
                    _load(signed, hub_page, 1, args.clients)  # warm-up, both sides
                    _load(requests.Session, bare_page, 1, args.clients)
                    for round_ in range(args.rounds):
                        order = ("hub", "bare") if round_ % 2 == 0 else ("bare", "hub")
                        for side in order:
                            make, url = (signed, hub_page) if side == "hub" else (requests.Session, bare_page)
                            times, wall, errors = _load(make, url, args.seconds, args.clients)
                            sides[side][0] += times
                            sides[side][1] += wall
                            sides[side][2] += errors
                    h = {**_util.figures(sides["hub"][0], sides["hub"][1]), "errors": sides["hub"][2]}
                    b = {**_util.figures(sides["bare"][0], sides["bare"][1]), "errors": sides["bare"][2]}
                    ratio = h["rps"] / b["rps"]
                    results[name] = {"hub": h, "bare": b, "ratio": ratio}
                    print(f"{name}: hub {h['rps']:.0f} req/s, median {h['median_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms "
                          f"({h['requests']} requests, {h['errors']} errors); bare {b['rps']:.0f} req/s, median "
                          f"{b['median_ms']:.1f} ms, p95 {b['p95_ms']:.1f} ms ({b['requests']} requests, "
                          f"{b['errors']} errors); ratio {ratio:.2f} (goal >= 0.3: "
                          f"{'met' if ratio >= 0.3 else 'SHORT'})", flush=True)
                time.sleep(2)  # the worker's integrator: one more cycle
        finally:
            _util.stop(hub)
            _util.stop(bare)
        ok, output, pending = _util.verify_log(env)
        results["verify"] = {"ok": ok, "pending": pending, "output": output}
        last = output.splitlines()[-1] if output else ""
        print(f"audit verify after the run: {'passes' if ok else 'FAILS'}: {last}; "
              f"pending after integration: {pending}")
        if args.profile:
            app = create_app()
            for _page, url, user in (("child", f"/children/{setup['child']}", setup["worker"]),
                                    ("sharing", "/sharing", setup["worker"]),
                                    ("inbox", "/notifications", setup["dsl"])):
                print(_profile(app, user[0], (user[2], user[1]), url))
            app.extensions["hub_engine"].dispose()
        assert ok and pending == 0, output
    return results


if __name__ == "__main__":
    main()
