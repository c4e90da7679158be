"""Writing to the audit log: the one way every feature records an event.

`record()` is called by services inside their unit of work, after the change it records, so the
event and the change commit together. It takes the tree-size row lock, gives the event the next
sequence number, stores its canonical leaf and extends the Merkle tree's stored perfect subtrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import rfc8785
from sqlalchemy import and_, insert, or_, select, update

from hub import db
from hub.audit.context import current_origin
from hub.audit.merkle import leaf_hash, node_hash
from hub.audit.models import AuditEvent, AuditHead, AuditNode, SignedTreeHead

DONE = "done"
REFUSED = "refused"

LEAF_FIELDS = (
    "seq", "occurred_at", "outcome", "actor_user_id", "actor_org_id", "actor_roles", "auth_method",
    "action", "object_type", "object_id", "child_id", "access_basis", "purpose", "legal_basis",
    "request_id", "client_address", "user_agent", "detail",
)


def rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:  # SQLite hands back naive datetimes; the hub stores UTC only
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_bytes(event: AuditEvent) -> bytes:
    """RFC 8785 canonical JSON of the event's fields: the bytes the Merkle tree commits to."""
    return _leaf_of({name: getattr(event, name) for name in LEAF_FIELDS})


def _leaf_of(values: dict[str, Any], occurred_at: str | None = None, detail: Any = ...) -> bytes:
    """leaf_bytes of an event's column values (a dict of exactly the LEAF_FIELDS, so appending
    needs no ORM object).
    An appender may pass the time already formatted, and the detail when it is known to read
    back from its JSON unchanged (plain values: see _plain), to skip the round trip."""
    fields: dict[str, Any] = dict(values)  # exactly the LEAF_FIELDS
    fields["occurred_at"] = occurred_at or rfc3339(values["occurred_at"])
    if detail is ...:
        detail = json.loads(values["detail"]) if values["detail"] else None
    fields["detail"] = None
    plain = _plain_scalars(fields) and _plain(detail)
    fields["detail"] = detail
    return canonical_json(fields, plain)


# --- RFC 8785 canonical JSON, fast ---------------------------------------------------------------
# rfc8785.dumps is pure Python (about 65 µs an event); json.dumps in C gives the very same bytes
# for the values an event holds: ASCII keys (sorted by code point = UTF-16 order for ASCII),
# strings (both escape only '"', '\\' and control characters, the latter as \b \f \n \r \t or a
# lowercase \u00xx, and emit everything else as UTF-8), integers within +-(2**53 - 1), booleans
# and null. Anything else (a float, a huge integer, a non-ASCII key) goes to rfc8785 itself, so
# the leaf is canonical either way; tests/audit check the two agree.

_MAX_SAFE_INTEGER = 2**53 - 1
#: The detail column's JSON: json.dumps(detail, sort_keys=True, separators=(",", ":")), with the
#: encoder made once rather than per event.
_detail_json = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True when json.dumps is known to write `value` exactly as RFC 8785 does."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _plain(item):
                return False
        return True
    if kind is list:
        for item in value:
            if not _plain(item):
                return False
        return True
    return False


def _plain_scalars(fields: dict[str, Any]) -> bool:
    """_plain for a flat dict of columns (an event's), without a call per value."""
    for key, value in fields.items():
        kind = type(value)
        if kind is int:
            if not -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
                return False
        elif not (kind is str or value is None) or not key.isascii():
            return False
    return True


def canonical_json(value: Any, plain: bool | None = None) -> bytes:
    """RFC 8785 (JCS) bytes of `value`: json.dumps where it is byte-identical, else rfc8785.
    `plain`: the caller has already checked `value` with _plain."""
    if plain or (plain is None and _plain(value)):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it as it always did
            pass
    return rfc8785.dumps(value)


@dataclass
class Entry:
    """What one event says; the actor, time and origin are added when it is recorded."""

    action: str
    outcome: str = DONE
    object_type: str | None = None
    object_id: object | None = None
    child_id: int | None = None
    basis: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    detail: dict[str, Any] | None = None


def record(action: str, *, actor=None, **fields) -> AuditEvent:
    """Append one event in the current transaction. Call it last in a unit of work: the
    tree-size lock it takes is held until commit, so holding it briefly keeps writers flowing."""
    return record_many(actor, [Entry(action, **fields)])[0]


def record_many(actor, entries: list[Entry]) -> list[AuditEvent]:
    """Append several events under one lock with a fixed number of statements (a listing page
    records one event per child it shows)."""
    return [AuditEvent(**row) for row in _append([(actor, entry) for entry in entries])]


def record_many_as(entries: list[tuple[Any, Entry]]) -> list[int]:
    """record_many for events of several actors, in the order given, still under one lock: an
    import chunk appends each episode's events (the hub's notifications, then the officer's
    episode) exactly as the per-row path would, with one head update for the whole chunk.
    Returns the events' sequence numbers (no ORM objects: a chunk appends thousands)."""
    return [row["seq"] for row in _append(entries)]


