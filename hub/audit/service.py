"""Writing to the audit log: the one way every feature records an event.

`record()` is called by services inside their unit of work, so the event and the change commit
together or not at all. It only inserts the event, pending: no lock, no sequence number. The
integrator (`integrate()`, run by the delivery worker every cycle and on demand) gives committed
entries their gap-free sequence numbers and canonical leaves, extends the Merkle tree's stored
perfect subtrees and moves the head, in batches and off the request's critical path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import and_, any_, bindparam, func, insert, or_, select, union_all, update

from hub import db
from hub.audit import checkpoint, merkle
from hub.audit.context import current_origin
from hub.audit.merkle import leaf_hash
from hub.extensions import app_state
from hub.models.audit import (
    AuditEvent,
    AuditEventChild,
    AuditEventOrganisation,
    AuditHead,
    AuditNode,
    AuditVerification,
    Cosignature,
    SignedTreeHead,
)

log = logging.getLogger(__name__)

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


def _extend_tree_many(session, first: int, hashes: list[bytes]) -> None:
    """Resume the tree's right edge at `first` (popcount(first) stored nodes, one or two
    queries), append every leaf, and insert all the perfect subtrees they complete at once."""
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


def stored_nodes(keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these perfect subtrees (absent ones are left out)."""
    return _nodes(db.session(), keys)


def get_node(level: int, index: int) -> bytes:
    """Hash of the stored perfect subtree (level, index), for proofs."""
    return _nodes(db.session(), [(level, index)])[(level, index)]


# --- tree heads and proofs ----------------------------------------------------------------------

def tree_size() -> int:
    return db.session().scalar(select(AuditHead.tree_size).where(AuditHead.id == 1)) or 0


def prefetch(keys) -> callable:
    """A get_node for merkle's proof functions that reads all the nodes it needs in one or two
    queries (events for level 0, stored nodes above), instead of one query per node."""
    found = _nodes(db.session(), list({k for group in keys for k in group}))

    def get(level: int, index: int) -> bytes:
        return found[(level, index)]

    return get


def root_at(size: int) -> bytes:
    nodes = merkle.root_nodes(size)
    return merkle.fold(nodes, prefetch([nodes]))


def inclusion_proof(seq: int, size: int) -> list[bytes]:
    plan = merkle.inclusion_nodes(seq, size)
    get = prefetch(plan)
    return [merkle.fold(group, get) for group in plan]


def consistency_proof(size1: int, size2: int) -> list[bytes]:
    plan = merkle.consistency_nodes(size1, size2)
    get = prefetch(plan)
    return [merkle.fold(group, get) for group in plan]


@dataclass(frozen=True)
class Signing:
    """The key that signs new tree heads, and every key the hub's heads may carry."""

    key: Ed25519PrivateKey
    trusted: tuple[checkpoint.TrustedKey, ...]


def init_app(app: Flask) -> None:
    """HUB_AUDIT_SIGNING_KEY and HUB_AUDIT_RETIRED_KEYS of app.config["HUB"]; a wrong key stops
    start-up."""
    settings = app.config["HUB"]
    app.extensions["hub_audit_signing"] = signing_keys(settings.audit_signing_key_pem,
                                                       parse_retired_keys(settings.audit_retired_keys))


