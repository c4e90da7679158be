"""The DPO's flag queue at 10,000 open flags (issue 12): p95 latency of `/audit/flags` over HTTP
(2 gunicorn workers, one client at a time) for the hub's DPO and for a school's DPO, as a ratio
to the DPO's audit search page (`/audit`) measured in the same run; and SQL statements per page
(a fixed number whatever the queue's size). Goal: p95 under 300 ms.

Run: `make bench` or `.venv/bin/python -m bench.dpo_flags [--flags 10000] [--requests 100]`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, select

from bench.audit_log import _app, _environment
from bench.http_throughput import _serve, _signed_in_session
from bench.world import signed_in_client
from hub import db
from hub.admin import service as admin
from hub.audit import service as audit
from hub.auth import second_factor as auth_second_factor
from hub.models.audit import AuditFlag, AuditFlagEvent
from hub.models.auth import User
from hub.models.people import Enrolment, Gender
from hub.models.roles import OrgKind, Role
from hub.people import service as people

PASSWORD = "bench password 123"


def _setup(total_flags: int) -> dict:
    app = _app()
    host = admin.create_organisation(None, admin.OrganisationDetails("B-HOST", "Bench hub", OrgKind.mace_host,
                                                                     "MACE1"))
    la = admin.create_organisation(None, admin.OrganisationDetails("B-LA", "Bench LA", OrgKind.childrens_social_care,
                                                                   "901"))
    schools = [admin.create_organisation(None, admin.OrganisationDetails(
        f"B-SCH{i}", f"Bench school {i}", OrgKind.school, f"99{i:04d}")) for i in range(10)]
    dsls = [admin.create_user(None, admin.UserDetails(f"dsl{i}@bench.example.test", f"Bench Dsl{i}",
                                                      schools[i % 10].id, {Role.dsl}, password=PASSWORD))
            for i in range(100)]
    children = []
    for i in range(200):
        child = people.create_child(None, people.ChildDetails(
            given_name=f"Child{i}", family_name="Bench", date_of_birth=date(2012, 1, 1), gender=Gender.female,
            responsible_authority_id=la.id))
        children.append(child.id)
    with db.unit_of_work() as s:  # on the schools' rolls: the school DPO's children
        s.add_all(Enrolment(child_id=c, school_id=schools[i % 10].id, start_date=date(2024, 9, 1))
                  for i, c in enumerate(children))
    signed = {}
    for name, org in (("hub_dpo", host), ("school_dpo", schools[0])):
        user = admin.create_user(None, admin.UserDetails(f"{name}@bench.example.test", f"Bench {name}", org.id,
                                                         {Role.dpo}, password=PASSWORD))
        secret = auth_second_factor.new_totp_secret()
        with db.unit_of_work():
            row = db.session().get(User, user.id)
            row.totp_secret, row.totp_confirmed_at = secret, db.utcnow()
        signed[name] = (user.email, secret)
    _log(dsls, children)
    _bulk_flags(dsls, children, total_flags)
    db.session.remove()
    return {"app": app, "signed": signed}


def _log(dsls, children, count: int = 20_000) -> None:
    """A log for the search page to page through: DSLs reading children's records."""
    rng = random.Random(3)
    for _batch in range(0, count, 1000):
        with db.unit_of_work():
            for user in rng.sample(dsls, 10):
                audit.record_many(user, [audit.Entry("read", object_type="child", child_id=c, basis="enrolment")
                                         for c in rng.sample(children, 100)])