def _append(entries: list[tuple[Any, Entry]]) -> list[dict[str, Any]]:
    if not entries:
        return []
    origin = current_origin()
    session = db.session()
    first = _reserve(session, len(entries))
    now = datetime.now(timezone.utc)
    stamp = rfc3339(now)
    actors: dict[int, tuple] = {}  # each actor's columns worked out once per append
    rows = [_event_row(first + i, now, actor, origin, entry, stamp, actors) for i, (actor, entry) in enumerate(entries)]
    # A Core insert, not session.add(): events never change after this, so the ORM's unit of
    # work would only add cost to the one write every request makes.
    session.connection().execute(insert(AuditEvent.__table__), rows)
    if len(rows) == 1:
        _extend_tree(session, first, rows[0]["leaf_hash"])
    else:
        _extend_tree_many(session, first, [row["leaf_hash"] for row in rows])
    return rows


def _event_row(seq: int, now: datetime, actor, origin, entry: Entry, stamp: str | None = None,
               actors: dict[int, tuple] | None = None) -> dict[str, Any]:
    """Every column of the event, its leaf and leaf hash included."""
    who = actors.get(id(actor)) if actors is not None else None
    if who is None:
        who = (getattr(actor, "id", None), getattr(actor, "organisation_id", None),
               ",".join(sorted(r.value for r in actor.roles)) if actor is not None else None,
               _auth_method(actor, origin.channel))
        if actors is not None:
            actors[id(actor)] = who
    row: dict[str, Any] = dict(
        seq=seq,
        occurred_at=now,
        outcome=entry.outcome,
        actor_user_id=who[0],
        actor_org_id=who[1],
        actor_roles=who[2],
        auth_method=who[3],
        action=entry.action,
        object_type=entry.object_type,
        object_id=None if entry.object_id is None else str(entry.object_id),
        child_id=entry.child_id,
        access_basis=entry.basis,
        purpose=entry.purpose,
        legal_basis=entry.legal_basis,
        request_id=origin.request_id,
        client_address=origin.client_address,
        user_agent=(origin.user_agent or "")[:300] or None,
        detail=_detail_json(entry.detail) if entry.detail else None,
    )
    # A plain detail reads back from its JSON unchanged, so the leaf can take it as it is.
    detail = entry.detail if entry.detail and _plain(entry.detail) else ...
    row["leaf"] = _leaf_of(row, stamp, detail)
    row["leaf_hash"] = leaf_hash(row["leaf"])
    return row


def _auth_method(actor, channel: str) -> str:
    if actor is not None and getattr(actor, "current_session", None) is not None:
        return actor.current_session.method
    return channel if actor is not None or channel != "web" else "anonymous"


def _reserve(session, count: int) -> int:
    """The first of `count` new sequence numbers.
    UPDATE ... RETURNING takes the row lock (PostgreSQL) or the write lock (SQLite) for the rest
    of the transaction: "read head, append" cannot interleave, so no gaps and no duplicates."""
    # On the Core connection: an ORM-enabled UPDATE would add session synchronisation work to
    # every request's audit write.
    size = session.connection().execute(
        update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1)
        .values(tree_size=AuditHead.__table__.c.tree_size + count)
        .returning(AuditHead.__table__.c.tree_size)
    ).scalar_one()
    return size - count


def _extend_tree(session, seq: int, leaf: bytes) -> None:
    """Store every perfect subtree the new leaf completes. Leaf `seq` completes a subtree at
    level L when seq + 1 is a multiple of 2**L; on average that is one new node per leaf."""
    size = seq + 1
    levels = (size & -size).bit_length() - 1  # trailing zero bits of size
    if levels == 0:
        return
    # The left sibling at each level: node(L-1, (size >> (L-1)) - 2), for L = 1..levels.
    wanted = [(lvl - 1, (size >> (lvl - 1)) - 2) for lvl in range(1, levels + 1)]
    known = _nodes(session, wanted)
    right = leaf
    rows = []
    for lvl in range(1, levels + 1):
        left = known[(lvl - 1, (size >> (lvl - 1)) - 2)]
        right = node_hash(left, right)
        rows.append({"level": lvl, "idx": (size >> lvl) - 1, "hash": right})
    session.connection().execute(insert(AuditNode.__table__), rows)


def _extend_tree_many(session, first: int, hashes: list[bytes]) -> None:
    """Resume the tree's right edge at `first` (popcount(first) stored nodes, one or two
    queries), append every leaf, and insert all the perfect subtrees they complete at once."""
    from hub.audit import merkle

    edge = merkle.root_nodes(first)
    known = _nodes(session, list(edge))
    tree = merkle.CompactRange.from_store(first, lambda level, index: known[(level, index)])
    rows = [{"level": lvl, "idx": idx, "hash": h} for leaf in hashes for lvl, idx, h in tree.append(leaf)]
    if rows:
        session.connection().execute(insert(AuditNode.__table__), rows)