def signing_keys(private_key_pem: str, retired: list[checkpoint.TrustedKey] | None = None) -> Signing:
    """The current key and the retired ones; a key that is not Ed25519 is refused. The current key
    is trusted from the moment the last retired key stopped being valid."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("HUB_AUDIT_SIGNING_KEY must be an Ed25519 private key")
    retired = list(retired or [])
    fingerprint = checkpoint.key_fingerprint(key.public_key())
    if any(old.fingerprint == fingerprint for old in retired):
        raise ValueError("HUB_AUDIT_SIGNING_KEY is one of the retired keys: a retired key never signs again")
    if any(old.valid_until is None for old in retired):
        raise ValueError("each retired audit signing key needs the time it was retired (valid_until)")
    since = max((old.valid_until for old in retired), key=checkpoint.instant, default=None)
    return Signing(key, (*retired, checkpoint.TrustedKey(key.public_key(), valid_from=since)))


def parse_retired_keys(text: str) -> list[checkpoint.TrustedKey]:
    """HUB_AUDIT_RETIRED_KEYS (JSON); a malformed list stops start-up, naming what is wrong."""
    if not text.strip():
        return []
    try:
        return checkpoint.parse_trusted_keys(json.loads(text))
    except ValueError as exc:
        raise ValueError(f"HUB_AUDIT_RETIRED_KEYS: {exc}") from exc


def signing_key() -> Ed25519PrivateKey:
    return app_state("hub_audit_signing").key


def trusted_keys() -> tuple[checkpoint.TrustedKey, ...]:
    """Every key the hub's tree heads may carry, each with its period: the retired ones and the
    current one (README, "Rotating the audit signing key")."""
    return app_state("hub_audit_signing").trusted


def log_verifier_keys(origin: str) -> list[str]:
    """The signed-note verifier keys of every trusted key: a witness's checkpoint cosigned before
    a rotation carries the old key's signature."""
    return [checkpoint.verifier_key(origin, key.public_key) for key in trusted_keys()]


def note_key_change() -> None:
    """Put a change of signing key in the log itself, before the first head the new key signs:
    the latest head was signed by another trusted key than the current one."""
    latest = latest_tree_head()
    if latest is None:
        return
    signer = checkpoint.head_signer(trusted_keys(), latest.tree_size, latest.root_hash, latest.timestamp,
                                    latest.signature)
    current = checkpoint.key_fingerprint(signing_key().public_key())
    if signer is not None and signer.fingerprint != current:
        with db.unit_of_work():
            record("key-changed", object_type="audit-signing-key", object_id=current,
                   detail={"from": signer.fingerprint, "to": current, "retired_at": signer.valid_until})


@dataclass(frozen=True)
class Anchor:
    """A tree the log must still extend: a signed head, a root a check verified, a witness's
    cosigned checkpoint or a tree head saved outside the hub. `source` names it in verdicts."""

    size: int
    root: bytes
    source: str


class SigningRefused(Exception):
    """The hub will not sign: the log is not an append-only extension of what it signed, verified
    or had cosigned before (or cannot be shown to be)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def extension_problem(anchor: Anchor, size: int, root: bytes) -> str | None:
    """Why the tree (size, root), built from the stored nodes, is not an append-only extension of
    `anchor`, proven with an RFC 9162 consistency proof from the stored nodes; None when it is."""
    if anchor.size > size:
        return f"the log has {size} entries, fewer than the {anchor.size} of {anchor.source}"
    if anchor.size == 0:
        return None if anchor.root == merkle.EMPTY_ROOT else f"{anchor.source} has a wrong root for an empty log"
    if anchor.size == size:
        if anchor.root == root:
            return None
        return f"the first {size} entries no longer produce the root of {anchor.source}"
    return proof_problem(anchor, size, root, prefetch(merkle.consistency_nodes(anchor.size, size)))


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


def stored_anchors() -> tuple[list[Anchor], list[str]]:
    """What the database itself says the log must extend: the largest signed tree head (its
    signature checked) and the largest root a check verified; and a problem while the latest
    check failed (nothing is signed over a log known to be damaged). A database administrator can delete
    both, which is why the witnesses' checkpoints are anchors too (hub.audit.signing)."""
    anchors, problems = [], []
    head = db.session().scalar(select(SignedTreeHead).order_by(SignedTreeHead.tree_size.desc(),
                                                               SignedTreeHead.id.desc()).limit(1))
    if head is not None:
        if checkpoint.head_signer(trusted_keys(), head.tree_size, head.root_hash, head.timestamp,
                                  head.signature) is not None:
            anchors.append(Anchor(head.tree_size, head.root_hash, f"signed tree head {head.id}"))
        else:
            problems.append(f"signed tree head {head.id} (size {head.tree_size}): the signature is not valid")
    verified = db.session().execute(
        select(AuditVerification.id, AuditVerification.tree_size, AuditVerification.root_hash)
        .where(AuditVerification.ok.is_(True), AuditVerification.root_hash.is_not(None))
        .order_by(AuditVerification.tree_size.desc(), AuditVerification.id.desc()).limit(1)).first()
    if verified is not None:
        anchors.append(Anchor(verified.tree_size, verified.root_hash, f"the root verified by check {verified.id}"))
    last = db.session().execute(
        select(AuditVerification.id, AuditVerification.ok).where(AuditVerification.status == "done")
        .order_by(AuditVerification.finished_at.desc().nulls_last(), AuditVerification.id.desc()).limit(1)).first()
    if last is not None and last.ok is False:
        problems.append(f"the latest check of the log (check {last.id}) failed: a tree head is signed again only "
                        "once a check passes")
    return anchors, problems


