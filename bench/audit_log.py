"""Audit log figures (issue: audit trail), each with its baseline measured in the same run.

1. Audited write throughput through the service layer vs a plain insert of the same row.
2. Verification of a 1,000,000-event log vs SHA-256 of the same leaf bytes with hashlib.
3. Inclusion proof for one event in that log: database queries, nodes read, milliseconds.
4. DPO search by child in that log: p95 latency.

Run: `make bench` (all benchmarks) or `.venv/bin/python -m bench.audit_log [--events N]`.
Everything runs on a throw-away SQLite database in a temporary folder. With
HUB_BENCH_DATABASE_URL pointing at an empty PostgreSQL database, only the write figure is
measured, there.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import rfc8785
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import MetaData, Table, event, insert, select, text

from hub import create_app, db
from hub.admin import service as admin
from hub.audit import keys as audit_keys
from hub.audit import merkle
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.service import _nodes, rfc3339
from hub.audit.verification import verify_log
from hub.dpo import search as dpo_search
from hub.migrate import upgrade
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role

CHILDREN = 5000  # distinct children in the large log


def _environment(folder: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    os.environ.update({
        "HUB_ENV": "testing", "HUB_SECRET_KEY": "bench", "HUB_FIELD_KEYS": Fernet.generate_key().decode(),
        "HUB_BLIND_INDEX_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(), "HUB_AUDIT_SIGNING_KEY": pem,
        "HUB_DATABASE_URL": os.environ.get("HUB_BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}",
        "HUB_DEMO": "0",
    })


def _app():
    app = create_app()
    upgrade(app)
    return app


def bench_writes(count: int) -> dict:
    """Each event in its own transaction, as a request would write it."""
    start = time.perf_counter()
    for i in range(count):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i % 500, basis="enrolment")
    audited = count / (time.perf_counter() - start)

    # The baseline: the same row into a plain copy of the table (no triggers, no hashing, no lock).
    plain_table = Table("bench_plain", MetaData(), *[c._copy() for c in AuditEvent.__table__.columns])
    plain_table.create(db.session().get_bind())
    row = {"occurred_at": datetime.now(UTC), "outcome": "done", "action": "read", "object_type": "child",
           "access_basis": "enrolment", "leaf": b"{}", "leaf_hash": b"\0" * 32, "request_id": "bench"}
    start = time.perf_counter()
    for i in range(count):
        with db.unit_of_work() as s:
            s.execute(insert(plain_table).values(seq=i, object_id=str(i), child_id=i % 500, **row))
    plain = count / (time.perf_counter() - start)
    return {"audited_per_s": audited, "plain_per_s": plain, "ratio": audited / plain}


def build_large_log(total: int, children: int = CHILDREN) -> None:
    """Bulk-load `total` realistic events with their leaves and tree nodes (fast path for the
    benchmark only: the service's append would take minutes for a million)."""
    s = db.session()
    start_size = s.execute(text("SELECT tree_size FROM audit_head WHERE id = 1")).scalar_one()
    tree = merkle.CompactRange.from_store(start_size, _node_reader(s))
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    conn = s.connection().connection.driver_connection
    # The bulk build writes numbered entries, as a restore does: audit_event's insert trigger
    # (which takes pending entries only) is lifted for it and put back as it was.
    lifted = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event' "
                          "AND sql LIKE '%BEFORE INSERT%'").fetchall()
    for name, _ in lifted:
        conn.execute(f'DROP TRIGGER "{name}"')
    events, nodes = [], []
    for seq in range(start_size, start_size + total):
        when = base + timedelta(seconds=seq * 20)
        fields = {"seq": seq, "occurred_at": rfc3339(when), "outcome": "done", "actor_user_id": rng.randint(1, 400),
                  "actor_org_id": rng.randint(1, 40), "actor_roles": "dsl", "auth_method": "password+totp",
                  "action": "read", "object_type": "child", "object_id": str(rng.randint(1, children)),
                  "child_id": rng.randint(1, children), "access_basis": "enrolment", "purpose": "view record",
                  "legal_basis": None, "request_id": f"{seq:032x}", "client_address": "10.0.0.1",
                  "user_agent": "Mozilla/5.0", "detail": None}
        leaf = rfc8785.dumps(fields)
        h = merkle.leaf_hash(leaf)
        events.append((seq, when.strftime("%Y-%m-%d %H:%M:%S.%f"), "done", fields["actor_user_id"],
                       fields["actor_org_id"], "dsl", "password+totp", "read", "child", fields["object_id"],
                       fields["child_id"], "enrolment", "view record", None, fields["request_id"], "10.0.0.1",
                       "Mozilla/5.0", None, leaf, h))
        nodes.extend(tree.append(h))
        if len(events) >= 50_000:
            _flush(conn, events, nodes)
    _flush(conn, events, nodes)
    size = start_size + total
    conn.execute("UPDATE audit_head SET tree_size = ? WHERE id = 1", (size,))
    # The organisation DPOs' index, as the integrator writes it: here the actor's organisation
    # (the children are made up, and held by nobody).
    conn.execute("INSERT INTO audit_event_organisation (organisation_id, event_id) SELECT actor_org_id, id "
                 "FROM audit_event WHERE seq >= ? AND actor_org_id IS NOT NULL", (start_size,))
    for _, sql in lifted:
        conn.execute(sql)
    conn.commit()


