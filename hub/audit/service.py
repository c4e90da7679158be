"""Writing to the audit log: the one way every feature records an event.

`record()` is called by services inside their unit of work, so the event and the change commit
together or not at all. It only inserts the event, pending: no lock, no sequence number. The
integrator (hub/audit/integrator.py: `integrate()`, run by the delivery worker every cycle and on
demand) gives committed entries their gap-free sequence numbers and canonical leaves, extends the
Merkle tree's stored perfect subtrees and moves the head, in batches and off the request's
critical path. Tree heads and proofs are hub/audit/tree_heads.py; the signing keys
hub/audit/keys.py. What stays here besides recording (pending entries, stored nodes, an anchor's
consistency proof) is what the verifier (hub/audit/verification.py) reads of this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from sqlalchemy import and_, any_, func, insert, or_, select, union_all

from hub import db
from hub.audit import merkle
from hub.audit.context import current_origin
from hub.models.audit import AuditEvent, AuditEventChild, AuditNode

DONE = "done"


REFUSED = "refused"


LEAF_FIELDS = (
    "seq", "occurred_at", "outcome", "actor_user_id", "actor_org_id", "actor_roles", "auth_method",
    "action", "object_type", "object_id", "child_id", "access_basis", "purpose", "legal_basis",
    "request_id", "client_address", "user_agent", "detail",
)


def rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:  # SQLite hands back naive datetimes; the hub stores UTC only
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_bytes(event: AuditEvent) -> bytes:
    """RFC 8785 canonical JSON of the event's fields: the bytes the Merkle tree commits to."""
    return _leaf_of({name: getattr(event, name) for name in LEAF_FIELDS})


