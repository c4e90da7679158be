"""The audit log as the audit tests find it and damage it: events written through the service, and
what a database administrator with the triggers disabled does to the tables behind its back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text

from hub import db
from hub.audit import checkpoint, merkle
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent, SignedTreeHead

AUDIT_TABLES = ("audit_event", "audit_event_child", "audit_node", "audit_tree_head", "audit_head", "audit_cosignature",
                "audit_event_organisation")


def record_events(n: int) -> None:
    """n read events, integrated into the tree."""
    for i in range(n):
        with db.unit_of_work():
            audit.record("read", object_type="child", object_id=i, child_id=i % 3, detail={"i": i})
    audit_integrator.integrate_all()


def disable_triggers() -> None:
    """What a database administrator does first."""
    with db.unit_of_work() as s:
        if s.get_bind().dialect.name == "postgresql":
            for table in AUDIT_TABLES:
                s.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for (name,) in s.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                          "AND tbl_name LIKE 'audit%'")).all():
                s.execute(text(f'DROP TRIGGER "{name}"'))


def rebuild_tree(s) -> None:
    """Recompute every stored node from the (rewritten) leaves, so the tree is self-consistent."""
    s.execute(text("DELETE FROM audit_node"))
    tree = merkle.CompactRange()
    for (h,) in s.execute(select(AuditEvent.leaf_hash).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)):
        for level, index, node in tree.append(h):
            s.execute(text("INSERT INTO audit_node (level, idx, hash) VALUES (:l, :i, :h)"),
                      {"l": level, "i": index, "h": node})


def rewrite_entry(seq: int) -> None:
    with db.unit_of_work() as s:
        leaf = s.scalar(select(AuditEvent.leaf).where(AuditEvent.seq == seq))
        forged = leaf.replace(b'"read"', b'"reac"')
        s.execute(text("UPDATE audit_event SET leaf = :l, leaf_hash = :h, action = 'reac' WHERE seq = :seq"),
                  {"l": forged, "h": merkle.leaf_hash(forged), "seq": seq})
        rebuild_tree(s)


def forced_head() -> SignedTreeHead:
    """What an operator holding the signing key (or a hub without the proof) would sign: the
    tree as the database now holds it."""
    size = audit_tree_heads.tree_size()
    root = audit_tree_heads.root_at(size)
    stamp = checkpoint.rfc3339_utc(datetime.now(UTC))
    with db.unit_of_work() as s:
        head = SignedTreeHead(tree_size=size, root_hash=root, timestamp=stamp,
                              signature=checkpoint.sign_tree_head(size, root, stamp, audit_keys.signing_key()))
        s.add(head)
    return head


def forge_integrated_row() -> int:
    """The issue's damaged tail: a row inserted already integrated at the next number (the head
    left as it was), so the integrator fails on every new entry; the row's number."""
    audit_integrator.integrate_all()
    disable_triggers()
    size = audit_tree_heads.tree_size()
    forged = b'{"forged":true}'
    with db.unit_of_work() as s:
        s.execute(insert(AuditEvent.__table__).values(seq=size, occurred_at=datetime.now(UTC), outcome="done",
                                                      action="read", leaf=forged, leaf_hash=merkle.leaf_hash(forged)))
    return size


def last_event(user_id: int) -> AuditEvent:
    """The user's latest audit event."""
    return db.session().scalar(select(AuditEvent).where(AuditEvent.actor_user_id == user_id)
                               .order_by(AuditEvent.id.desc()).limit(1))