def sign_tree_head(anchors: list[Anchor] | None = None) -> SignedTreeHead:
    """Integrate what is committed, then sign the log as it stands and keep the tree head
    (append-only table) -- but only once an RFC 9162 consistency proof shows the log extends the
    previous signed head, the latest verified root and every `anchors` (the witnesses'); else
    SigningRefused and nothing is signed. The size is read under the head's lock, so the head
    covers exactly the entries integrated before it and no integrator moves the tree meanwhile."""
    note_key_change()
    integrate_all()
    with db.unit_of_work() as s:
        size = _lock_head(s.connection())
        end = s.scalar(select(func.max(AuditEvent.seq)))
        end = 0 if end is None else end + 1
        if end != size:
            raise SigningRefused([f"the log ends at {end}, the head says {size}: entries were removed or forged"])
        try:
            root = root_at(size)
        except KeyError as exc:
            raise SigningRefused([f"the tree nodes for a root of {size} entries are missing"]) from exc
        stored, problems = stored_anchors()
        problems += [p for anchor in stored + list(anchors or []) if (p := extension_problem(anchor, size, root))]
        if problems:
            raise SigningRefused(problems)
        timestamp = checkpoint.rfc3339_utc(datetime.now(UTC))
        head = SignedTreeHead(tree_size=size, root_hash=root, timestamp=timestamp,
                              signature=checkpoint.sign_tree_head(size, root, timestamp, signing_key()))
        s.add(head)
    return head


def latest_tree_head() -> SignedTreeHead | None:
    return db.session().scalar(select(SignedTreeHead).order_by(SignedTreeHead.id.desc()).limit(1)
                               .execution_options(populate_existing=True))


def signed_checkpoint(origin: str, head: SignedTreeHead) -> str:
    """A tree head as a C2SP tlog-checkpoint note signed by the hub (Ed25519 is deterministic, so
    the note of a head is always the same bytes)."""
    return checkpoint.sign_note(checkpoint.checkpoint_body(origin, head.tree_size, head.root_hash), origin,
                                signing_key())


def checkpoint_note(origin: str, head: SignedTreeHead) -> str:
    """The signed checkpoint followed by the witnesses' cosignature lines."""
    note = signed_checkpoint(origin, head)
    lines = db.session().scalars(select(Cosignature.line).where(Cosignature.tree_head_id == head.id)
                                 .order_by(Cosignature.witness))
    return note + "".join(lines)


def log_verifier_key(origin: str) -> str:
    """The hub's signed-note verifier key: what a witness is told to trust for this log."""
    return checkpoint.verifier_key(origin, signing_key().public_key())


def record_refusal(actor, object_type: str, object_id=None, child_id: int | None = None,
                   action: str = "read") -> None:
    """A refused access, in its own committed unit of work: the caller raises 403/404 next, and
    the refusal must be on record even though the request fails."""
    with db.unit_of_work():
        record(action, actor=actor, outcome=REFUSED, object_type=object_type, object_id=object_id, child_id=child_id)
