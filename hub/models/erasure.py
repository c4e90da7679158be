"""Erasure requests (UK GDPR Art 17): a request about a child or about a MACE person of concern
(an adult), each agency's decision for each class of record it holds about them, and the reply.

A request is recorded by the DPO of the organisation that received it; every agency holding
records about the child decides for its own records (each is the controller of them), one
decision per record class, with the exception that applies when it keeps them. An "erase"
decision approves the records' destruction at once (hub.erasure.service): the worker destroys them
by the one destroy step, which refuses a held record, and their retention rows then say they were
destroyed under the request.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.crypto import EncryptedText
from hub.db import Base, UTCDateTime, utcnow
from hub.models.retention import RecordClass


class Outcome(str, enum.Enum):
    """An agency's decision for one class of its records about the child."""

    #: Erased: the records are approved for destruction now (UK GDPR Art 17(1)).
    erase = "erase"
    #: Kept: processing is needed for a legal obligation or a task in the public interest (Art 17(3)(b)).
    keep_legal_obligation = "keep_legal_obligation"
    #: Kept: needed to establish, exercise or defend legal claims (Art 17(3)(e)).
    keep_legal_claims = "keep_legal_claims"
    #: Kept: law enforcement processing (DPA 2018 Part 3), where Art 17 does not apply; erasure
    #: under DPA 2018 s47 only if the processing infringes the principles.
    keep_law_enforcement = "keep_law_enforcement"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]

    @property
    def kept(self) -> bool:
        return self is not Outcome.erase


OUTCOME_LABELS = {
    Outcome.erase: "Erase (UK GDPR Art 17(1))",
    Outcome.keep_legal_obligation: "Keep: legal obligation or public task (UK GDPR Art 17(3)(b))",
    Outcome.keep_legal_claims: "Keep: legal claims (UK GDPR Art 17(3)(e))",
    Outcome.keep_law_enforcement: "Keep: law enforcement processing (DPA 2018 Part 3, s47)",
}


class RequestStatus(str, enum.Enum):
    #: Recorded; agencies deciding.
    open = "open"
    #: The reply was sent.
    answered = "answered"


class ErasureRequest(Base):
    """One erasure request about one child or one MACE person of concern, received by one
    organisation (its DPO answers it)."""

    __tablename__ = "erasure_request"
    __table_args__ = (
        Index("ix_erasure_request_child", "child_id"),
        Index("ix_erasure_request_person", "person_id"),
        CheckConstraint("(child_id IS NULL) <> (person_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The organisation that received the request; its DPO records it and sends the reply.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: The child the request is about (no foreign key: the request outlives the child's record).
    child_id: Mapped[int | None] = mapped_column(Integer)
    #: Or the MACE person of concern it is about (no foreign key either: it outlives the person's
    #: record), with the person's group (who may see the request, after the person is erased too).
    person_id: Mapped[int | None] = mapped_column(Integer)
    mace_group_id: Mapped[int | None] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)
    #: Who asked, by relationship ("the young person", "her mother"): encrypted, never in the log.
    requester: Mapped[str] = mapped_column(EncryptedText)
    #: What they asked to be erased, in their words or summarised.
    request_text: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[RequestStatus] = mapped_column(Enum(RequestStatus, native_enum=False, length=10),
                                                  default=RequestStatus.open)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ErasureDecision(Base):
    """One agency's decision for one class of its records about the request's child."""

    __tablename__ = "erasure_decision"
    __table_args__ = (UniqueConstraint("request_id", "organisation_id", "record_class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("erasure_request.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    record_class: Mapped[RecordClass] = mapped_column(Enum(RecordClass, native_enum=False, length=40))
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=30))
    #: Why (the statute, the claim): told to the requester in the reply; encrypted, never in the log.
    reason: Mapped[str] = mapped_column(EncryptedText)
    #: How many records the decision covered when it was made.
    records: Mapped[int] = mapped_column(Integer)
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
