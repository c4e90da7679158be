"""Children, their identifiers, school enrolments and the agencies involved with them.

Names, dates of birth and identifiers are encrypted at rest (EncryptedText). Lookups go through
keyed hashes: `ChildIdentifier.lookup_hash` for exact identifier matches and `ChildNameToken`
for finding a child by name tokens and date of birth, so no name is ever stored in clear.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from hub.crypto import EncryptedText
from hub.db import Base, utcnow
from hub.models.auth import Organisation


class Gender(str, enum.Enum):
    female = "female"
    male = "male"
    other = "other"
    not_known = "not_known"


class IdentifierKind(str, enum.Enum):
    nhs_number = "nhs_number"
    upn = "upn"
    la_id = "la_id"
    police_id = "police_id"

    @property
    def label(self) -> str:
        return {
            "nhs_number": "NHS number",
            "upn": "Unique pupil number",
            "la_id": "Local authority id",
            "police_id": "Police id",
        }[self.value]


class ChildDataKey(Base):
    """A child's own data key (envelope encryption, hub.crypto): the random key that encrypts the
    child's personal fields and the records about the child, stored only wrapped by the field keys
    (HUB_FIELD_KEYS). Rotating the field keys re-wraps it; destroying the child's records destroys
    it (`wrapped_key` emptied, `destroyed_at` set), after which no copy of those fields can be read.
    The row stays, with no key, as the register that the key existed and when it went."""

    __tablename__ = "child_data_key"

    #: Random, made in Python so a child's fields can be encrypted before the child has an id.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    child_id: Mapped[int | None] = mapped_column(Integer, index=True)
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Child(Base):
    __tablename__ = "child"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The child's data key (ChildDataKey.id): every child-scoped field is encrypted under it.
    data_key_id: Mapped[str | None] = mapped_column(String(32))
    given_name: Mapped[str] = mapped_column(EncryptedText)
    family_name: Mapped[str] = mapped_column(EncryptedText)
    #: ISO date, encrypted; `dob_hash` finds it.
    date_of_birth_enc: Mapped[str] = mapped_column("date_of_birth", EncryptedText)
    dob_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: The first day of the month of birth, in clear, so reports can band ages in SQL (the full date
    #: stays encrypted); kept in step with the date of birth by `_keep_birth_month`.
    birth_month: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[Gender] = mapped_column(Enum(Gender, native_enum=False, length=20))
    looked_after: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The home authority: responsible for the child (children's social care organisation).
    responsible_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: The authority that placed the child, when a looked-after child lives in another area.
    placing_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the record is next due for a retention review.
    review_on: Mapped[date | None] = mapped_column(Date)

    responsible_authority: Mapped[Organisation | None] = relationship(foreign_keys=[responsible_authority_id])
    placing_authority: Mapped[Organisation | None] = relationship(foreign_keys=[placing_authority_id])
    identifiers: Mapped[list[ChildIdentifier]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="child"
    )
    enrolments: Mapped[list[Enrolment]] = relationship(
        cascade="all, delete-orphan", back_populates="child", order_by="Enrolment.start_date.desc()"
    )

    @validates("date_of_birth_enc")
    def _keep_birth_month(self, _key: str, value: str | None) -> str | None:
        self.birth_month = date.fromisoformat(value).replace(day=1) if value else None
        return value

    @property
    def date_of_birth(self) -> date:
        return date.fromisoformat(self.date_of_birth_enc)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def identifier(self, kind: IdentifierKind) -> str | None:
        return next((i.value for i in self.identifiers if i.kind == kind), None)

    @property
    def has_nhs_number(self) -> bool:
        """Whether the NHS number is recorded: the consistent identifier agencies match a child's
        records on (Children Act 2004 s.16LC, inserted by the Children's Wellbeing and Schools Act
        2026, names the NHS number as the one intended)."""
        return self.identifier(IdentifierKind.nhs_number) is not None


class LookedAfterPeriod(Base):
    """A period in which the child was looked after, from its first day to its last (None while it
    goes on). `Child.looked_after` is whether one is open now; the periods say when, so that a
    return can take the child's status during an episode (the SSDA903 missing file: DfE rules 578
    and 581 reject an episode that started after the child ceased to be looked after, or before
    they started to be). Dates are UK local dates, as the return's are."""

    __tablename__ = "looked_after_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChildIdentifier(Base):
    __tablename__ = "child_identifier"
    __table_args__ = (UniqueConstraint("kind", "lookup_hash"), UniqueConstraint("child_id", "kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentifierKind] = mapped_column(Enum(IdentifierKind, native_enum=False, length=20))
    value: Mapped[str] = mapped_column(EncryptedText)
    lookup_hash: Mapped[str] = mapped_column(String(64))

    child: Mapped[Child] = relationship(back_populates="identifiers")


class ChildNameToken(Base):
    """Keyed hash of one normalised name token of a child."""

    __tablename__ = "child_name_token"
    __table_args__ = (Index("ix_child_name_token_hash", "token_hash", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))


class Enrolment(Base):
    __tablename__ = "enrolment"
    __table_args__ = (Index("ix_enrolment_school_current", "school_id", "end_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    start_date: Mapped[date] = mapped_column(Date)
    #: NULL while the child is on the school's roll.
    end_date: Mapped[date | None] = mapped_column(Date)

    child: Mapped[Child] = relationship(back_populates="enrolments")
    school: Mapped[Organisation] = relationship(lazy="joined")

    @property
    def current(self) -> bool:
        return self.end_date is None


class AgencyInvolvement(Base):
    """An agency holds an open record about the child: a case open to social care, a
    missing-person record with the police, a referral with CAMHS. A legitimate relationship."""

    __tablename__ = "agency_involvement"
    __table_args__ = (Index("ix_agency_involvement_org_child", "organisation_id", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    #: Plain words: "open case", "missing-person record", "CAMHS referral".
    reason: Mapped[str] = mapped_column(String(100))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class ChildHolder(Base):
    """An organisation that has held the child through a record of which it may have many: a
    share it sent or received, a missing episode it policed or was home or receiving authority for.
    Not a relationship itself, and never enough to see the child: the rules of
    `hub.permissions.children` still decide, for the children listed here. It bounds an
    organisation's reach by the children it has held, not by its shares and episodes (a local
    authority with 200,000 shares about 2,000 children reads 2,000 rows here). Written, never
    deleted, in the transaction of every share and episode (`hub.people.holders`); a row whose
    record has gone costs one refused probe. Gone with the child's row."""

    __tablename__ = "child_holder"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)


class BreakGlassCategory(str, enum.Enum):
    """Why emergency access was needed, as a short choice: what the audit log records (the
    typed reason is about people, so it stays encrypted on the grant)."""

    missing_at_risk = "missing_at_risk"
    injured_or_unwell = "injured_or_unwell"
    immediate_danger = "immediate_danger"
    found_needs_safety = "found_needs_safety"
    other = "other"

    @property
    def label(self) -> str:
        return BREAK_GLASS_LABELS[self]


BREAK_GLASS_LABELS = {
    BreakGlassCategory.missing_at_risk: "The child is missing now and may be at risk",
    BreakGlassCategory.injured_or_unwell: "The child is injured or unwell and needs care now",
    BreakGlassCategory.immediate_danger: "The child, or someone with them, is in immediate danger",
    BreakGlassCategory.found_needs_safety: "The child has been found and must be kept safe now",
    BreakGlassCategory.other: "Another emergency",
}


#: The shortest typed reason that says anything.
BREAK_GLASS_REASON_MIN = 10
BREAK_GLASS_REASON_TOO_SHORT = f"Say why you need this record now, in at least {BREAK_GLASS_REASON_MIN} characters"


class BreakGlassGrant(Base):
    """Emergency access to a child with no legitimate relationship: a chosen category and a
    typed reason, a short time limit, every read under it audited as break-glass and flagged to
    the DPO."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (Index("ix_break_glass_grant_user_child", "user_id", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"))
    #: What kind of emergency, from a short list: the audit event's purpose.
    category: Mapped[BreakGlassCategory] = mapped_column(Enum(BreakGlassCategory, native_enum=False, length=30))
    #: Why the user needed the record in their words; may name people, so it is encrypted at rest
    #: and never copied into the audit log.
    reason: Mapped[str] = mapped_column(EncryptedText)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
