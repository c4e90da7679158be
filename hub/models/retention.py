"""Retention: each agency's schedule, each record's review date and the decision about it, and
legal holds.

A record's retention row is written with the record (hub.retention.scheduling), in the same
transaction, so no record exists without its review date. The row outlives the record it
describes: after destruction it says what was destroyed, when, under which rule and on whose
approval, without holding anything of the record itself.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.crypto import EncryptedText
from hub.db import Base, UTCDateTime, utcnow


class RecordClass(str, enum.Enum):
    """The kinds of record a schedule names. Each has one default rule (hub.retention.rules)."""

    looked_after_case_record = "looked_after_case_record"
    social_care_record = "social_care_record"
    school_child_protection = "school_child_protection"
    health_record = "health_record"
    #: A force's missing episode.
    police_record = "police_record"
    #: A force's share record (not an episode: its own class, so the two never share an id).
    police_share = "police_share"
    partner_record = "partner_record"
    mace_intelligence = "mace_intelligence"
    consent_record = "consent_record"
    mace_minutes = "mace_minutes"
    mace_agenda_item = "mace_agenda_item"
    mace_action = "mace_action"
    mace_outcome = "mace_outcome"
    philomena_profile = "philomena_profile"
    #: A MACE person of concern (an adult): reviewed on its own date (hub.mace); a retention row is
    #: written for it when an erasure request about the person is recorded, so its erasure goes
    #: through the one destroy step (hub.retention.destruction) like every other record.
    mace_person = "mace_person"
    # Operational data: purged by age in days, without a review of each row (no retention row).
    outbox_email = "outbox_email"
    sign_in_attempt = "sign_in_attempt"
    user_session = "user_session"
    import_file = "import_file"


class RetentionStatus(str, enum.Enum):
    #: Waiting for its review date.
    scheduled = "scheduled"
    #: Reviewed and kept until a new review date, with a reason.
    kept = "kept"
    #: Destruction approved by the owning agency's DPO; the worker destroys it (unless held).
    approved = "approved"
    #: Destroyed: the row is all that is left, and it holds nothing of the record.
    destroyed = "destroyed"


class HoldKind(str, enum.Enum):
    inquiry = "inquiry"
    litigation = "litigation"
    subject_access = "subject_access"
    restriction = "restriction"

    @property
    def label(self) -> str:
        return {"inquiry": "An inquiry", "litigation": "Litigation (actual or expected)",
                "subject_access": "A pending subject access request",
                "restriction": "A restriction of processing (UK GDPR Art 18)"}[self.value]


class RetentionSetting(Base):
    """An agency's own period for a record class, where it differs from the default. The kind of
    rule (to a birthday, years or days after writing) is the class's; the agency sets the number."""

    __tablename__ = "retention_setting"
    __table_args__ = (UniqueConstraint("organisation_id", "record_class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    record_class: Mapped[RecordClass] = mapped_column(Enum(RecordClass, native_enum=False, length=40))
    #: The number the rule counts: a birthday, years or days (hub.retention.rules.Basis).
    period: Mapped[int] = mapped_column(Integer)
    #: Why the agency departs from the default (its own schedule's reference, a policy decision).
    reason: Mapped[str] = mapped_column(EncryptedText)
    changed_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetentionRecord(Base):
    """One record under retention: its class, owner, the rule that dated it, its review date and
    the decision about it. `record_id` is the record's id in its own table (no foreign key: the
    row stays after the record is destroyed); `child_id` likewise, so a hold on a child finds it."""

    __tablename__ = "retention_record"
    __table_args__ = (
        UniqueConstraint("record_class", "record_id"),
        # The review queue: an agency's records not yet destroyed, by review date.
        Index("ix_retention_record_queue", "owning_org_id", "review_on",
              sqlite_where=text("status <> 'destroyed'"), postgresql_where=text("status <> 'destroyed'")),
        Index("ix_retention_record_child", "child_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_class: Mapped[RecordClass] = mapped_column(Enum(RecordClass, native_enum=False, length=40))
    record_id: Mapped[int] = mapped_column(Integer)
    #: The agency that controls the record and decides its destruction (its DPO).
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    child_id: Mapped[int | None] = mapped_column(Integer)
    #: The day the record was written: what "years after" counts from.
    written_on: Mapped[date] = mapped_column(Date)
    #: The rule as applied, e.g. "police_record: 6 years after written" (hub.retention.rules.describe).
    rule: Mapped[str] = mapped_column(String(120))
    review_on: Mapped[date] = mapped_column(Date)
    status: Mapped[RetentionStatus] = mapped_column(Enum(RetentionStatus, native_enum=False, length=20),
                                                    default=RetentionStatus.scheduled)
    #: Why it was kept at its last review (it may name people, so encrypted).
    keep_reason: Mapped[str | None] = mapped_column(EncryptedText)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LegalHold(Base):
    """A legal hold: while it stands (not lifted), nothing it covers is destroyed, by any path.
    It covers its organisation's records of one child, of one record class, of both, or (neither
    given: an inquiry's "keep everything") all of them."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[HoldKind] = mapped_column(Enum(HoldKind, native_enum=False, length=20))
    child_id: Mapped[int | None] = mapped_column(Integer)
    record_class: Mapped[RecordClass | None] = mapped_column(Enum(RecordClass, native_enum=False, length=40))
    reason: Mapped[str] = mapped_column(EncryptedText)
    set_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(EncryptedText)
