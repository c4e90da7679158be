"""Checking the audit log against its signed tree heads, in full or from the last check.

`verify_log()` (full) streams every integrated event in sequence order and checks, naming the
first entry that fails: sequence numbers run 0, 1, 2, ... with no gap (and none below 0); each
event's fields still produce its stored leaf bytes (unless `fast`); the leaf hash is
SHA-256(0x00 || leaf); the stored perfect subtree hashes match the recomputed ones; the listing
index (`audit_event_child`) holds exactly the children the leaves name; the index of whose DPO
sees each entry (`audit_event_organisation`) holds each entry's actor organisation; every signed tree head's
signature is valid and its root equals the root recomputed at its size; the log ends where the
head (`audit_head`) says it does, so entries removed from the end are caught even before a signed
head covers them; and the log extends every *anchor*: each signed tree head, each root a check
verified before (`audit_verification`), each checkpoint a witness cosigned and, with `against`,
a tree head the DPO saved earlier. A log shorter than any of them fails. The database alone can
be rewritten whole (heads and recorded roots too); the witnesses' checkpoints, passed in by the
caller (hub.dpo.service asks the witnesses), cannot.

`verify_since()` (incremental) starts from the root a previous check verified at its size and
checks only what is new, so its cost grows with the new entries, not the log: a consistency proof
from the stored tree shows the old tree is still the one verified (an old entry edited together
with the tree nodes above it fails here), and the new leaves are checked one by one as in a full
run (an edited new entry fails its leaf); and an RFC 9162 consistency proof from every older
anchor (signed heads, verified roots, witnesses' checkpoints) to the new tree. The full check
stays the one to run when in doubt (the worker runs one every night): an old entry whose columns
alone were edited is caught only by it.

Both also report entries that have waited too long to be sequenced (no integrator is running) as
an alarm, not as a failure of the log.

Longer than the 400 lines a module here aims at, on purpose: the online check is one scan with its
checks around it, and its mutation ledger (bench/mutation/audit/) is kept per module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, exists, func, or_, select

from hub import db
from hub.audit import merkle, service
from hub.audit.checkpoint import TrustedKey, head_signer
from hub.audit.service import LEAF_FIELDS, Anchor, rfc3339
from hub.models.audit import (
    AuditEvent,
    AuditEventChild,
    AuditEventOrganisation,
    AuditHead,
    AuditNode,
    AuditVerification,
    SignedTreeHead,
)

BATCH = 5000

#: progress(checked, total): called every BATCH entries, for the integrity panel's progress bar.
Progress = Callable[[int, int], None]


@dataclass
class Verification:
    kind: str = "full"
    #: Where the check started: 0 for a full run, the previous verified size for an incremental one.
    start: int = 0
    tree_size: int = 0
    #: The root the log produces at `tree_size` (when it verified), for the next incremental run.
    root: bytes | None = None
    heads_checked: int = 0
    #: Anchors (signed heads, verified roots, witnesses' checkpoints, a saved head) proven extended.
    anchors_checked: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_entry: int | None = None
    #: The log runs without a gap to exactly where the head says: a new entry can follow.
    appendable: bool = False
    #: Entries waiting longer than the limit to be sequenced (an alarm, not tampering).
    late_pending: int = 0
    alarms: list[str] = field(default_factory=list)

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


def verify_log(public_key: Ed25519PublicKey | Sequence[TrustedKey], against: SavedHead | None = None,
               fast: bool = False, progress: Progress | None = None, waiting: service.Pending | None = None,
               anchors: list[Anchor] | None = None) -> Verification:
    """Every entry from the first. `waiting`: the pending entries as they stood before the caller
    integrated (else now); `anchors`: trees from outside the database (the witnesses')."""
    result = Verification()
    _check_pending(result, waiting)
    session = db.session()
    heads = _heads(session)
    outside = list(anchors or [])
    if against is not None:
        outside += _saved_anchor(result, against, public_key)
    wanted = _anchor_list(result, heads, public_key) + _verified_roots(session) + outside
    roots: dict[int, bytes] = {}
    counter_before = _counter(session)
    _check_numbering(result, session)
    tree = merkle.CompactRange()
    scan = _scan(result, tree, 0, counter_before, fast, _stored_nodes(0), {a.size for a in wanted}, roots, progress)
    _finish(result, tree, scan, counter_before)
    _check_anchors(result, wanted, roots, {})
    _seal(result, tree)
    return result


def verify_since(public_key: Ed25519PublicKey | Sequence[TrustedKey], size: int, root: bytes, fast: bool = False,
                 progress: Progress | None = None, waiting: service.Pending | None = None,
                 anchors: list[Anchor] | None = None) -> Verification:
    """Check what was added after a verified tree (`size`, `root`), in time that grows with it,
    and prove the log still extends every anchor with consistency proofs."""
    result = Verification(kind="incremental", start=size)
    _check_pending(result, waiting)
    session = db.session()
    counter_before = _counter(session)
    end = _check_numbering(result, session)
    if end < size:
        result.fail(f"the log ends at {end}, but {size} entries were verified before", end)
        result.tree_size = end
        return result
    edge = _stored(merkle.root_nodes(size))
    if len(edge) < len(merkle.root_nodes(size)):
        result.fail(f"the tree nodes covering the first {size} entries are missing", 0)
        return result
    tree = merkle.CompactRange.from_store(size, lambda level, index: edge[(level, index)])
    if tree.root() != root:
        result.fail(f"the first {size} entries no longer produce the root verified before: "
                    "entries before it were changed or removed", 0)
        return result
    wanted = (_anchor_list(result, _heads(session), public_key) + _verified_roots(session)
              + list(anchors or []))
    roots: dict[int, bytes] = {}
    scan = _scan(result, tree, size, counter_before, fast, _stored_nodes(size), {a.size for a in wanted}, roots,
                 progress)
    _finish(result, tree, scan, counter_before)
    if scan.complete:
        roots[size] = root
        _check_anchors(result, wanted, roots, _proof_checker(tree, size))
    _seal(result, tree)
    return result


@dataclass
class _Scan:
    complete: bool = True
    #: Order-independent digest and count of the (event id, child) pairs the leaves name.
    listing_digest: int = 0
    listing_pairs: int = 0


def _scan(result: Verification, tree: merkle.CompactRange, start: int, total: int, fast: bool,
          stored_nodes: dict[tuple[int, int], bytes], wanted_sizes: set[int], roots: dict[int, bytes],
          progress: Progress | None) -> _Scan:
    """Check every integrated entry from `start` on, appending it to `tree`."""
    scan = _Scan()
    expected = start
    for row in _events(start, fast):
        event_id, seq, leaf, stored_hash = row[0], row[1], row[2], row[3]
        if seq != expected:
            result.fail(f"entry {expected} is missing (the next entry is {seq})", expected)
            scan.complete = False
            break
        if not fast and not _fields_match(row, leaf):
            result.fail(f"entry {seq}: its fields no longer match its signed leaf", seq)
        for child in _listed_children(leaf):
            scan.listing_digest = (scan.listing_digest + _pair_digest(event_id, child)) % 2**64
            scan.listing_pairs += 1
        computed = merkle.leaf_hash(leaf)
        if computed != stored_hash:
            result.fail(f"entry {seq}: its leaf does not match its stored hash", seq)
        for level, index, node in tree.append(computed):
            stored = stored_nodes.get((level, index))
            if stored != node:  # every node the log completes is stored: one missing was deleted
                said = "is missing" if stored is None else "does not match"
                result.fail(f"entry {seq}: stored tree node ({level}, {index}) {said}", seq)
        expected += 1
        if expected in wanted_sizes:
            roots[expected] = tree.root()
        if progress is not None and (expected - start) % BATCH == 0:
            progress(expected - start, max(total - start, expected - start))
    return scan


def _finish(result: Verification, tree: merkle.CompactRange, scan: _Scan, counter_before: int) -> None:
    result.tree_size = tree.size
    if scan.complete:  # after a gap the scan stopped early: the log does not end there
        result.appendable = _check_counter(result, counter_before, _counter(db.session()))
        _check_listing_index(result, scan)
        _check_organisation_index(result)


def _seal(result: Verification, tree: merkle.CompactRange) -> None:
    if result.ok:
        result.root = tree.root()


def _events(start: int, fast: bool):
    """Stream the integrated log from `start` in sequence order without loading it all."""
    # Core rows streamed from a server-side cursor: no ORM objects (nor a cached copy of an
    # event in this session) for a million rows.
    columns = [AuditEvent.id, AuditEvent.seq, AuditEvent.leaf, AuditEvent.leaf_hash]
    if not fast:
        columns += [getattr(AuditEvent, name) for name in LEAF_FIELDS]
    query = select(*columns).where(AuditEvent.seq >= start).order_by(AuditEvent.seq)
    yield from db.session().connection().execute(query.execution_options(stream_results=True, yield_per=BATCH))


def _check_numbering(result: Verification, session) -> int:
    """No entry numbered below 0 (an entry "integrated" as -1 would sit outside every scan), and
    where the log really ends (one past its highest number): two index look-ups."""
    lowest, highest = session.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))).one()
    if lowest is not None and lowest < 0:
        result.fail(f"an entry is numbered {lowest}, outside the log (numbers start at 0)", lowest)
    return 0 if highest is None else highest + 1


