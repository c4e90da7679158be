"""A bounded load test on PostgreSQL (issue 13): 50 signed-in users of four roles (school DSLs,
social workers, police officers, the hub's DPOs) on mixed journeys (home page, children list, a
child's page, /sharing, the inbox, the DPO's audit search, and recording a missing episode
through its form) against gunicorn with 4 workers, for 2 minutes alone and then 2 minutes while
10,000-row police downloads are imported (`flask --app hub missing import`, its own process,
repeated back to back for other forces so that an import runs for the whole window), then 1 minute
alone again (the imported episodes in place: the data has grown, nothing is importing). Each user
signs in once over HTTP (password + TOTP, its own secret) and pauses between requests (a think
time, 0.5 to 1.5 x `--think`). Printed per page and run: requests, errors, p50/p95/p99 (nearest
rank), and the ratio of p95 with the import to p95 alone (goal < 1.5x). The delivery worker
(`flask --app hub notifications deliver`, with an aiosmtpd sink for its e-mails) runs throughout:
its thread integrates the audit log. At the end `flask --app hub audit verify` must pass and
nothing may be left pending.

The load is closed-loop (a fixed number of users, each waiting for its answer): when the server
saturates, latency rises and the request rate falls, so read each run's requests/s beside its
percentiles. `--historic` imports episodes found weeks ago (see `_historic_download`): the same
writes, without growing the list of open episodes that every officer's and social worker's menu counts.

Run: `.venv/bin/python -m bench load` or
`.venv/bin/python -m bench.load [--seconds 120] [--users 50] [--think 5] [--rows 10000]`.
HUB_BENCH_DATABASE_URL names an empty PostgreSQL database to use; without it a new database is
created on postgresql://postgres@127.0.0.1:5432 and dropped at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from openpyxl import Workbook
from sqlalchemy import insert, select

from bench import _util
from bench.audit_log import _app
from bench.missing_import import _download
from bench.page_throughput import _shares
from hub import db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.audit import service as audit
from hub.crypto import blind_index, dob_index, normalise_identifier
from hub.missing.imports.download import COLUMNS
from hub.models.people import AgencyInvolvement, Child, ChildIdentifier, Enrolment, Gender, IdentifierKind
from hub.models.roles import OrgKind, Role

SCHOOLS = 50
FORCES = 8  # forces whose officers import (the same file is all new episodes for each)
ROLES = (("dsl", 0.4), ("social_worker", 0.3), ("police_officer", 0.2), ("dpo", 0.1))
JOURNEYS = {  # page: weight
    "dsl": {"home": 2, "children list": 1, "child's page": 3, "/sharing": 1, "inbox": 3},
    "social_worker": {"home": 2, "children list": 1, "child's page": 3, "/sharing": 2, "record episode": 1},
    "police_officer": {"home": 2, "children list": 1, "child's page": 3, "/sharing": 1, "record episode": 2},
    "dpo": {"home": 2, "audit search": 3, "child's page": 2},
}
LONDON = ZoneInfo("Europe/London")


def _setup(users: int, rows: int) -> dict:
    app = _app()
    org = lambda code, name, kind, ident, **kw: admin.create_organisation(  # noqa: E731
        None, admin.OrganisationDetails(code, name, kind, ident, **kw))
    user = lambda email, org_id, role: admin.create_user(  # noqa: E731
        None, admin.UserDetails(email, email.split("@")[0], org_id, {role}, password=_util.PASSWORD))
    host = org("B-HOST", "Bench hub", OrgKind.mace_host, "BHOST")
    la = org("B-LA", "Bench LA", OrgKind.childrens_social_care, "901")
    la_edu = org("B-EDU", "Bench LA education", OrgKind.la_education, "902")
    police = org("B-POL", "Bench police", OrgKind.police, "42")
    importers = []
    for k in range(FORCES):
        force = org(f"B-IMP{k}", f"Importing force {k}", OrgKind.police, f"{60 + k}")
        importers.append((force.code, user(f"importer{k}@bench.example.test", force.id, Role.police_officer).email))
    schools, dsls = [], []
    for n in range(SCHOOLS):
        school = org(f"B-SCH{n}", f"Bench school {n}", OrgKind.school, f"{990000 + n}", local_authority_id=la_edu.id)
        schools.append(school.id)
        dsls.append(user(f"dsl{n}@bench.example.test", school.id, Role.dsl))
        user(f"deputy{n}@bench.example.test", school.id, Role.deputy_dsl)
    counts = {role: max(1, round(users * share)) for role, share in ROLES}
    counts["dsl"] = users - sum(v for k, v in counts.items() if k != "dsl")
    load_users = [("dsl", u) for u in dsls[:counts["dsl"]]]
    load_users += [("social_worker", user(f"sw{i}@bench.example.test", la.id, Role.social_worker))
                   for i in range(counts["social_worker"])]
    load_users += [("police_officer", user(f"pc{i}@bench.example.test", police.id, Role.police_officer))
                   for i in range(counts["police_officer"])]
    load_users += [("dpo", user(f"dpo{i}@bench.example.test", host.id, Role.dpo)) for i in range(counts["dpo"])]
    born = date(2012, 3, 27)
    with db.unit_of_work() as s:  # the children of the police download, on the schools' rolls, in the LA's care
        s.execute(insert(Child), [dict(given_name=f"Child{i}", family_name="Bench", date_of_birth_enc=born.isoformat(),
                                       dob_hash=dob_index(born), gender=Gender.female, looked_after=False,
                                       is_demo=False, responsible_authority_id=la.id) for i in range(rows)])
        ids = list(s.scalars(select(Child.id).order_by(Child.id)))
        s.execute(insert(ChildIdentifier), [dict(
            child_id=cid, kind=IdentifierKind.police_id, value=f"BP-{i:06d}",
            lookup_hash=blind_index("police_id", normalise_identifier(f"BP-{i:06d}"))) for i, cid in enumerate(ids)])
        s.execute(insert(Enrolment), [dict(child_id=cid, school_id=schools[i % SCHOOLS], start_date=date(2024, 9, 1))
                                      for i, cid in enumerate(ids)])
        s.execute(insert(AgencyInvolvement), [dict(child_id=cid, organisation_id=police.id, reason="open case",
                                                   started_on=date(2025, 1, 1)) for cid in ids[:2000]])
    rng = random.Random(3)
    sw = next(u for role, u in load_users if role == "social_worker")
    pc = next(u for role, u in load_users if role == "police_officer")
    for n in range(SCHOOLS):  # the LA has shared about each school's children with the school
        _shares(la.id, schools[n], sw.id, 0, [rng.choice(ids[n::SCHOOLS]) for _ in range(60)], n)
    _shares(police.id, la.id, pc.id, 0, [rng.choice(ids[:2000]) for _ in range(500)], 99)
    secrets_ = _util.give_totp([u.id for _, u in load_users])
    audit_integrator.integrate_all()
    db.session.remove()
    visible = {"dsl": lambda u: ids[schools.index(u.organisation_id)::SCHOOLS], "social_worker": lambda u: ids,
               "police_officer": lambda u: ids[:2000], "dpo": lambda u: ids}
    return {"app": app, "police": police.id, "importers": importers,
            "users": [(role, u.email, secrets_[u.id], visible[role](u)) for role, u in load_users]}


def _historic_download(rows: int) -> bytes:
    """The same download, but every episode began 30 to 51 days ago and was found an hour later:
    the import writes as much (episodes, risk grades, notifications, e-mails, audit events), but
    none of it joins the missing team's list of open and recently found episodes, which the menu
    of every police officer's and social worker's page counts. With `--historic` the second run
    measures the import's contention alone, not the growth of that list."""
    now = datetime.now(UTC)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Download")
    sheet.append([c.heading for c in COLUMNS])
    grades = ["No apparent risk", "Low", "Medium", "High"]
    for i in range(rows):
        start = (now - timedelta(days=30, hours=2 + i % 500)).astimezone(LONDON).replace(tzinfo=None, microsecond=0)
        sheet.append([f"MP/26/{i:06d}", start, "Missing" if i % 5 else "Absent", grades[i % 4], "Home",
                      start + timedelta(hours=1), "Returned home", f"BP-{i:06d}", None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


class _User:
    def __init__(self, base: str, role: str, email: str, secret: str, children: list[int], police: int, seed: int):
        self.base, self.role, self.children, self.police = base, role, children, police
        self.session = _util.sign_in(base, email, secret)
        self.rng = random.Random(seed)
        self.tag, self.recorded = seed, 0
        pages = JOURNEYS[role]
        self.pages, self.weights = list(pages), list(pages.values())

    def step(self, record) -> None:
        """One request of the journey (two for an episode: its form, then the POST). `record` is
        called with (page, seconds, ok, the response or None when none came back); proof.faults
        reads the responses to check what users saw."""
        page = self.rng.choices(self.pages, self.weights)[0]
        urls = {"home": "/", "children list": "/children", "/sharing": "/sharing", "inbox": "/notifications",
                "audit search": "/audit"}
        if page in urls:
            self._get(page, urls[page], record)
        elif page == "child's page":
            self._get(page, f"/children/{self.rng.choice(self.children)}", record)
        else:
            self._record_episode(record)

    def _get(self, page: str, path: str, record) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = self.session.get(self.base + path, allow_redirects=False, timeout=60)
            ok = response.status_code == 200
        except requests.RequestException:
            response, ok = None, False
        record(page, time.perf_counter() - start, ok, response)
        return response

    def _record_episode(self, record) -> None:
        child = self.rng.choice(self.children)
        form = self._get("episode form", f"/missing/new/{child}", record)
        if form is None or form.status_code != 200:
            return
        self.recorded += 1
        local = (datetime.now(UTC) - timedelta(hours=1)).astimezone(LONDON)
        data = {"csrf_token": _token(form.text), "police_reference": f"LOAD/{self.tag}/{self.recorded}",
                "police_org_id": str(self.police), "reported_on": [str(local.day), str(local.month), str(local.year)],
                "reported_time": local.strftime("%H:%M"), "classification": "missing", "risk_grade": "medium",
                "missing_from": "home", "missing_from_detail": ""}
        start = time.perf_counter()
        try:
            response = self.session.post(f"{self.base}/missing/new/{child}", data=data, allow_redirects=False,
                                         timeout=60)
            ok = response.status_code == 302
        except requests.RequestException:
            response, ok = None, False
        record("record episode", time.perf_counter() - start, ok, response)


def _run(users: list[_User], seconds: float, think: float) -> dict:
    """Every user steps through its journey until the time is up; latencies and errors by page."""
    lock = threading.Lock()
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)

    def record(page: str, elapsed: float, ok: bool, _response: requests.Response | None = None) -> None:
        with lock:
            times[page].append(elapsed)
            errors[page] += not ok

    deadline = time.monotonic() + seconds

    def loop(user: _User) -> None:
        time.sleep(user.rng.uniform(0, think))  # users do not all start at once
        while time.monotonic() < deadline:
            user.step(record)
            time.sleep(user.rng.uniform(0.5 * think, 1.5 * think))

    start = time.monotonic()
    with ThreadPoolExecutor(len(users)) as pool:
        for f in [pool.submit(loop, u) for u in users]:
            f.result()
    wall = time.monotonic() - start
    result = {page: {**_util.figures(t), "errors": errors[page]} for page, t in times.items()}
    everything = [x for t in times.values() for x in t]
    result["all pages"] = {**_util.figures(everything), "errors": sum(errors.values())}
    result["all pages"]["rps"] = len(everything) / wall
    return result


def _imports(path: str, importers: list[tuple[str, str]], env: dict, stop: threading.Event, done: list) -> None:
    """Import the download for one force after another until told to stop (the one running finishes)."""
    for code, email in importers:
        if stop.is_set():
            return
        start = time.monotonic()
        result = _util.flask(["missing", "import", path, "--force", code, "--as", email], env, timeout=1800)
        done.append((code, time.monotonic() - start, result.returncode, (result.stdout + result.stderr)[-300:]))


def _print(name: str, result: dict) -> None:
    print(f"-- {name}: {result['all pages']['requests']} requests, {result['all pages']['rps']:.1f}/s, "
          f"{result['all pages']['errors']} errors")
    for page, r in sorted(result.items(), key=lambda kv: kv[0] == "all pages"):
        print(f"   {page:16s} {r['requests']:6d} requests {r['errors']:4d} errors   p50 {r['median_ms']:7.1f} ms   "
              f"p95 {r['p95_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120, help="length of each of the two runs")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=5.0, help="mean pause between a user's requests (s)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the police download")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--historic", action="store_true",
                        help="import episodes found weeks ago (see _historic_download): the import's contention "
                             "without the growth of the open-episode list")
    parser.add_argument("--after-seconds", type=float, default=60,
                        help="a third run, alone again once the imports are done (0: none)")
    args = parser.parse_args(argv)
    given = os.environ.get("HUB_BENCH_DATABASE_URL")
    database = nullcontext(given) if given else _util.fresh_postgres(_util.DEFAULT_POSTGRES)
    results: dict = {}
    with _util.scratch("hub-bench-load-") as folder, database as url:
        _util.environment(folder, database_url=url)  # set up with fast password hashes; served as development
        started = time.perf_counter()
        setup = _setup(args.users, args.rows)
        _util.analyse()  # the set-up's bulk load, as autovacuum would
        path = folder / "download.xlsx"
        path.write_bytes(_historic_download(args.rows) if args.historic else _download(args.rows))
        print(f"(set up {SCHOOLS} schools, {args.rows:,} children, {len(setup['users'])} load users and a "
              f"{args.rows:,}-row download in {time.perf_counter() - started:.0f} s on "
              f"{url.split('@')[-1] if '@' in url else url})", flush=True)
        setup["app"].extensions["hub_engine"].dispose()
        os.environ["HUB_ENV"] = "development"
        env = dict(os.environ)
        server = None
        try:
            with _util.delivery_worker(env):
                server, base = _util.serve("hub:create_app()", env, workers=args.workers)
                with ThreadPoolExecutor(8) as pool:
                    users = list(pool.map(lambda ix: _User(base, *ix[1][:2], ix[1][2], ix[1][3], setup["police"],
                                                           ix[0]), enumerate(setup["users"])))
                print(f"({len(users)} users signed in over HTTP with password and TOTP; "
                      f"{args.workers} gunicorn workers)", flush=True)
                alone = results["alone"] = _run(users, args.seconds, args.think)
                _print(f"alone, {args.seconds:.0f} s", alone)
                stop, done = threading.Event(), []
                importer = threading.Thread(target=_imports, args=(str(path), setup["importers"], env, stop, done))
                importer.start()
                time.sleep(3)  # the import's process has started reading the file
                loaded = results["with import"] = _run(users, args.seconds, args.think)
                stop.set()
                importer.join()
                _print(f"while {args.rows:,}-row imports run, {args.seconds:.0f} s", loaded)
                print(f"   imports: {len(done)} ran ({', '.join(f'{d[1]:.0f} s' for d in done)}), exit codes "
                      f"{[d[2] for d in done]}")
                for d in done:
                    if d[2]:
                        print(f"   import for {d[0]} failed: {d[3]}")
                after = None
                if args.after_seconds:
                    # The imports leave tens of thousands of open episodes behind: the same users
                    # again with no import running tell the import's contention from the data's growth.
                    time.sleep(5)
                    db.bind(setup["app"].extensions["hub_engine"])
                    _util.analyse()  # what autovacuum (off on the CI machines' server) does after such imports
                    db.session.remove()
                    after = results["after"] = _run(users, args.after_seconds, args.think)
                    _print(f"alone again after the imports (their episodes in place), {args.after_seconds:.0f} s",
                           after)
                print("ratio of p95 with the import to p95 alone before it (goal < 1.5x)"
                      + ("; and to p95 alone after it:" if after else ":"))
                for page in sorted(alone, key=lambda p: p == "all pages"):
                    if page in loaded:
                        ratio = loaded[page]["p95_ms"] / alone[page]["p95_ms"]
                        results.setdefault("ratios", {})[page] = ratio
                        later = (f"   after: {loaded[page]['p95_ms'] / after[page]['p95_ms']:5.2f}"
                                 if after and page in after else "")
                        print(f"   {page:16s} {ratio:5.2f}  {'met' if ratio < 1.5 else 'SHORT'}{later}")
                db.bind(setup["app"].extensions["hub_engine"])
                pending = audit.pending()
                print(f"pending audit entries at the end of the run (worker integrating): {pending.count}", flush=True)
                db.session.remove()
                time.sleep(3)
        finally:
            _util.stop(server)
        started = time.perf_counter()
        ok, output, pending = _util.verify_log(env)
        print(f"audit verify: {'passes' if ok else 'FAILS'} in {time.perf_counter() - started:.0f} s: "
              f"{output.splitlines()[-1] if output else ''}; pending after integration: {pending}")
        db.session.remove()
        setup["app"].extensions["hub_engine"].dispose()
        results["verify"] = {"ok": ok, "pending": pending, "output": output}
        assert ok and pending == 0, output
    return results


if __name__ == "__main__":
    main()
