"""The audit log's tree heads and proofs: the tree's size and roots, inclusion and consistency
proofs from the stored nodes, and signing a tree head only once the log is shown to extend every
anchor (the previous signed head, the latest verified root, the witnesses' checkpoints)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from hub import db
from hub.audit import checkpoint, merkle
from hub.audit.integrator import _lock_head, integrate_all
from hub.audit.keys import signing_key, trusted_keys
from hub.audit.service import Anchor, _nodes, proof_problem, record
from hub.models.audit import AuditEvent, AuditHead, AuditVerification, Cosignature, SignedTreeHead

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