def _fields_match(row, leaf: bytes) -> bool:
    """The event's columns say what its signed leaf says (parsing the leaf is much cheaper than
    re-canonicalising the columns, and a leaf that is not canonical fails the tree anyway)."""
    fields = dict(zip(LEAF_FIELDS, row[4:], strict=True))
    fields["occurred_at"] = rfc3339(fields["occurred_at"])
    fields["detail"] = json.loads(fields["detail"]) if fields["detail"] else None
    try:
        return json.loads(leaf) == fields
    except ValueError:
        return False


def _listed_children(leaf: bytes) -> list[int]:
    """The children the signed leaf's detail names as shown (most events name none: skip the parse),
    by the very rule the writer used to fill the index."""
    if b'"children"' not in leaf:
        return []
    try:
        return service.listed_children(json.loads(leaf).get("detail"))
    except (ValueError, AttributeError):
        return []


def _pair_digest(event_id: int, child_id: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{event_id}:{child_id}".encode()).digest()[:8], "big")


def _check_listing_index(result: Verification, scan: _Scan) -> None:
    """The listing index holds exactly the pairs the scanned leaves name: a row removed would
    hide a sight of a child from "who has seen this child", a row added would invent one. Summed
    digests compare the two sets in one pass each, whatever order they come in."""
    rows = db.session().connection().execute(
        select(AuditEventChild.event_id, AuditEventChild.child_id)
        .join(AuditEvent, AuditEvent.id == AuditEventChild.event_id)
        .where(AuditEvent.seq >= result.start, AuditEvent.seq < result.tree_size)
        .execution_options(stream_results=True, yield_per=BATCH))
    digest = count = 0
    for event_id, child_id in rows:
        digest = (digest + _pair_digest(event_id, child_id)) % 2**64
        count += 1
    if (digest, count) != (scan.listing_digest, scan.listing_pairs):
        result.fail(f"the index of children shown by listings holds {count} entries where the log's leaves name "
                    f"{scan.listing_pairs}: it was changed")


def _check_organisation_index(result: Verification) -> None:
    """`audit_event_organisation` (whose organisation DPO sees an event) is derived beside the log.
    The part a leaf carries must be there: each checked entry's actor organisation (a row removed
    would hide a member of staff's act from their own DPO). A full check also finds rows naming no
    sequenced entry. The organisations that held the child come from the relationships at the
    moment the entry was sequenced, which the log does not hold: they cannot be rebuilt from it."""
    connection = db.session().connection()
    index = AuditEventOrganisation
    missing = connection.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.seq >= result.start, AuditEvent.seq < result.tree_size, AuditEvent.actor_org_id.is_not(None),
        ~exists().where(index.organisation_id == AuditEvent.actor_org_id, index.event_id == AuditEvent.id))).scalar()
    if missing:
        result.fail(f"the index of whose DPO sees each entry lacks the actor's organisation of {missing} entries: "
                    "it was changed")
    if result.start == 0:
        stray = connection.execute(select(func.count()).select_from(index).where(~exists().where(
            AuditEvent.id == index.event_id, AuditEvent.seq.is_not(None), AuditEvent.seq < result.tree_size))).scalar()
        if stray:
            result.fail(f"the index of whose DPO sees each entry has {stray} rows naming no entry of the log: "
                        "it was changed")