def _flush(conn, events: list, nodes: list) -> None:
    conn.executemany(
        "INSERT INTO audit_event (seq, occurred_at, outcome, actor_user_id, actor_org_id, actor_roles, auth_method, "
        "action, object_type, object_id, child_id, access_basis, purpose, legal_basis, request_id, client_address, "
        "user_agent, detail, leaf, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
    conn.executemany("INSERT INTO audit_node (level, idx, hash) VALUES (?,?,?)", nodes)
    conn.commit()
    events.clear()
    nodes.clear()


def _node_reader(session):
    return lambda level, index: _nodes(session, [(level, index)])[(level, index)]


def bench_verify(total: int) -> dict:
    # The sequenced entries' leaves (the write benchmark's own entries may still be waiting).
    leaves = list(db.session().scalars(select(AuditEvent.leaf).where(AuditEvent.seq.is_not(None))
                                       .order_by(AuditEvent.seq)))
    start = time.perf_counter()
    for leaf in leaves:
        hashlib.sha256(leaf).digest()
    hashing = len(leaves) / (time.perf_counter() - start)
    del leaves
    audit_tree_heads.sign_tree_head()
    db.session.remove()
    key = audit_keys.signing_key().public_key()
    start = time.perf_counter()
    result = verify_log(key, fast=True)
    fast_seconds = time.perf_counter() - start
    db.session.remove()
    start = time.perf_counter()
    full = verify_log(key)
    full_seconds = time.perf_counter() - start
    assert result.ok and full.ok, result.problems + full.problems
    return {"entries": result.tree_size, "hashlib_per_s": hashing,
            "fast_per_s": result.tree_size / fast_seconds, "fast_seconds": fast_seconds,
            "fast_ratio": result.tree_size / fast_seconds / hashing,
            "full_per_s": full.tree_size / full_seconds, "full_seconds": full_seconds,
            "full_ratio": full.tree_size / full_seconds / hashing}


def bench_inclusion() -> dict:
    size = audit_tree_heads.tree_size()
    engine = db.session().get_bind()
    queries = {"n": 0}

    def count(*_args, **_kwargs):
        queries["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    timings, reads = [], []
    head = audit_tree_heads.latest_tree_head()
    rng = random.Random(3)
    for _ in range(50):
        seq = rng.randrange(head.tree_size)
        queries["n"] = 0
        start = time.perf_counter()
        proof = audit_tree_heads.inclusion_proof(seq, head.tree_size)
        timings.append((time.perf_counter() - start) * 1000)
        reads.append(queries["n"])
        leaf_hash = db.session().scalar(select(AuditEvent.leaf_hash).where(AuditEvent.seq == seq))  # by number, not id
        assert merkle.verify_inclusion(leaf_hash, seq, head.tree_size, proof, head.root_hash)
    event.remove(engine, "before_cursor_execute", count)
    nodes = max(sum(len(g) for g in merkle.inclusion_nodes(i, size)) for i in (0, size // 2, size - 1))
    return {"tree_size": size, "queries_max": max(reads), "nodes_read_max": nodes,
            "two_log2_n": 2 * (size - 1).bit_length(), "ms_median": statistics.median(timings),
            "ms_p95": sorted(timings)[int(len(timings) * 0.95) - 1]}


def bench_dpo_search() -> dict:
    host = admin.create_organisation(None, admin.OrganisationDetails("BENCHHOST", "Bench host", OrgKind.mace_host,
                                                                     "BENCH"))
    user = admin.create_user(None, admin.UserDetails("dpo@bench.example.test", "Bench DPO", host.id, {Role.dpo}))
    rng = random.Random(5)
    timings = []
    for _ in range(60):
        start = time.perf_counter()
        dpo_search.search(user, dpo_search.EventFilter(child_id=rng.randint(1, CHILDREN)))
        timings.append((time.perf_counter() - start) * 1000)
    timings = timings[10:]  # the first searches warm the page cache
    return {"ms_median": statistics.median(timings), "ms_p95": sorted(timings)[int(len(timings) * 0.95) - 1]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the large log")
    parser.add_argument("--writes", type=int, default=2000, help="events written for the throughput figure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        _environment(Path(folder))
        _app()
        results = {"writes": bench_writes(args.writes)}
        w = results["writes"]
        print(f"audited writes: {w['audited_per_s']:.0f} events/s; plain insert {w['plain_per_s']:.0f} rows/s; "
              f"ratio {w['ratio']:.2f} (goal >= 0.5)")
        if os.environ.get("HUB_BENCH_DATABASE_URL"):
            return  # the bulk loader below writes SQLite directly; the other figures are measured there
        start = time.perf_counter()
        build_large_log(args.events)
        print(f"(built a log of {args.events:,} events in {time.perf_counter() - start:.0f} s)")
        v = results["verify"] = bench_verify(args.events)
        print(f"verify {v['entries']:,} events: fast {v['fast_per_s']:.0f}/s in {v['fast_seconds']:.1f} s "
              f"(ratio {v['fast_ratio']:.2f} to hashlib {v['hashlib_per_s']:.0f}/s; goal >= 0.25, < 60 s); "
              f"full {v['full_per_s']:.0f}/s in {v['full_seconds']:.1f} s (ratio {v['full_ratio']:.2f})")
        p = results["inclusion"] = bench_inclusion()
        print(f"inclusion proof at size {p['tree_size']:,}: {p['queries_max']} queries, at most {p['nodes_read_max']} "
              f"nodes read (goal <= 2 log2 n = {p['two_log2_n']}); {p['ms_median']:.1f} ms median, "
              f"{p['ms_p95']:.1f} ms p95")
        d = results["dpo_search"] = bench_dpo_search()
        print(f"DPO search by child at {args.events:,} events: {d['ms_median']:.1f} ms median, "
              f"{d['ms_p95']:.1f} ms p95 (goal p95 < 100 ms)")
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
