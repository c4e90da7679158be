"""Share records: one piece of information passed from one organisation to others about a child,
with its legal basis, consent position and source. Never edited or deleted: a correction is a new
record that supersedes the old one; onward sharing is a new record that points to its origin."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import EncryptedText
from hub.db import Base, utcnow


class Category(str, enum.Enum):
    missing_episode = "missing_episode"
    return_interview = "return_interview"
    risk_assessment = "risk_assessment"
    school_concern = "school_concern"
    health_information = "health_information"
    police_intelligence = "police_intelligence"
    exploitation_concern = "exploitation_concern"
    other = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Information that is special-category or criminal-offence data by its nature; the practitioner
# can mark any other share as such too.
SPECIAL_BY_CATEGORY = {Category.health_information}
CRIMINAL_BY_CATEGORY = {Category.police_intelligence}


class SourceKind(str, enum.Enum):
    organisation = "organisation"
    role = "role"
    third_party = "third_party"


class ObtainedHow(str, enum.Enum):
    police_report = "police_report"
    return_interview = "return_interview"
    observation = "observation"
    mace_meeting = "mace_meeting"
    health_contact = "health_contact"
    the_child = "the_child"
    parent_or_carer = "parent_or_carer"
    other = "other"


class ConsentPosition(str, enum.Enum):
    #: Relies on a consent record that covers this share.
    consent = "consent"
    #: Consent not needed because another basis applies.
    not_needed = "not_needed"
    #: Consent sought and refused, but sharing is justified.
    refused_but_justified = "refused_but_justified"

    @property
    def label(self) -> str:
        return {"consent": "Consent relied on", "not_needed": "Consent not needed",
                "refused_but_justified": "Consent refused but sharing justified"}[self.value]


class NoConsentReason(str, enum.Enum):
    significant_harm = "significant_harm"
    would_place_at_risk = "would_place_at_risk"
    crime = "crime"
    legal_duty = "legal_duty"
    other = "other"


class RecipientStatus(str, enum.Enum):
    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    revoked = "revoked"


#: The longest purpose the pages take (it was the column's length before it was encrypted).
PURPOSE_MAX = 300


class ShareRecord(Base):
    __tablename__ = "share_record"
    __table_args__ = (
        Index("ix_share_record_child_created", "child_id", "created_at"),
        Index("ix_share_record_sender_created", "sender_org_id", "created_at"),
        # "Did this organisation send anything about these children": the share-sent relationship
        # asked for a page of children (hub.permissions.child_bases) probes each child here, where
        # the (sender, time) index made it read every share the organisation ever sent.
        Index("ix_share_record_child_sender", "child_id", "sender_org_id"),
        # A share is corrected at most once (its correction may be corrected in turn): two
        # corrections sent at the same moment would fork its history into two "latest" versions.
        Index("uq_share_record_supersedes_id", "supersedes_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None only for MACE intelligence about a place or a person of concern rather than one child.
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    #: The MACE group an intelligence item was shared into: only the group's current named members
    #: (and the sender's organisation) see it, whatever organisations received it.
    mace_group_id: Mapped[int | None] = mapped_column(ForeignKey("mace_group.id"), index=True)
    sender_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: False for a recorded decision NOT to share (with its reasons in `rationale`).
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=30))
    summary: Mapped[str] = mapped_column(EncryptedText)
    content: Mapped[str | None] = mapped_column(EncryptedText, deferred=True, deferred_group="detail")
    #: Why it was shared, in the sender's words: may name people, so encrypted at rest like the
    #: summary (the audit log names the category instead).
    purpose: Mapped[str] = mapped_column(EncryptedText)
    special_category: Mapped[bool] = mapped_column(Boolean, default=False)
    criminal_offence: Mapped[bool] = mapped_column(Boolean, default=False)
    law_enforcement: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Codes from hub.sharing.legal_bases.
    article_6: Mapped[str | None] = mapped_column(String(20))
    article_9: Mapped[str | None] = mapped_column(String(20))
    article_10: Mapped[str | None] = mapped_column(String(20))
    part_3: Mapped[str | None] = mapped_column(String(20))
    gateway: Mapped[str | None] = mapped_column(String(40))
    #: Source: who supplied it, how and when, and the evidence it rests on.
    source_kind: Mapped[SourceKind] = mapped_column(Enum(SourceKind, native_enum=False, length=20))
    #: The organisation or role, or a third party described by relationship ("the child's aunt").
    source_description: Mapped[str] = mapped_column(EncryptedText)
    obtained_how: Mapped[ObtainedHow] = mapped_column(Enum(ObtainedHow, native_enum=False, length=20))
    obtained_on: Mapped[date] = mapped_column(Date)
    evidence_reference: Mapped[str | None] = mapped_column(String(100))
    #: Police 3x5x2 grading: source evaluation 1-3, intelligence assessment A-E, handling code P or C.
    source_evaluation: Mapped[str | None] = mapped_column(String(1))
    intelligence_assessment: Mapped[str | None] = mapped_column(String(1))
    handling_code: Mapped[str | None] = mapped_column(String(1))
    consent_position: Mapped[ConsentPosition | None] = mapped_column(
        Enum(ConsentPosition, native_enum=False, length=30))
    consent_record_id: Mapped[int | None] = mapped_column(ForeignKey("consent_record.id"))
    no_consent_reason: Mapped[NoConsentReason | None] = mapped_column(
        Enum(NoConsentReason, native_enum=False, length=30))
    rationale: Mapped[str | None] = mapped_column(EncryptedText, deferred=True, deferred_group="detail")
    authorised_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Whether the child or family were told, when, or why not.
    family_told: Mapped[bool | None] = mapped_column(Boolean)
    family_told_on: Mapped[date | None] = mapped_column(Date)
    family_not_told_reason: Mapped[str | None] = mapped_column(EncryptedText, deferred=True, deferred_group="detail")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("share_record.id"))
    supersede_reason: Mapped[str | None] = mapped_column(EncryptedText, deferred=True, deferred_group="detail")
    origin_share_id: Mapped[int | None] = mapped_column(ForeignKey("share_record.id"))
    #: Set when the consent this share relied on is withdrawn: someone must review it.
    review_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    #: Loaded when asked for: lists of shares do not show recipients; pages that do use selectinload.
    recipients: Mapped[list[ShareRecipient]] = relationship(back_populates="share")


class ShareRecipient(Base):
    __tablename__ = "share_recipient"
    __table_args__ = (Index("ix_share_recipient_org_share", "organisation_id", "share_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("share_record.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    #: A named person in that organisation, when the share is for them.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[RecipientStatus] = mapped_column(Enum(RecipientStatus, native_enum=False, length=10),
                                                    default=RecipientStatus.sent)
    first_opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(EncryptedText, deferred=True)

    share: Mapped[ShareRecord] = relationship(back_populates="recipients")


class ShareAccess(Base):
    """Which organisations may see which share, with the share's time: the sender always, each
    recipient until revoked. Derived from share_record and share_recipient (written by the same
    service calls, in the same transaction) so that "everything we may see, newest first" is one
    index range scan instead of an OR over two tables."""

    __tablename__ = "share_access"
    __table_args__ = (Index("ix_share_access_org_created", "organisation_id", "created_at", "share_id"),)

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("share_record.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LocalGateway(Base):
    """A statutory gateway an administrator adds for the locality (a local protocol or a power the
    national list lacks). Never deleted, so old shares keep their meaning: retired instead."""

    __tablename__ = "local_gateway"
    __table_args__ = (UniqueConstraint("code", name="uq_local_gateway_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    explanation: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShareDraftRecord(Base):
    """A share being written one question page at a time: the answers so far, encrypted, opened only
    by the user writing it (hub.permissions.load_share_draft). It is never a share: confirming it on
    the check-your-answers page records the share and deletes the draft; abandoning deletes it."""

    __tablename__ = "share_draft"

    #: Random and unguessable: it is the draft's address (?draft=...), checked against its owner.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The only user who may open, change, confirm or abandon it.
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: The child the share will be about.
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"))
    #: The pages' answers as JSON (field name to the values sent), encrypted at rest.
    answers: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
