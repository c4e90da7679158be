"""The dashboard's episode figures in process (issue 22): the one counts statement
(`hub.reports.episode_figures.counts`, the period's episodes a MATERIALIZED CTE read once and a
UNION ALL of small GROUP BYs) against the statement-per-figure code it replaced (kept verbatim
as the tests' reference, tests/reports/per_statement.py: seven statements), alternated round by
round on the same database, as the analyst (whole area) and an authority's social worker, for a
year (2025) of the county `bench.reports` loads; with the school notifications' own statement
(the same code) beside it. Also, tried and not kept, the notifications inside the one statement;
and the whole `figures.dashboard` (charts are not drawn here). The figures of both
are checked equal before timing.

Run: `.venv/bin/python -m bench.reports_counts [--scale 0.2] [--rounds 15]`; SQLite in a temporary
folder, or `HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres` for a
database created for the run and dropped at its end (then an EXPLAIN ANALYZE of the statement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import date

from sqlalchemy import text

from bench import reports_per_statement as per_statement
from bench._databases import on_bench_database
from bench._util import environment, percentile, scratch
from bench.audit_log import _app
from bench.reports import _organisations, _scaled, _users, load_county
from hub import db
from hub.db import utcnow
from hub.models.auth import User
from hub.permissions import report_scope
from hub.reports import episode_figures as ep
from hub.reports import figures
from hub.reports.query import ReportFilters, ReportQuery

YEAR = ReportFilters(date(2025, 1, 1), date(2025, 12, 31))


def _old(q: ReportQuery) -> dict[str, figures.Figure]:
    t = per_statement.totals(q)
    return {"episodes-by-month": per_statement.episodes_by_month(q), "long-episodes": per_statement.long_episodes(q, t),
            "repeat-missing": per_statement.repeat_missing(q), "looked-after": per_statement.looked_after(q),
            "cross-border": per_statement.cross_border(q), "prevention-checks": per_statement.prevention_checks(q, t),
            "return-interviews": per_statement.return_interviews(q, t), "iro-told": per_statement.iro_told(q, t),
            "trigger-plans": per_statement.trigger_plans(q, t),
            "school-notifications": per_statement.school_notifications(q)}


def _new(q: ReportQuery) -> dict[str, figures.Figure]:
    counts = ep.counts(q)
    return {key: build(q, counts) for key, (build, _parts) in ep.FROM_COUNTS.items()}


def _folded(q: ReportQuery) -> None:
    """Tried, not kept: the notifications' part inside the one statement (the CTE joined to
    the notifications), every episode figure from one statement."""
    db.session().execute(ep.counts_statement(q, ep.PARTS)).all()


def _ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    db.session.rollback()
    return (time.perf_counter() - started) * 1000


def _line(name: str, times: list[float]) -> str:
    return f"{name} median {statistics.median(times):.0f} ms, p95 {percentile(times, 95):.0f} ms"


def _explain(statement) -> None:
    """EXPLAIN ANALYZE of a statement, its parameters through their types' bind processors."""
    connection = db.session().connection()
    compiled = statement.compile(dialect=connection.dialect)
    params = {}
    for key, value in compiled.params.items():
        process = compiled.binds[key].type._cached_bind_processor(connection.dialect)
        params[key] = process(value) if process else value
    try:
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + str(compiled), params)
        print("\n".join(row[0] for row in plan), flush=True)
    except Exception as error:  # noqa: BLE001 - the plan is for reading; the timings above stand
        print(f"(no plan: {type(error).__name__})", flush=True)
    db.session.rollback()


def _alternated(scope, rounds: int) -> dict[str, list[float]]:
    """Each way in turn, `rounds` times after 2 warm rounds, each with its own ReportQuery."""
    def q() -> ReportQuery:
        return ReportQuery(scope, YEAR, utcnow())

    assert _old(q()) == _new(q()), "the one statement's figures differ from the statements'"
    times: dict[str, list[float]] = {"old": [], "new": [], "folded": [], "dashboard": []}
    for i in range(rounds + 2):
        sample = {"old": _ms(lambda: _old(q())), "new": _ms(lambda: _new(q())),
                  "folded": _ms(lambda: _folded(q())),
                  "dashboard": _ms(lambda: figures.dashboard(scope, YEAR))}
        if i >= 2:
            for k, v in sample.items():
                times[k].append(v)
    return times


def _run(folder, scale: float, rounds: int, database_url: str | None) -> None:
    environment(folder, database_url)
    app = _app()
    orgs = _organisations()
    users = _users(orgs)
    sizes = _scaled(scale)
    started = time.perf_counter()
    load_county(sizes, orgs, users)
    dialect = db.session().get_bind().dialect.name
    if dialect == "postgresql":
        db.session().execute(text("ANALYZE"))
        db.session.commit()
    print(f"(loaded {sizes} in {time.perf_counter() - started:.0f} s on {dialect}; load average "
          f"{os.getloadavg()[0]:.1f})", flush=True)
    with app.test_request_context():
        for who in ("analyst", "sw"):
            scope = report_scope(db.session().get(User, users[who][0].id))
            times = _alternated(scope, rounds)
            ratio = statistics.median(times["new"]) / statistics.median(times["old"])
            print(f"{who}, year 2025, {rounds} rounds alternated: episode figures by the seven statements:"
                  f"{_line('', times['old'])}; by the counts statement and the notifications':"
                  f"{_line('', times['new'])} (ratio of medians {ratio:.2f}); the notifications inside the one "
                  f"statement (not kept):{_line('', times['folded'])}; whole "
                  f"figures.dashboard (MACE too, no charts): {_line('', times['dashboard'])}; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            if dialect == "postgresql":
                _explain(ep.counts_statement(ReportQuery(scope, YEAR, utcnow())))
    db.session.remove()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    with scratch("hub-bench-counts-") as folder:
        return on_bench_database("hub_bench_counts", lambda url: _run(folder, args.scale, args.rounds, url))


if __name__ == "__main__":
    main()