def _check_pending(result: Verification, waiting: service.Pending | None) -> None:
    waiting = waiting or service.pending()
    if waiting.late(service.PENDING_ALARM):
        result.late_pending = waiting.count
        result.alarms.append(f"{waiting.count} entries are waiting to be sequenced, the oldest since "
                             f"{rfc3339(waiting.oldest_at)}: is the delivery worker (the integrator) running?")


def _stored_nodes(start: int) -> dict[tuple[int, int], bytes]:
    """Every stored node a scan from `start` can compare against (those over later leaves)."""
    query = select(AuditNode.level, AuditNode.idx, AuditNode.hash)
    if start:
        # Node (level, idx) covers leaves [idx << level, (idx + 1) << level): only those ending
        # after `start` are completed by the scan, i.e. idx >= start >> level.
        query = query.where(or_(*[and_(AuditNode.level == level, AuditNode.idx >= start >> level)
                                  for level in range(1, 64)]))
    return {(level, idx): h for level, idx, h in db.session().connection().execute(query)}


def _stored(keys) -> dict[tuple[int, int], bytes]:
    return service.stored_nodes(list(keys))


def _counter(session) -> int:
    return session.scalar(select(AuditHead.tree_size).where(AuditHead.id == 1)) or 0


def _check_counter(result: Verification, before: int, after: int) -> bool:
    """The head (audit_head) is evidence too: the integrator moves it in the same transaction as
    the entries it numbers, so a log that ends before it has lost its last entries, even when no
    signed tree head covers them yet. Read before and after the scan, so entries integrated
    meanwhile are allowed for: the log must end between the two."""
    size = result.tree_size
    if before <= size <= after:
        return True
    said = before if size < before else after
    result.fail(f"the log ends at {size}, the head says {said}", min(size, said))
    return False


