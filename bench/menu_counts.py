"""The pages that carry the menu's overdue count, with 1 and with 10,000 open episodes (issue 22).

The menu counts the overdue duties of the episodes on the missing team's list on every page of a
police officer and a social worker. Since issue 22 it reads the due times stored beside each
episode (`hub.missing.deadlines`) in one indexed query; before, it ran the rules over every open
episode in reach. Here, on PostgreSQL through HTTP (gunicorn, 2 workers, signed in with password
+ TOTP): the home page, the children list, the missing list and a child's page, for an officer and
a social worker, first with one overdue open episode, then with 200 (a full page of the missing
list, which shows at most 200), then with 10,000 open episodes of 200 children (a backlog never
closed, loaded with a Core insert and their deadlines through the one function every write path
calls); each request alternated with the baseline (a school DSL's home
page, whose figures the episodes do not touch), so both phases carry the same machine noise.
Printed per page: p95 in each phase, the ratios 10,000 / 1 and 10,000 / 200 (goal < 1.5; the
missing list shows 1 row, then 200, so its fair ratio is the second), the same for the baseline,
and SQL statements per page counted in-process in each world. For reference, the old
count (the rules run in Python over the open episodes in reach) timed in-process in the large world.

Run: `.venv/bin/python -m bench menu_counts` or
`.venv/bin/python -m bench.menu_counts [--episodes 10000] [--requests 40]`.
PostgreSQL on 127.0.0.1:5432 (a database created and dropped) unless HUB_BENCH_DATABASE_URL names one.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from contextlib import nullcontext
from datetime import date, timedelta

import pyotp
from sqlalchemy import event, func, insert, or_, select, text
from sqlalchemy.orm import aliased

from bench import _util
from bench.audit_log import _app
from hub import db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.crypto import dob_index
from hub.missing import deadlines, rules
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.missing.dashboard import RECENTLY_FOUND
from hub.models.auth import User
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import AgencyInvolvement, Child, Enrolment, Gender
from hub.models.roles import OrgKind, Role
from hub.permissions import episode_visible

CHILDREN = 200
PAGE = 200  # the missing list's length (hub.missing.dashboard.dashboard)
PAGES = ("home", "children list", "missing list", "child's page")


def _setup() -> dict:
    app = _app()

    def org(code, name, kind, ident, **kw):
        return admin.create_organisation(None, admin.OrganisationDetails(code, name, kind, ident, **kw))

    def user(email, org_id, role):
        return admin.create_user(
            None, admin.UserDetails(email, email.split("@")[0], org_id, {role}, password=_util.PASSWORD))

    la = org("M-LA", "Menu LA", OrgKind.childrens_social_care, "911")
    la_edu = org("M-EDU", "Menu LA education", OrgKind.la_education, "912")
    police = org("M-POL", "Menu police", OrgKind.police, "43")
    school = org("M-SCH", "Menu school", OrgKind.school, "991000", local_authority_id=la_edu.id)
    officer = user("officer@bench.example.test", police.id, Role.police_officer)
    worker = user("worker@bench.example.test", la.id, Role.social_worker)
    dsl = user("dsl@bench.example.test", school.id, Role.dsl)
    born = date(2012, 3, 27)
    with db.unit_of_work() as s:
        s.execute(insert(Child), [dict(given_name=f"Child{i}", family_name="Menu", date_of_birth_enc=born.isoformat(),
                                       dob_hash=dob_index(born), gender=Gender.female, looked_after=i % 4 == 0,
                                       is_demo=False, responsible_authority_id=la.id) for i in range(CHILDREN)])
        ids = list(s.scalars(select(Child.id).order_by(Child.id)))
        s.execute(insert(Enrolment), [dict(child_id=c, school_id=school.id, start_date=date(2024, 9, 1)) for c in ids])
        s.execute(insert(AgencyInvolvement), [dict(child_id=c, organisation_id=police.id, reason="open case",
                                                   started_on=date(2025, 1, 1)) for c in ids])
    now = db.utcnow()
    # The small world: one open episode, of a looked-after child, the IRO not told within the day.
    missing.record_episode(officer, ids[0], missing_details.EpisodeDetails(
        police_reference="MENU/ONE", reported_start=now - timedelta(hours=30), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))
    secrets_ = _util.give_totp([officer.id, worker.id, dsl.id])
    audit_integrator.integrate_all()
    users = {"officer": officer, "worker": worker, "dsl": dsl}
    return {"app": app, "children": ids, "police": police.id, "officer_id": officer.id,
            "users": {k: (u.email, secrets_[u.id]) for k, u in users.items()}}


def _load_backlog(children: list[int], police: int, count: int, first: int = 0) -> float:
    """`count` open episodes, never closed: inserted in bulk, their deadlines stored through
    hub.missing.deadlines.refresh_children (the function every write path calls), then the
    table's statistics brought up to date (ANALYZE, as autovacuum would within a minute of such a
    load: right after it the planner still believes the table holds one episode). Seconds taken."""
    started = time.perf_counter()
    now = db.utcnow()
    rows = [dict(child_id=children[n % len(children)], police_org_id=police,
                 police_reference=f"MENU/OPEN/{first + n:06d}",
                 reported_start=now - timedelta(days=3, seconds=n), classification=Classification.missing,
                 risk_grade=RiskGrade.low, missing_from=MissingFrom.home, source=EpisodeSource.police_download,
                 return_interview_declined=False, police_requested_meeting=False, risk_factors="",
                 push_factors="", pull_factors="") for n in range(count)]
    with db.unit_of_work() as s:
        for start in range(0, count, 2000):
            s.execute(insert(MissingEpisode.__table__), rows[start:start + 2000])
        deadlines.refresh_children(s, children)
    with db.unit_of_work() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("ANALYZE missing_episode"))
    db.session.remove()
    return time.perf_counter() - started


def _rules_in_python(officer_id: int) -> float:
    """The menu's count as it was before issue 22 (the rules over every open or lately found
    episode in reach, in Python), in-process: seconds for one count."""
    user = db.session().get(User, officer_id)
    now = db.utcnow()
    started = time.perf_counter()
    every = aliased(MissingEpisode)
    ever = select(func.count(every.id)).where(every.child_id == MissingEpisode.child_id).scalar_subquery()
    rows = db.session().execute(
        select(MissingEpisode, Child.looked_after, ever).join(Child, Child.id == MissingEpisode.child_id)
        .where(or_(MissingEpisode.found_at.is_(None), MissingEpisode.found_at >= now - RECENTLY_FOUND),
               episode_visible(user))).all()
    total = 0
    for episode, looked_after, n in rows:
        rhi = rules.return_interview_reasons(episode, looked_after, n, now)
        total += sum(1 for due in rules.duties(episode, bool(rhi), looked_after, now) if due.overdue)
    elapsed = time.perf_counter() - started
    db.session.remove()
    return elapsed


def _statements(app, email: str, secret: str, urls: dict[str, str], plans: bool = False) -> dict[str, int]:
    """SQL statements per page, in-process (a test client signed in as the user); with `plans`,
    the PostgreSQL plan (EXPLAIN ANALYZE) of each statement that reads missing_episode."""
    client = app.test_client()

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    page = client.get("/auth/sign-in").get_data(as_text=True)
    page = client.post("/auth/sign-in", data={"csrf_token": token(page), "email": email,
                                              "password": _util.PASSWORD}).get_data(as_text=True)
    page = client.get("/auth/two-factor").get_data(as_text=True)
    totp = pyotp.TOTP(secret)
    time.sleep(totp.interval - time.time() % totp.interval + 1)  # a code signs in once: not the HTTP one's
    client.post("/auth/two-factor", data={"csrf_token": token(page), "code": totp.now()})
    seen: list[tuple[str, object]] = []

    def listener(*args) -> None:
        seen.append((args[2], args[3]))

    engine = app.extensions["hub_engine"]
    counts = {}
    for name, url in urls.items():
        client.get(url)
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200, url
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        counts[name] = len(seen)
        if plans and engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                for statement, parameters in seen:
                    if statement.lstrip().upper().startswith("SELECT") and "missing_episode" in statement:
                        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
                        print(f"-- {name}: " + " ".join(statement.split())[:300])
                        print("\n".join("   " + row[0] for row in plan))
    return counts


def _measure(sessions: dict, base: str, urls: dict[str, dict[str, str]], requests_per_page: int) -> dict:
    """p95 of each (user, page), each request followed by the baseline's."""
    times: dict[str, list[float]] = {}
    for _ in range(requests_per_page):
        for who, pages in urls.items():
            for name, url in pages.items():
                for key, session, path in ((f"{who}: {name}", sessions[who], url), ("baseline", sessions["dsl"], "/")):
                    started = time.perf_counter()
                    response = session.get(base + path, allow_redirects=False, timeout=120)
                    times.setdefault(key, []).append(time.perf_counter() - started)
                    assert response.status_code == 200, (key, response.status_code)
    return {key: _util.figures(t) for key, t in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=10_000, help="open episodes of the large world")
    parser.add_argument("--requests", type=int, default=40, help="requests per page and phase")
    parser.add_argument("--plans", action="store_true", help="print the plans of the episode queries (large world)")
    args = parser.parse_args(argv)
    server = os.environ.get("HUB_BENCH_DATABASE_URL")
    results: dict = {}
    with (_util.scratch("hub-bench-menu-") as folder,
          _util.fresh_postgres(_util.DEFAULT_POSTGRES) if not server else nullcontext(server) as url):
        _util.environment(folder, database_url=url, development=True)
        setup = _setup()
        app = setup["app"]
        child = setup["children"][0]
        pages = {"home": "/", "children list": "/children", "missing list": "/missing",
                 "child's page": f"/children/{child}"}
        urls = {"officer": pages, "worker": pages}
        env = dict(os.environ)
        hub = None
        try:
            hub, base = _util.serve("hub:create_app()", env)
            sessions = {who: _util.sign_in(base, *setup["users"][who]) for who in ("officer", "worker", "dsl")}
            small = _measure(sessions, base, urls, args.requests)
            small_statements = _statements(app, *setup["users"]["officer"], pages)
            _load_backlog(setup["children"], setup["police"], PAGE - 1)
            page = _measure(sessions, base, urls, args.requests)
            loaded = _load_backlog(setup["children"], setup["police"], args.episodes - PAGE, first=PAGE)
            print(f"(loaded {args.episodes - PAGE:,} more open episodes with their deadlines in {loaded:.1f} s)")
            large = _measure(sessions, base, urls, args.requests)
            large_statements = _statements(app, *setup["users"]["officer"], pages, plans=args.plans)
            if args.plans:
                _statements(app, *setup["users"]["worker"], {"missing list": pages["missing list"]}, plans=True)
            before = sorted(_rules_in_python(setup["officer_id"]) for _ in range(5))[2]
        finally:
            _util.stop(hub)
            app.extensions["hub_engine"].dispose()
    print(f"{'page':28s} {'p95, 1 open':>12s} {'200 open':>10s} {format(args.episodes, ',') + ' open':>12s} "
          f"{'x / 1':>6s} {'x / 200':>7s} {'statements':>11s}")
    for key in sorted(small, key=lambda k: k == "baseline"):
        a, b, c = small[key]["p95_ms"], page[key]["p95_ms"], large[key]["p95_ms"]
        name = key.split(": ")[-1]
        counted = f"{small_statements[name]} / {large_statements[name]}" if key.startswith("officer") else ""
        print(f"{key:28s} {a:9.1f} ms {b:7.1f} ms {c:9.1f} ms {c / a:6.2f} {c / b:7.2f} {counted:>11s}")
        results[key] = {"p95_ms_1": a, "p95_ms_200": b, "p95_ms_large": c}
    print(f"the old count (rules in Python) for the officer with {args.episodes:,} open episodes: "
          f"{before * 1000:.0f} ms a page, in-process, median of 5")
    results["rules_in_python_ms"] = before * 1000
    return results


if __name__ == "__main__":
    main()
