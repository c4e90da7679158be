"""The audit log's integrator: sequences committed pending entries, stores their leaves, extends
the Merkle tree and moves the head, one batch per transaction under the head's lock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from hub import db
from hub.audit import merkle
from hub.audit.merkle import leaf_hash
from hub.audit.service import LEAF_FIELDS, _leaf_of, _nodes
from hub.models.audit import AuditEvent, AuditEventOrganisation, AuditHead, AuditNode

# --- the integrator -----------------------------------------------------------------------------
# As transparency logs do it (Trillian, Tessera): entries are written by many, sequenced by one
# at a time. The integrator takes the head's lock, numbers the committed pending entries in
# insertion order from the tree size on, stores their leaves, extends the tree and moves the head,
# all in one transaction: two integrators queue on the lock, and the second sees the first's
# work, so every entry gets exactly one number and the numbers have no gaps. An entry whose
# transaction rolled back was never committed, so no integrator ever sees it.

#: Entries numbered per integrator transaction: big enough to keep up with an import, small
#: enough that the head's lock is held for well under a second.
INTEGRATE_BATCH = 5000


_PENDING_COLUMNS = ["id"] + [name for name in LEAF_FIELDS if name != "seq"]


#: The rule deciding whose organisation DPO sees each entry (hub.permissions.dpo's
#: `event_organisations`: who holds a child is an access rule). hub.permissions depends on this
#: module (every refusal is audited), so the rule is handed to it at start-up (hub.app) instead
#: of imported: the dependency runs one way.
EventScopeRule = Callable[[Any, Sequence[Mapping[str, Any]]], list[dict[str, int]]]


_event_scope_rule: list[EventScopeRule] = []


def use_event_scope(rule: EventScopeRule) -> None:
    _event_scope_rule[:] = [rule]


def _event_scope() -> EventScopeRule:
    if not _event_scope_rule:  # never an entry sequenced without its index rows
        raise RuntimeError("the audit log's event scope rule is not set up (hub.app's create_app hands it over)")
    return _event_scope_rule[0]


def integrate(limit: int = INTEGRATE_BATCH) -> int:
    """Sequence up to `limit` pending entries; the number sequenced."""
    table = AuditEvent.__table__
    with db.unit_of_work() as session:
        connection = session.connection()
        size = _lock_head(connection)
        pending = connection.execute(
            select(*[table.c[name] for name in _PENDING_COLUMNS])
            .where(table.c.seq.is_(None)).order_by(table.c.id).limit(limit)).mappings().all()
        if not pending:
            return 0
        updates = [_integrated(size + offset, row) for offset, row in enumerate(pending)]
        connection.execute(
            update(table).where(table.c.id == bindparam("entry"))
            .values(seq=bindparam("number"), leaf=bindparam("leaf_bytes"), leaf_hash=bindparam("hash")),
            updates)
        _extend_tree_many(session, size, [u["hash"] for u in updates])
        # Whose organisation DPO sees each entry, decided now (a second or so after it happened,
        # by the relationships of the moment) and committed with its number: never an entry
        # sequenced and not indexed. Not part of the leaf.
        if scope := _event_scope()(connection, pending):
            connection.execute(insert(AuditEventOrganisation.__table__), scope)
        connection.execute(update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1)
                           .values(tree_size=size + len(updates)))
    return len(updates)


def integrate_all(limit: int = INTEGRATE_BATCH) -> int:
    """Integrate until nothing committed is pending; the number sequenced."""
    total = 0
    while (done := integrate(limit)):
        total += done
    return total


#: How often the worker's integrator thread looks for pending entries (hub.worker).
INTEGRATE_EVERY = 1.0


def _lock_head(connection) -> int:
    """The tree size, with the head's row lock (PostgreSQL) or the database's write lock
    (SQLite) held to the end of the transaction. A write, not a read: a SQLite transaction that
    reads first may be refused the write lock later."""
    head = AuditHead.__table__
    return connection.execute(
        update(head).where(head.c.id == 1).values(tree_size=head.c.tree_size).returning(head.c.tree_size)
    ).scalar_one()


def _integrated(seq: int, row) -> dict[str, Any]:
    values = {name: row[name] for name in LEAF_FIELDS if name != "seq"}
    values["seq"] = seq
    leaf = _leaf_of(values)
    return {"entry": row["id"], "number": seq, "leaf_bytes": leaf, "hash": leaf_hash(leaf)}


def _extend_tree_many(session, first: int, hashes: list[bytes]) -> None:
    """Resume the tree's right edge at `first` (popcount(first) stored nodes, one or two
    queries), append every leaf, and insert all the perfect subtrees they complete at once."""
    edge = merkle.root_nodes(first)
    known = _nodes(session, list(edge))
    tree = merkle.CompactRange.from_store(first, lambda level, index: known[(level, index)])
    rows = [{"level": lvl, "idx": idx, "hash": h} for leaf in hashes for lvl, idx, h in tree.append(leaf)]
    if rows:
        session.connection().execute(insert(AuditNode.__table__), rows)
