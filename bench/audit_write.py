"""The audited write against a plain insert (issue 13), on SQLite in a filesystem that does not
flush (tmpfs, /dev/shm) and on disk (a temporary folder under /var/tmp), both in the same run.

An audited write is what a request's change now adds: one INSERT of its audit event, pending (no
lock, no sequence number, no hashing), in the change's own transaction, committed. The baseline
is the same row inserted into a plain copy of the table (no indexes beyond the key, no triggers)
and committed, in the same database. Each event and each plain row is its own transaction, as a
request writes it. The four measurements alternate in rounds (tmpfs audited, tmpfs plain, disk
plain, disk audited, then the other way round), so background load lands on all of them. On
disk most of a commit is the flush (fsync), which is the same for both sides and flatters the
ratio; tmpfs shows the CPU cost. Also: the integrator sequencing what the run wrote, per location.

Run: `.venv/bin/python -m bench audit_write` or `.venv/bin/python -m bench.audit_write [--writes 500] [--rounds 4]`.
Both databases are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, Table, insert

from bench.audit_log import _app, _environment
from hub import db
from hub.audit import integrator as audit_integrator
from hub.audit import service as audit
from hub.models.audit import AuditEvent

LOCATIONS = {"tmpfs (/dev/shm)": "/dev/shm", "disk (/var/tmp)": "/var/tmp"}


def _database(folder: Path):
    """A migrated hub database in `folder`, its engine, and a plain copy of the event table."""
    os.environ["HUB_DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    app = _app()
    engine = app.extensions["hub_engine"]
    plain = Table("bench_plain", MetaData(), *[c._copy() for c in AuditEvent.__table__.columns
                                               if c.name not in ("seq", "leaf", "leaf_hash")])
    plain.create(engine)
    return engine, plain


def _audited(count: int, offset: int) -> float:
    start = time.perf_counter()
    for i in range(offset, offset + count):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i % 500, basis="enrolment")
    return time.perf_counter() - start


def _plain(plain, count: int, offset: int) -> float:
    row = {"occurred_at": datetime.now(UTC), "outcome": "done", "action": "read", "object_type": "child",
           "access_basis": "enrolment", "request_id": "bench"}
    start = time.perf_counter()
    for i in range(offset, offset + count):
        with db.unit_of_work() as s:  # on the Core connection, as the audit append writes
            s.connection().execute(insert(plain), [{"object_id": str(i), "child_id": i % 500, **row}])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=500, help="writes per side per round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    folders = {name: Path(tempfile.mkdtemp(prefix="hub-bench-audit-write-", dir=base))
               for name, base in LOCATIONS.items()}
    engines = {}
    try:
        _environment(next(iter(folders.values())))
        for name, folder in folders.items():
            engines[name] = _database(folder)
        for name in folders:  # warm-up: compiled statements, pages of the files
            db.bind(engines[name][0])
            _audited(50, 0)
            _plain(engines[name][1], 50, 0)
        seconds = {(name, side): 0.0 for name in folders for side in ("audited", "plain")}
        done = 0
        for round_ in range(args.rounds):
            steps = [(name, side) for name in folders for side in ("audited", "plain")]
            if round_ % 2:
                steps.reverse()
            for name, side in steps:
                engine, plain = engines[name]
                db.bind(engine)
                seconds[(name, side)] += (_audited(args.writes, done) if side == "audited"
                                          else _plain(plain, args.writes, done))
            done += args.writes
        results = {}
        for name in folders:
            audited = done / seconds[(name, "audited")]
            plain = done / seconds[(name, "plain")]
            db.bind(engines[name][0])
            start = time.perf_counter()
            integrated = audit_integrator.integrate_all()
            integrating = time.perf_counter() - start
            results[name] = {"audited_per_s": audited, "plain_per_s": plain, "ratio": audited / plain,
                             "integrated": integrated, "integrated_per_s": integrated / integrating}
            print(f"{name}: audited write {audited:.0f}/s, plain insert {plain:.0f}/s, ratio {audited / plain:.2f} "
                  f"({done} each, {args.rounds} alternating rounds); integrator then sequenced {integrated} entries "
                  f"at {integrated / integrating:.0f}/s", flush=True)
        return results
    finally:
        db.session.remove()
        for engine, _plain_table in engines.values():
            engine.dispose()
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