def _leaf_of(values: dict[str, Any]) -> bytes:
    """leaf_bytes of an event's column values (a dict of exactly the LEAF_FIELDS, so the
    integrator needs no ORM object)."""
    fields: dict[str, Any] = dict(values)
    fields["occurred_at"] = rfc3339(values["occurred_at"])
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
        return all(type(key) is str and key.isascii() and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
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
    """What one event says; the actor, time and origin are added when it is recorded.
    `children`: every child a listing showed, for a page that lists children (one event per
    act, not per row): the leaf names them in `detail["children"]` and `AuditEventChild`
    indexes them for "who has seen this child"."""

    action: str
    outcome: str = DONE
    object_type: str | None = None
    object_id: object | None = None
    child_id: int | None = None
    basis: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    detail: dict[str, Any] | None = None
    children: list[int] | None = None


def about_child(child_id: int):
    """The events that concern a child: its own, and every listing that showed it. The one
    definition "who has seen this child" and the subject access pack both use.

    The ids come from the two indexes first (a child's own events, its listings), then the log is
    read by primary key. `child_id = c OR id IN (...)` made PostgreSQL walk the whole log backwards
    filtering every row (12 s at 10M events); `id = ANY(ARRAY(...))` is an index lookup of the
    few hundred ids (2 to 4 ms). SQLite has no arrays and plans the IN list well."""
    ids = union_all(select(AuditEvent.id).where(AuditEvent.child_id == child_id),
                    select(AuditEventChild.event_id).where(AuditEventChild.child_id == child_id))
    if db.session().get_bind().dialect.name == "postgresql":
        return AuditEvent.id == any_(func.array(ids.scalar_subquery()))
    return AuditEvent.id.in_(ids)


def record(action: str, *, actor=None, **fields) -> None:
    """Add one event to the current transaction, pending: it commits or rolls back with the
    change it records, and takes no lock; the integrator gives it its place in the log."""
    record_many(actor, [Entry(action, **fields)])


def record_many(actor, entries: list[Entry]) -> None:
    """Add several events of one actor in one statement (their order is kept)."""
    _append([(actor, entry) for entry in entries])


def record_many_as(entries: list[tuple[Any, Entry]]) -> None:
    """record_many for events of several actors, in the order given: an import chunk adds each
    episode's events (the hub's notifications, then the officer's episode) exactly as the per-row
    path would, in one statement for the whole chunk."""
    _append(entries)


def _append(entries: list[tuple[Any, Entry]]) -> None:
    if not entries:
        return
    origin = current_origin()
    connection = db.session().connection()
    now = datetime.now(UTC)
    actors: dict[int, tuple] = {}  # each actor's columns worked out once per append
    details = [_detail(entry) for _, entry in entries]
    rows = [_event_row(now, actor, origin, entry, detail, actors)
            for (actor, entry), detail in zip(entries, details, strict=True)]
    listings = [listed_children(detail) for detail in details]
    # A Core insert, not session.add(): events never change after this but for integration, so
    # the ORM's unit of work would only add cost to the one write every request makes.
    if not any(listings):
        connection.execute(insert(AuditEvent.__table__), rows)
        return
    table = AuditEvent.__table__
    ids = connection.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
    connection.execute(insert(AuditEventChild.__table__), [
        {"event_id": event_id, "child_id": child}
        for event_id, children in zip(ids, listings, strict=True) for child in children])


def _detail(entry: Entry) -> dict[str, Any] | None:
    if not entry.children:
        return entry.detail
    return {**(entry.detail or {}), "children": sorted(set(entry.children))}


def listed_children(detail: Any) -> list[int]:
    """The children an event's detail names as shown (`children`: a listing, or a MACE page that
    names them): what `audit_event_child` indexes and the verifier rebuilds from the leaf."""
    children = detail.get("children") if isinstance(detail, dict) else None
    if not isinstance(children, list):
        return []
    return sorted({c for c in children if type(c) is int})


def _event_row(now: datetime, actor, origin, entry: Entry, detail: dict[str, Any] | None,
               actors: dict[int, tuple]) -> dict[str, Any]:
    """Every column of a pending event (no seq, leaf or leaf hash: the integrator adds those)."""
    who = actors.get(id(actor))
    if who is None:
        who = actors[id(actor)] = (
            getattr(actor, "id", None), getattr(actor, "organisation_id", None),
            ",".join(sorted(r.value for r in actor.roles)) if actor is not None else None,
            _auth_method(actor, origin.channel))
    return dict(
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
        detail=_detail_json(detail) if detail else None,
    )


def _auth_method(actor, channel: str) -> str:
    if actor is not None and getattr(actor, "current_session", None) is not None:
        return actor.current_session.method
    return channel if actor is not None or channel != "web" else "anonymous"


@dataclass(frozen=True)
class Pending:
    count: int
    oldest_at: datetime | None

    def late(self, limit: timedelta, now: datetime | None = None) -> bool:
        """Something has waited longer than `limit` to be sequenced: the integrator is not running."""
        if self.oldest_at is None:
            return False
        oldest = self.oldest_at if self.oldest_at.tzinfo else self.oldest_at.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - oldest > limit


#: Pending entries older than this are an alarm (integrity panel, `audit verify`): the delivery
#: worker integrates every few seconds, so an entry this old means no integrator is running.
PENDING_ALARM = timedelta(seconds=30)


def pending() -> Pending:
    table = AuditEvent.__table__
    count, oldest = db.session().connection().execute(
        select(func.count(), func.min(table.c.occurred_at)).where(table.c.seq.is_(None))).one()
    return Pending(count, oldest)


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


def stored_nodes(keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these perfect subtrees (absent ones are left out)."""
    return _nodes(db.session(), keys)


def get_node(level: int, index: int) -> bytes:
    """Hash of the stored perfect subtree (level, index), for proofs."""
    return _nodes(db.session(), [(level, index)])[(level, index)]


@dataclass(frozen=True)
class Anchor:
    """A tree the log must still extend: a signed head, a root a check verified, a witness's
    cosigned checkpoint or a tree head saved outside the hub. `source` names it in verdicts."""

    size: int
    root: bytes
    source: str


def proof_problem(anchor: Anchor, size: int, root: bytes, get_node: merkle.GetNode) -> str | None:
    """The RFC 9162 consistency proof from `anchor` to (size, root), built from stored nodes read
    through `get_node`: None when it verifies, else what is wrong."""
    try:
        proof = [merkle.fold(group, get_node) for group in merkle.consistency_nodes(anchor.size, size)]
    except KeyError:
        return f"the tree nodes needed to prove consistency with {anchor.source} are missing"
    if not merkle.verify_consistency(anchor.size, size, anchor.root, root, proof):
        return (f"the consistency proof from {anchor.source} ({anchor.size} entries) to {size} entries does "
                "not verify: entries before it were changed or removed")
    return None


def record_refusal(actor, object_type: str, object_id=None, child_id: int | None = None,
                   action: str = "read") -> None:
    """A refused access, in its own committed unit of work: the caller raises 403/404 next, and
    the refusal must be on record even though the request fails."""
    with db.unit_of_work():
        record(action, actor=actor, outcome=REFUSED, object_type=object_type, object_id=object_id, child_id=child_id)
