"""Checking the whole audit log against its signed tree heads.

`verify_log()` streams every event in sequence order and checks, naming the first entry that
fails: sequence numbers run 0, 1, 2, ... with no gap; each event's fields still produce its
stored leaf bytes (unless `fast`); the leaf hash is SHA-256(0x00 || leaf); the stored perfect
subtree hashes match the recomputed ones; every signed tree head's signature is valid and its
root equals the root recomputed at its size (which also proves each head consistent with every
later one); the log ends where the append counter (`audit_head`) says it does, so entries removed
from the end are caught even before a signed head covers them; and, with `against`, a tree head
the DPO saved earlier is consistent with the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from hub import db
from hub.audit import merkle
from hub.audit.checkpoint import verify_tree_head
from hub.audit.models import AuditEvent, AuditHead, AuditNode, SignedTreeHead
from hub.audit.service import LEAF_FIELDS, rfc3339

BATCH = 5000


@dataclass
class Verification:
    tree_size: int = 0
    heads_checked: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_entry: int | None = None
    #: The log runs without a gap to exactly where the append counter says: a new entry can follow.
    appendable: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, entry: int | None = None) -> None:
        if entry is not None and self.first_bad_entry is None:
            self.first_bad_entry = entry
        self.problems.append(message)


@dataclass(frozen=True)
class SavedHead:
    """A tree head kept outside the hub (e.g. downloaded by the DPO last month)."""

    tree_size: int
    root_hash: bytes
    timestamp: str
    signature: bytes


def verify_log(public_key: Ed25519PublicKey, against: SavedHead | None = None, fast: bool = False) -> Verification:
    result = Verification()
    session = db.session()
    heads = list(session.scalars(select(SignedTreeHead).order_by(SignedTreeHead.tree_size, SignedTreeHead.id)))
    external = [against] if against else []
    wanted_sizes = {h.tree_size for h in heads} | {h.tree_size for h in external}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in wanted_sizes else {}
    stored_nodes = _stored_nodes()
    counter_before = _counter(session)
    tree = merkle.CompactRange()
    expected = 0
    gap = False
    for event in _events(fast):
        seq, leaf, stored_hash = event[0], event[1], event[2]
        if seq != expected:
            result.fail(f"entry {expected} is missing (the next entry is {seq})", expected)
            gap = True
            break
        if not fast and not _fields_match(event, leaf):
            result.fail(f"entry {seq}: its fields no longer match its signed leaf", seq)
        computed = merkle.leaf_hash(leaf)
        if computed != stored_hash:
            result.fail(f"entry {seq}: its leaf does not match its stored hash", seq)
        for level, index, node in tree.append(computed):
            if stored_nodes.get((level, index), node) != node:
                result.fail(f"entry {seq}: stored tree node ({level}, {index}) does not match", seq)
        expected += 1
        if tree.size in wanted_sizes:
            roots[tree.size] = tree.root()
    result.tree_size = expected
    if not gap:  # after a gap the scan stopped early: the log does not end there
        result.appendable = _check_counter(result, counter_before, _counter(session))
    _check_heads(result, heads, roots, public_key)
    if against is not None:
        _check_saved_head(result, against, roots, public_key)
    return result


def _events(fast: bool):
    """Stream the log in sequence order without loading it all (yield_per)."""
    # Core rows streamed from a server-side cursor: no ORM objects (nor a cached copy of an
    # event in this session) for a million rows.
    columns = [AuditEvent.seq, AuditEvent.leaf, AuditEvent.leaf_hash]
    if not fast:
        columns += [getattr(AuditEvent, name) for name in LEAF_FIELDS]
    query = select(*columns).order_by(AuditEvent.seq)
    yield from db.session().connection().execute(query.execution_options(stream_results=True, yield_per=BATCH))


def _fields_match(row, leaf: bytes) -> bool:
    """The event's columns say what its signed leaf says (parsing the leaf is much cheaper than
    re-canonicalising the columns, and a leaf that is not canonical fails the tree anyway)."""
    fields = dict(zip(LEAF_FIELDS, row[3:]))
    fields["occurred_at"] = rfc3339(fields["occurred_at"])
    fields["detail"] = json.loads(fields["detail"]) if fields["detail"] else None
    try:
        return json.loads(leaf) == fields
    except ValueError:
        return False


def _stored_nodes() -> dict[tuple[int, int], bytes]:
    query = select(AuditNode.level, AuditNode.idx, AuditNode.hash)
    return {(level, idx): h for level, idx, h in db.session().connection().execute(query)}


def _counter(session) -> int:
    return session.scalar(select(AuditHead.tree_size).where(AuditHead.id == 1)) or 0


def _check_counter(result: Verification, before: int, after: int) -> bool:
    """The append counter (audit_head) is evidence too: every append moves it forward in the same
    transaction as the event, so a log that ends before it has lost its last entries, even when
    no signed tree head covers them yet. Read before and after the scan, so events committed
    meanwhile are allowed for: the log must end between the two."""
    size = result.tree_size
    if before <= size <= after:
        return True
    said = before if size < before else after
    result.fail(f"the log ends at {size}, the head says {said}", min(size, said))
    return False


def _check_heads(result: Verification, heads, roots: dict[int, bytes], public_key) -> None:
    previous = None
    for head in heads:
        result.heads_checked += 1
        if not verify_tree_head(head.tree_size, head.root_hash, head.timestamp, head.signature, public_key):
            result.fail(f"tree head {head.id} (size {head.tree_size}): the signature is not valid")
            continue
        if head.tree_size > result.tree_size:
            result.fail(f"tree head {head.id} covers {head.tree_size} entries but the log has {result.tree_size}",
                        result.tree_size)
            continue
        if roots.get(head.tree_size) != head.root_hash:
            result.fail(f"tree head {head.id} (size {head.tree_size}): the log no longer produces its root",
                        _first_entry_after(previous))
        previous = head


def _first_entry_after(previous) -> int:
    """The earliest entry that can be blamed when a head's root differs: the first one not
    covered by the previous good head."""
    return previous.tree_size if previous is not None else 0


def _check_saved_head(result: Verification, saved: SavedHead, roots: dict[int, bytes], public_key) -> None:
    if not verify_tree_head(saved.tree_size, saved.root_hash, saved.timestamp, saved.signature, public_key):
        result.fail("the saved tree head's signature is not valid")
    elif saved.tree_size > result.tree_size:
        result.fail(f"the saved tree head covers {saved.tree_size} entries but the log has only {result.tree_size}",
                    result.tree_size)
    elif roots.get(saved.tree_size) != saved.root_hash:
        result.fail(f"the log is not consistent with the saved tree head of size {saved.tree_size}: "
                    "entries before it were changed or removed", 0)
