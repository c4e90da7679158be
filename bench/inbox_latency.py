"""From an episode's commit to its notification in a school's inbox, seen from a second process
over HTTP (issue 13). Process A (this one) records missing episodes one at a time through the
hub's service (`hub.missing.service.record_episode`, as an officer) and notes each commit's time;
process B (a separate OS process) has signed in over HTTP as the school's DSL (password + TOTP)
and requests the inbox page (`/notifications`, gunicorn with 2 workers) in a loop until the child
of the new episode is listed. Reported: p50 and p95 (nearest rank) of commit to visible (B's
time when the response naming the child arrived; both processes read the system's monotonic
clock), against the inbox page's own response time measured by B in the same run (the
resolution of the measurement: a notification committed just after a request began is seen one
request later). Goal: p95 under 1 s. The delivery worker (`flask --app hub notifications deliver`)
runs beside it, integrating the audit log that each inbox view writes; afterwards
`flask --app hub audit verify` must pass with nothing pending.

Run: `.venv/bin/python -m bench inbox_latency` or
`.venv/bin/python -m bench.inbox_latency [--episodes 100] [--backlog 50]`.
SQLite in a temporary folder (removed at the end); HUB_BENCH_DATABASE_URL for an empty PostgreSQL database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import time
from datetime import date

from sqlalchemy import insert, select

from bench import _util
from bench.audit_log import _app
from bench.notifications import _record
from hub import db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.models.people import AgencyInvolvement, Child, Enrolment
from hub.models.roles import OrgKind, Role


def _marker(n: int) -> str:
    return f"LatChild{n:05d} Bench</a>"


def _poller(base: str, email: str, secret: str, asks, answers) -> None:
    """Process B: signed in as the DSL, polls the inbox until each asked-for child appears."""
    session = _util.sign_in(base, email, secret)
    for _ in range(3):  # warm
        session.get(f"{base}/notifications", timeout=30)
    answers.put(("ready", None))
    page_times = []
    while (ask := asks.get()) is not None:
        n = ask
        while True:
            start = time.monotonic()
            response = session.get(f"{base}/notifications", timeout=30)
            now = time.monotonic()
            page_times.append(now - start)
            assert response.status_code == 200, response.status_code
            if _marker(n) in response.text:
                answers.put((n, now))
                break
    answers.put(("pages", page_times))


def _setup(episodes: int, backlog: int):
    app = _app()
    police = admin.create_organisation(None, admin.OrganisationDetails("B-POL", "Bench police", OrgKind.police, "42"))
    school = admin.create_organisation(None, admin.OrganisationDetails("B-SCH", "Bench school", OrgKind.school,
                                                                       "990999"))
    officer = admin.create_user(None, admin.UserDetails("officer@bench.example.test", "Bench officer", police.id,
                                                        {Role.police_officer}, password=_util.PASSWORD))
    dsl = admin.create_user(None, admin.UserDetails("dsl@bench.example.test", "Bench DSL", school.id, {Role.dsl},
                                                    password=_util.PASSWORD))
    admin.create_user(None, admin.UserDetails("deputy@bench.example.test", "Bench deputy", school.id,
                                              {Role.deputy_dsl}, password=_util.PASSWORD))
    total = episodes + backlog
    with db.unit_of_work() as s:
        s.execute(insert(Child), [dict(given_name=f"LatChild{n:05d}", family_name="Bench",
                                       date_of_birth_enc="2012-01-01", dob_hash=f"bench{n}", gender="female",
                                       looked_after=False, is_demo=False) for n in range(total)])
        ids = list(s.scalars(select(Child.id).order_by(Child.id)))
        s.execute(insert(Enrolment), [dict(child_id=c, school_id=school.id, start_date=date(2024, 9, 1)) for c in ids])
        s.execute(insert(AgencyInvolvement), [dict(child_id=c, organisation_id=police.id, reason="open case",
                                                   started_on=date(2025, 1, 1)) for c in ids])
    for n in range(backlog):  # the inbox already holds some notifications
        _record(officer, ids[episodes + n], 100_000 + n)
    secret = _util.give_totp([dsl.id])[dsl.id]
    audit_integrator.integrate_all()
    db.session.remove()
    return app, officer, ids[:episodes], (dsl.email, secret)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100, help="episodes timed, one at a time")
    parser.add_argument("--backlog", type=int, default=50, help="notifications already in the inbox")
    args = parser.parse_args(argv)
    with _util.scratch("hub-bench-inbox-") as folder:
        _util.environment(folder, development=True)
        app, officer, children, (email, secret) = _setup(args.episodes, args.backlog)
        app.extensions["hub_engine"].dispose()
        env = dict(os.environ)
        server = None
        latencies, pages = [], []
        try:
            with _util.delivery_worker(env):
                server, base = _util.serve("hub:create_app()", env)
                spawn = multiprocessing.get_context("spawn")
                asks, answers = spawn.Queue(), spawn.Queue()
                poller = spawn.Process(target=_poller, args=(base, email, secret, asks, answers))
                poller.start()
                rng = random.Random(5)
                try:
                    assert answers.get(timeout=120)[0] == "ready"
                    for n, child in enumerate(children):
                        asks.put(n)  # B starts polling for it, then A commits it
                        time.sleep(rng.uniform(0.05, 0.15))
                        _record(officer, child, n)
                        committed = time.monotonic()
                        db.session.remove()
                        seen_n, seen = answers.get(timeout=120)
                        assert seen_n == n, (seen_n, n)
                        latencies.append(seen - committed)
                    asks.put(None)
                    tag, pages = answers.get(timeout=60)
                    assert tag == "pages"
                finally:
                    poller.join(30)
                    if poller.is_alive():
                        poller.kill()
                time.sleep(2)
        finally:
            _util.stop(server)
        ok, output, pending = _util.verify_log(env)
    inbox = _util.figures(latencies)
    page = _util.figures(pages)
    print(f"episode commit to the DSL's inbox page over HTTP ({inbox['requests']} episodes, seen by a second "
          f"process): median {inbox['median_ms']:.0f} ms, p95 {inbox['p95_ms']:.0f} ms "
          f"(goal p95 < 1 s: {'met' if inbox['p95_ms'] < 1000 else 'NOT met'}); the inbox page itself "
          f"({page['requests']} requests by the same process): median {page['median_ms']:.0f} ms, "
          f"p95 {page['p95_ms']:.0f} ms; ratio of p95s {inbox['p95_ms'] / page['p95_ms']:.2f}")
    print(f"audit verify after the run: {'passes' if ok else 'FAILS'}: {output.splitlines()[-1] if output else ''}; "
          f"pending after integration: {pending}")
    assert ok and pending == 0, output
    return {"commit_to_inbox": inbox, "inbox_page": page, "verify_ok": ok, "pending": pending}


if __name__ == "__main__":
    main()