def _nodes(session, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch stored node hashes, level 0 from the events themselves; one query per kind.
    Audit rows are only ever written through the Core connection, so no flush is needed."""
    connection = session.connection()
    found: dict[tuple[int, int], bytes] = {}
    leaves = [idx for lvl, idx in keys if lvl == 0]
    inner = [(lvl, idx) for lvl, idx in keys if lvl > 0]
    if leaves:
        rows = connection.execute(select(AuditEvent.seq, AuditEvent.leaf_hash).where(AuditEvent.seq.in_(leaves)))
        found.update({(0, seq): h for seq, h in rows})
    if inner:
        # (level = ? AND idx = ?) OR ...: each term is a primary-key lookup. A row-value IN
        # (level, idx) IN (...) is not, on SQLite: it scanned every node of the tree.
        rows = connection.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash)
            .where(or_(*[and_(AuditNode.level == lvl, AuditNode.idx == idx) for lvl, idx in inner]))
        )
        found.update({(lvl, idx): h for lvl, idx, h in rows})
    return found


def get_node(level: int, index: int) -> bytes:
    """Hash of the stored perfect subtree (level, index), for proofs."""
    return _nodes(db.session(), [(level, index)])[(level, index)]


# --- tree heads and proofs ----------------------------------------------------------------------

def tree_size() -> int:
    return db.session().scalar(select(AuditHead.tree_size).where(AuditHead.id == 1)) or 0


def prefetch(keys) -> "callable":
    """A get_node for merkle's proof functions that reads all the nodes it needs in one or two
    queries (events for level 0, stored nodes above), instead of one query per node."""
    found = _nodes(db.session(), list({k for group in keys for k in group}))

    def get(level: int, index: int) -> bytes:
        return found[(level, index)]

    return get


def root_at(size: int) -> bytes:
    from hub.audit import merkle

    nodes = merkle.root_nodes(size)
    return merkle.fold(nodes, prefetch([nodes]))


def inclusion_proof(seq: int, size: int) -> list[bytes]:
    from hub.audit import merkle

    plan = merkle.inclusion_nodes(seq, size)
    get = prefetch(plan)
    return [merkle.fold(group, get) for group in plan]


def consistency_proof(size1: int, size2: int) -> list[bytes]:
    from hub.audit import merkle

    plan = merkle.consistency_nodes(size1, size2)
    get = prefetch(plan)
    return [merkle.fold(group, get) for group in plan]


_signing: dict = {}


def configure_signing(private_key_pem: str) -> None:
    """Called by create_app with HUB_AUDIT_SIGNING_KEY; a key that is not Ed25519 stops start-up."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(private_key_pem.encode(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("HUB_AUDIT_SIGNING_KEY must be an Ed25519 private key")
    _signing["key"] = key


def signing_key():
    return _signing["key"]


def sign_tree_head() -> SignedTreeHead:
    """Sign the log as it stands now and keep the tree head (append-only table). Reading the
    size under the append lock means the head covers exactly the events committed before it."""
    from hub.audit.checkpoint import rfc3339_utc, sign_tree_head as sign

    with db.unit_of_work() as s:
        size = s.execute(
            select(AuditHead.tree_size).where(AuditHead.id == 1).with_for_update()
        ).scalar_one()
        root = root_at(size)
        timestamp = rfc3339_utc(datetime.now(timezone.utc))
        head = SignedTreeHead(tree_size=size, root_hash=root, timestamp=timestamp,
                              signature=sign(size, root, timestamp, signing_key()))
        s.add(head)
    return head


#: How often the hub signs a tree head by itself (the delivery worker's cycle asks).
TREE_HEAD_EVERY = timedelta(hours=1)


def sign_tree_head_if_due(every: timedelta = TREE_HEAD_EVERY, now: datetime | None = None) -> SignedTreeHead | None:
    """Sign a tree head when there is none or the latest is `every` old, so a hub is never long
    without one. Each worker asks every cycle; the latest head in the database decides, so
    several workers between them sign about once per `every`."""
    latest = latest_tree_head()
    now = now or datetime.now(timezone.utc)
    if latest is not None:
        signed_at = datetime.strptime(latest.timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if now - signed_at < every:
            return None
    return sign_tree_head()


def latest_tree_head() -> SignedTreeHead | None:
    return db.session().scalar(select(SignedTreeHead).order_by(SignedTreeHead.id.desc()).limit(1))


def checkpoint_note(origin: str) -> str:
    """The latest tree head as a C2SP tlog-checkpoint signed note, signing a first one if none."""
    from hub.audit.checkpoint import checkpoint_body, sign_note

    head = latest_tree_head() or sign_tree_head()
    return sign_note(checkpoint_body(origin, head.tree_size, head.root_hash), origin, signing_key())


def record_refusal(actor, object_type: str, object_id=None, child_id: int | None = None,
                   action: str = "read") -> None:
    """A refused access, in its own committed unit of work: the caller raises 403/404 next, and
    the refusal must be on record even though the request fails."""
    with db.unit_of_work():
        record(action, actor=actor, outcome=REFUSED, object_type=object_type, object_id=object_id, child_id=child_id)
