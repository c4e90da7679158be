"""The append-only audit log, its Merkle tree nodes and its signed tree heads.

Triggers created by the migrations refuse UPDATE and DELETE on all three tables; `audit_head`
(one row: the tree size) is the only audit table that changes: it may only grow.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow

LONDON = ZoneInfo("Europe/London")


class AuditEvent(Base):
    """One entry of the log. A request inserts it in the same transaction as the change it
    records, with no sequence number and no leaf (pending); the integrator (`integrate()`) later
    gives committed entries their gap-free `seq`, leaf and leaf hash in batches, so no request
    waits on a global lock. The triggers allow exactly that one update, once, and nothing else."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_child_id", "child_id", "id"),
        Index("ix_audit_event_user_id", "actor_user_id", "id"),
        Index("ix_audit_event_org_id", "actor_org_id", "id"),
        Index("ix_audit_event_time", "occurred_at"),
        # The integrator's queue: only pending entries are in this index, so it stays small.
        Index("ix_audit_event_pending", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),
    )

    #: Order of insertion (not gap-free: a rolled-back entry leaves a hole). Pages sort by it,
    #: so integrated and pending entries show alike.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    #: Position in the log and leaf index in the Merkle tree: 0, 1, 2, ... with no gaps, given
    #: by the integrator; NULL while the entry is pending.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: done or refused.
    outcome: Mapped[str] = mapped_column(String(10))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_org_id: Mapped[int | None] = mapped_column(Integer)
    #: The roles the actor held, comma-separated, as they were at the time.
    actor_roles: Mapped[str | None] = mapped_column(String(200))
    #: How the actor signed in: password+totp, recovery-code, sso, api, cli, anonymous.
    auth_method: Mapped[str | None] = mapped_column(String(30))
    #: create, read, update, share, export, import, sign-in, sign-out, ...
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    #: The child the event concerns, by internal id only (no foreign key: erasure keeps the log).
    #: A listing names its children in `detail["children"]` and `AuditEventChild` instead.
    child_id: Mapped[int | None] = mapped_column(Integer)
    #: Why access was allowed: the legitimate relationship (e.g. enrolment), role, or break-glass.
    access_basis: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(200))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: Small structured detail (JSON): identifiers and codes, never personal content.
    detail: Mapped[str | None] = mapped_column(Text)
    #: RFC 8785 canonical JSON of every field above, seq included: the Merkle leaf (NULL while pending).
    leaf: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: SHA-256(0x00 || leaf).
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class AuditEventChild(Base):
    """Which children a listing event showed: "who has seen this child" finds a listing through
    here. It is an index only: the children are in the event's own leaf (`detail["children"]`),
    and `audit verify` rebuilds this table from the leaves, so a row removed to hide a sight (or
    added to fake one) is caught. Append-only like the log."""

    __tablename__ = "audit_event_child"
    __table_args__ = (Index("ix_audit_event_child_child", "child_id", "event_id"),)

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    child_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class AuditEventOrganisation(Base):
    """Whose organisation DPO sees an event: the actor's organisation and each organisation that
    held the event's child (or a child a listing showed) when it was sequenced, a second or so
    after it happened. Written by the integrator in the transaction that gives the event its
    number, by the rule of hub.permissions.dpo (`event_organisations`); an organisation DPO's
    search walks it by (organisation, event) newest first. Derived data beside the log, never part
    of a leaf: `audit verify` checks the part the leaves carry (every event's actor organisation);
    the holders come from the relationships of the moment, which the log does not hold.
    Append-only like the log."""

    __tablename__ = "audit_event_organisation"

    organisation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class AuditNode(Base):
    """Hash of a perfect, aligned subtree of the log: level L, index i covers leaves
    [i * 2**L, (i + 1) * 2**L). Level 0 is `AuditEvent.leaf_hash`, so it is not repeated here.
    Storing these makes any inclusion or consistency proof O(log n) reads."""

    __tablename__ = "audit_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """One row holding the current tree size. Only the integrator updates it, first thing in its
    transaction: that row lock (PostgreSQL) or write lock (SQLite) serialises integrators, so
    sequence numbers stay dense however many run. Requests never touch it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)


