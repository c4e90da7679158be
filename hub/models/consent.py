"""Consent to share (or its refusal), given by the child or a person with parental
responsibility, for named purposes and recipients, for a time, until withdrawn."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import EncryptedText
from hub.db import Base, utcnow


class GivenBy(str, enum.Enum):
    child = "child"
    parental_responsibility = "parental_responsibility"


class ConsentRecord(Base):
    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    given_by: Mapped[GivenBy] = mapped_column(Enum(GivenBy, native_enum=False, length=30))
    #: Who, by relationship ("the child", "mother"); never needed to find anyone.
    giver_description: Mapped[str] = mapped_column(EncryptedText)
    #: For a child giving or refusing consent: the practitioner's judgement of their competence.
    child_competent: Mapped[bool | None] = mapped_column(Boolean)
    competence_note: Mapped[str | None] = mapped_column(EncryptedText)
    #: True: consent given; False: refused.
    given: Mapped[bool] = mapped_column(Boolean)
    #: Share categories it covers, comma-separated codes of hub.models.sharing.Category.
    purposes: Mapped[str] = mapped_column(String(300))
    obtained_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_reason: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    recipients: Mapped[list[ConsentRecipient]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    def covers(self, category: str, organisation_ids: set[int], on: date) -> bool:
        """Given, not withdrawn, in date, for this purpose, and for every recipient."""
        return (self.given and self.withdrawn_at is None and self.obtained_on <= on
                and (self.valid_until is None or on <= self.valid_until)
                and category in self.purposes.split(",")
                and organisation_ids <= {r.organisation_id for r in self.recipients})


class ConsentRecipient(Base):
    __tablename__ = "consent_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent_record.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