def _bulk_flags(dsls, children, total: int) -> None:
    """Open flags loaded through Core as the rules would leave them: one per user, rule and day,
    each with 1 to 20 events behind it about 1 to 8 children."""
    rng = random.Random(7)
    today = date.today()
    rows, seq = [], 10_000_000  # event numbers of their own, apart from the log's
    for i in range(total):
        user = dsls[i % len(dsls)]
        day = today - timedelta(days=i // len(dsls))
        first = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=20)
        count = rng.randint(1, 20)
        rows.append(dict(kind="out-of-hours", event_seq=seq, actor_user_id=user.id, actor_org_id=user.organisation_id,
                         day=day, event_count=count, last_event_seq=seq + count - 1, first_event_at=first,
                         last_event_at=first + timedelta(minutes=count), status="open", raised_at=first,
                         reason="Child records viewed out of working hours (08:00 to 18:00, Monday to Friday)"))
        seq += count
    with db.unit_of_work() as s:
        s.execute(insert(AuditFlag), rows)
        behind = []
        for flag_id, first_seq, count in s.execute(select(AuditFlag.id, AuditFlag.event_seq, AuditFlag.event_count)):
            kids = rng.sample(children, rng.randint(1, 8))
            behind += [dict(kind="out-of-hours", event_seq=first_seq + n, flag_id=flag_id, child_id=kids[n % len(kids)])
                       for n in range(count)]
        for start in range(0, len(behind), 20_000):
            s.execute(insert(AuditFlagEvent), behind[start:start + 20_000])


def _latency(session, url: str, requests_: int) -> dict:
    timings = []
    for i in range(requests_ + 5):
        start = time.perf_counter()
        response = session.get(url, allow_redirects=False, timeout=30)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i >= 5:  # warm-up
            timings.append(elapsed)
    timings.sort()
    return {"median_ms": statistics.median(timings), "p95_ms": timings[int(len(timings) * 0.95) - 1]}


def _statements(app, email: str, secret: str, urls: list[str]) -> dict[str, int]:
    """SQL statements per page, in process (the same app, a test client)."""
    client = signed_in_client(app, db.session().scalar(select(User).where(User.email == email)), secret)
    engine = app.extensions["hub_engine"]
    counts = {}
    for url in urls:
        client.get(url)
        n = [0]

        def bump(*_a, n=n, **_k):
            n[0] += 1

        event.listen(engine, "before_cursor_execute", bump)
        assert client.get(url).status_code == 200
        event.remove(engine, "before_cursor_execute", bump)
        counts[url] = n[0]
    return counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        _environment(Path(folder))
        os.environ["HUB_IDLE_TIMEOUT_MINUTES"] = "60"
        start = time.perf_counter()
        setup = _setup(args.flags)
        print(f"(loaded {args.flags:,} open flags and 20,000 log events in {time.perf_counter() - start:.0f} s)")
        statements = _statements(setup["app"], *setup["signed"]["hub_dpo"], ["/audit", "/audit/flags"])
        setup["app"].extensions["hub_engine"].dispose()
        server, base = _serve("hub:create_app()", dict(os.environ))
        try:
            hub_dpo = _signed_in_session(base, setup["signed"]["hub_dpo"][0], PASSWORD, setup["signed"]["hub_dpo"][1])
            school_dpo = _signed_in_session(base, setup["signed"]["school_dpo"][0], PASSWORD,
                                            setup["signed"]["school_dpo"][1])
            results = {
                "search (baseline)": _latency(hub_dpo, f"{base}/audit", args.requests),
                "flags, hub DPO": _latency(hub_dpo, f"{base}/audit/flags", args.requests),
                "flags, school DPO": _latency(school_dpo, f"{base}/audit/flags", args.requests),
            }
        finally:
            server.terminate()
            server.wait()
    baseline = results["search (baseline)"]["p95_ms"]
    for name, r in results.items():
        print(f"{name}: median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms "
              f"({r['p95_ms'] / baseline:.2f}x the search page's p95)")
    print(f"SQL statements per page: search {statements['/audit']}, flags {statements['/audit/flags']}")
    verdict = "met" if max(r["p95_ms"] for r in results.values()) < 300 else "NOT met"
    print(f"goal: flag queue p95 < 300 ms at {args.flags:,} open flags: {verdict}")
    return {**results, "statements": statements}


if __name__ == "__main__":
    main()