# --- anchors ------------------------------------------------------------------------------------

def _heads(session) -> list[SignedTreeHead]:
    return list(session.scalars(select(SignedTreeHead).order_by(SignedTreeHead.tree_size, SignedTreeHead.id)))


def _anchor_list(result: Verification, heads: list[SignedTreeHead], public_key) -> list[Anchor]:
    """The signed tree heads whose signature verifies, as anchors (a bad signature is a problem)."""
    anchors = []
    for head in heads:
        result.heads_checked += 1
        if head_signer(public_key, head.tree_size, head.root_hash, head.timestamp, head.signature) is not None:
            anchors.append(Anchor(head.tree_size, head.root_hash, f"tree head {head.id}"))
        else:
            # Not valid, or by no key trusted at the head's time (a retired key signing after).
            result.fail(f"tree head {head.id} (size {head.tree_size}): the signature is not valid")
    return anchors


def _verified_roots(session) -> list[Anchor]:
    """Every root an earlier check verified (one anchor per distinct size and root)."""
    rows = session.execute(select(AuditVerification.tree_size, AuditVerification.root_hash,
                                  func.min(AuditVerification.id))
                           .where(AuditVerification.ok.is_(True), AuditVerification.root_hash.is_not(None))
                           .group_by(AuditVerification.tree_size, AuditVerification.root_hash))
    return [Anchor(size, root, f"the root verified by check {check}") for size, root, check in rows]


def _saved_anchor(result: Verification, saved: SavedHead, public_key) -> list[Anchor]:
    if head_signer(public_key, saved.tree_size, saved.root_hash, saved.timestamp, saved.signature) is None:
        result.fail("the saved tree head's signature is not valid")
        return []
    return [Anchor(saved.tree_size, saved.root_hash, "the saved tree head")]


def _proof_checker(tree: merkle.CompactRange, start: int) -> dict:
    """For an incremental check: anchors below where it started are proven with RFC 9162
    consistency proofs from the stored tree to the tree now (the scan did not pass them)."""
    return {"below": start, "size": tree.size, "root": tree.root()}


#: Stored nodes fetched per query when proving many anchors at once.
NODE_CHUNK = 500


def _proof_nodes(anchors: list[Anchor], size: int) -> dict[tuple[int, int], bytes]:
    """Every stored node the consistency proofs from `anchors` to `size` need, fetched together
    in a few queries (a year of hourly heads is thousands of proofs sharing most of their nodes)."""
    keys = sorted({node for a in anchors for group in merkle.consistency_nodes(a.size, size) for node in group})
    found: dict[tuple[int, int], bytes] = {}
    for begin in range(0, len(keys), NODE_CHUNK):
        found.update(service.stored_nodes(keys[begin:begin + NODE_CHUNK]))
    return found


def _check_anchors(result: Verification, anchors: list[Anchor], roots: dict[int, bytes], proofs: dict) -> None:
    """The log extends every anchor (each distinct size and root once): it is not shorter, and
    its root at the anchor's size (from the scan) is the anchor's, or (incremental, below the
    start) a consistency proof verifies."""
    unique: dict[tuple[int, bytes], Anchor] = {}
    for anchor in sorted(anchors, key=lambda a: (a.size, a.source)):
        unique.setdefault((anchor.size, anchor.root), anchor)
    below = [a for a in unique.values() if proofs and 0 < a.size < proofs["below"]]
    nodes = _proof_nodes(below, proofs["size"]) if below else {}
    for anchor in unique.values():
        result.anchors_checked += 1
        if anchor.size > result.tree_size:
            result.fail(f"{anchor.source} covers {anchor.size} entries but the log has {result.tree_size}",
                        result.tree_size)
        elif anchor.size == 0:
            if anchor.root != merkle.EMPTY_ROOT:
                result.fail(f"{anchor.source} has a wrong root for an empty log")
        elif anchor in below:
            problem = service.proof_problem(anchor, proofs["size"], proofs["root"],
                                            lambda level, index: nodes[(level, index)])
            if problem is not None:
                result.fail(problem, 0)
        elif roots.get(anchor.size) != anchor.root:
            result.fail(f"the log is not consistent with {anchor.source} (size {anchor.size}): it no longer "
                        "produces its root, so entries before it were changed or removed",
                        _first_entry_after(anchors, anchor, result.start))


def _first_entry_after(anchors: list[Anchor], bad: Anchor, start: int) -> int:
    """The earliest entry that can be blamed when an anchor's root differs: the end of the
    largest smaller anchor (the log verified up to there), else where the check started."""
    return max([a.size for a in anchors if a.size < bad.size and a.size >= start], default=start)