class SignedTreeHead(Base):
    __tablename__ = "audit_tree_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: RFC 3339 UTC, exactly as signed.
    timestamp: Mapped[str] = mapped_column(String(40))
    #: Ed25519 over the RFC 8785 JSON of {root_hash, timestamp, tree_size}.
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditVerification(Base):
    """Each run of `audit verify` (command, worker or the DPO's button): queued, running, then
    done with its result. The DPO's "verify now" queues one and the worker runs it, so a long
    check never runs inside a request; the page shows its progress."""

    __tablename__ = "audit_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Who pressed "verify now"; NULL for the command line or a schedule.
    by_user_id: Mapped[int | None] = mapped_column(Integer)
    #: full (every entry from the start) or incremental (from the last verified tree).
    kind: Mapped[str] = mapped_column(String(12), default="full")
    #: queued, running or done.
    status: Mapped[str] = mapped_column(String(10), default="done")
    #: Entries checked so far and to check, for the progress bar.
    checked: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool | None] = mapped_column()
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The root the log produced at `tree_size` when it verified: the next incremental run
    #: starts from it with a consistency proof.
    root_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    heads_checked: Mapped[int] = mapped_column(Integer, default=0)
    first_bad_entry: Mapped[int | None] = mapped_column(BigInteger)
    #: The first problems found, for the integrity panel.
    summary: Mapped[str | None] = mapped_column(Text)


class AuditFlag(Base):
    """Something in the log a DPO should look at: break-glass access, unusual volumes, access
    out of hours, repeated failed sign-ins, bulk exports, a look-up of a same-surname child.

    One flag is a group: one per user, rule (kind) and London day while it is open, counting the
    events behind it (`AuditFlagEvent`). Flags are derived from the log and never change it."""

    __tablename__ = "audit_flag"
    __table_args__ = (
        Index("ix_audit_flag_status_kind", "status", "kind"),
        UniqueConstraint("kind", "event_seq"),
        # One open group per user, rule and day: a new event joins it rather than opening another.
        Index("ix_audit_flag_open_group", "kind", "actor_user_id", "day", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The first event of the group (unique per kind: an event raises a kind of flag once).
    event_seq: Mapped[int] = mapped_column(BigInteger)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The London day of the group's events.
    day: Mapped[date] = mapped_column(Date, default=lambda: datetime.now(LONDON).date())
    #: How many events the group holds.
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    #: The group's latest event, and when the first and latest happened.
    last_event_seq: Mapped[int | None] = mapped_column(BigInteger)
    first_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(300))
    #: open or closed.
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_by_user_id: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class AuditFlagEvent(Base):
    """One event behind a flag. The key (kind, event) makes raising idempotent: an event joins
    a kind of flag once, whatever group it lands in."""

    __tablename__ = "audit_flag_event"
    __table_args__ = (Index("ix_audit_flag_event_flag_child", "flag_id", "child_id"),)

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flag_id: Mapped[int] = mapped_column(ForeignKey("audit_flag.id", ondelete="CASCADE"))
    #: The child the event concerns, by id (as in the log).
    child_id: Mapped[int | None] = mapped_column(Integer)


class AuditFlagScan(Base):
    """One row: the last event the flag rules have looked at, so each look starts after it.
    Updated first when raising flags, which serialises concurrent raisers."""

    __tablename__ = "audit_flag_scan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    scanned_to_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Cosignature(Base):
    """A witness's cosignature/v1 line on a signed tree head's checkpoint, as the witness sent it
    (append-only). It cannot be forged without the witness's key, so it stays evidence even in a
    database someone else can write: the export carries it, the offline verifier checks it."""

    __tablename__ = "audit_cosignature"
    __table_args__ = (UniqueConstraint("tree_head_id", "witness"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_head_id: Mapped[int] = mapped_column(ForeignKey("audit_tree_head.id"), index=True)
    #: The witness's key name, e.g. police.example.test/witness.
    witness: Mapped[str] = mapped_column(String(200))
    #: The whole signature line, "— <name> <base64>" and its newline.
    line: Mapped[str] = mapped_column(Text)
    #: The time inside the cosignature (the witness's clock).
    cosigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WitnessState(Base):
    """What the hub last heard from each configured witness: the size it cosigned, and its latest
    refusal. Shown on the integrity panel. Only a cache for the next submission's old size: a
    witness that disagrees answers 409 with its own size, so a forged row costs a retry."""

    __tablename__ = "audit_witness"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    cosigned_size: Mapped[int | None] = mapped_column(BigInteger)
    cosigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: cosigned, refused or unreachable.
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    refused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The witness's answer to the refused submission (status and reason, no personal data).
    refusal: Mapped[str | None] = mapped_column(Text)


class AuditAlarm(Base):
    """Something wrong with the audit log or the worker that a person must see: the log does not
    verify, the hub refused to sign, a witness refused or cannot be reached, a worker duty fails.
    One open row per kind and subject, counting how often it recurred; the condition that raised
    it raises it again every time it recurs, so a row deleted or "cleared" by hand comes back."""

    __tablename__ = "audit_alarm"
    __table_args__ = (
        Index("ix_audit_alarm_open", "kind", "subject", unique=True,
              sqlite_where=text("cleared_at IS NULL"), postgresql_where=text("cleared_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: What it is about: a witness's name, a worker duty's name, or empty.
    subject: Mapped[str] = mapped_column(String(200), default="")
    #: What happened, in numbers and names of parts (never personal data).
    message: Mapped[str] = mapped_column(Text)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
