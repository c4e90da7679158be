"""The signed JSON export (format hub-audit-export/1) that `python -m hub.audit.verify` checks.

A full export carries every entry's leaf and no proofs (the verifier rebuilds the tree); a
filtered export (one child, a date range) carries an inclusion proof for each entry against the
tree head it was signed with, so the DPO can hand it over without the rest of the log. Every
export also carries the head's C2SP checkpoint with the witnesses' cosignatures ("checkpoint"),
and on request a consistency proof from an earlier size ("consistency": {"old_size", "proof"}),
so the verifier can check the quorum and, with `--against`, that the log only grew since a
checkpoint saved earlier. A child's export holds every event about the child, the listings that
showed it included (`service.about_child`, as the pages and the subject access pack).
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from hub import db
from hub.audit import keys as audit_keys
from hub.audit import service, signing
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent

FORMAT = "hub-audit-export/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_key_pem() -> str:
    return audit_keys.signing_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def tree_head_json(head) -> dict:
    return {"tree_size": head.tree_size, "root_hash": _b64(head.root_hash), "timestamp": head.timestamp,
            "signature": _b64(head.signature)}


def build_export(child_id: int | None = None, date_from: date | None = None, date_to: date | None = None,
                 seqs: list[int] | None = None, prove_from: int | None = None) -> dict:
    """A fresh signed tree head (never without a proof: SigningRefused when the log does not
    extend what was signed and cosigned before), then the chosen entries (with proofs unless it
    is the whole log)."""
    head = signing.sign_and_publish()
    query = select(AuditEvent.seq, AuditEvent.leaf).where(AuditEvent.seq < head.tree_size).order_by(AuditEvent.seq)
    partial = any(v is not None for v in (child_id, date_from, date_to, seqs))
    if child_id is not None:
        query = query.where(service.about_child(child_id))
    if date_from is not None:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(date_from, time.min, UTC))
    if date_to is not None:
        query = query.where(AuditEvent.occurred_at < datetime.combine(date_to, time.max, UTC))
    if seqs is not None:
        query = query.where(AuditEvent.seq.in_(seqs))
    entries = []
    for seq, leaf in db.session().execute(query):
        entry = {"index": seq, "leaf": _b64(leaf)}
        if partial:
            entry["inclusion_proof"] = [_b64(h) for h in audit_tree_heads.inclusion_proof(seq, head.tree_size)]
        entries.append(entry)
    data = {"format": FORMAT, "public_key": public_key_pem(), "tree_head": tree_head_json(head),
            "checkpoint": audit_tree_heads.checkpoint_note(signing.origin(), head), "entries": entries}
    if prove_from is not None and 0 < prove_from < head.tree_size:
        data["consistency"] = {"old_size": prove_from,
                               "proof": [_b64(h) for h in
                                         audit_tree_heads.consistency_proof(prove_from, head.tree_size)]}
    return data
