"""School notifications and the outbox.

A notification is one key adult's copy of one message about one episode (reported missing, still
missing, found, risk raised, or an escalation); copies of the same message to the same
organisation share a `group_key`, so one key adult's acknowledgement answers for the school.
The outbox holds e-mails written in the same transaction as the change that caused them; the
delivery worker sends them, recording each attempt."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import EncryptedText
from hub.db import Base, UTCDateTime, utcnow


class NotificationKind(str, enum.Enum):
    missing = "missing"
    still_missing = "still_missing"
    found = "found"
    risk_raised = "risk_raised"

    @property
    def label(self) -> str:
        return {"missing": "Reported missing", "still_missing": "Still missing", "found": "Found",
                "risk_raised": "Risk grade raised"}[self.value]


class RecipientReason(str, enum.Enum):
    key_adult = "key_adult"            # the school's DSL or deputy
    la_contact = "la_contact"          # the authority's education safeguarding contact, instead
    escalation = "escalation"          # not acknowledged by the deadline


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_created", "user_id", "created_at"),
        # The menu's "Notifications (n)": the user's copies not yet acknowledged, without reading
        # every notification they were ever sent.
        Index("ix_notification_user_waiting", "user_id", "acknowledged_at"),
        Index("ix_notification_deadline", "acknowledged_at", "escalated_at", "deadline_at"),
        Index("ix_notification_group", "group_key"),
        # The reports' acknowledgement figures read only these columns of a period's episodes'
        # notifications: covered by the index, no table row is read.
        Index("ix_notification_episode_report", "episode_id", "reason", "group_key", "acknowledged_at",
              "deadline_at", "escalated_at", "organisation_id"),
        # At most one "still missing" copy per episode, person and school day, even with two
        # workers racing: only still-missing rows set `school_day` (NULLs never collide).
        Index("uq_notification_still_missing_day", "episode_id", "user_id", "school_day", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("missing_episode.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[NotificationKind] = mapped_column(Enum(NotificationKind, native_enum=False, length=20))
    reason: Mapped[RecipientReason] = mapped_column(Enum(RecipientReason, native_enum=False, length=20))
    #: "<episode>:<kind>:<organisation>:<sequence>": the copies that one acknowledgement answers.
    group_key: Mapped[str] = mapped_column(String(80))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    school_action: Mapped[str | None] = mapped_column(EncryptedText)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: For a "still missing" notification only: the school day (Europe/London) it is about.
    school_day: Mapped[date | None] = mapped_column(Date)


class ReplyKind(str, enum.Enum):
    seen_at_school = "seen_at_school"
    information = "information"

    @property
    def label(self) -> str:
        return {"seen_at_school": "The child is at school",
                "information": "Information that may help find them"}[self.value]


class NotificationReply(Base):
    """A key adult's reply to the police from a notification. The content, legal basis, consent
    position and source are in the share record (the register's one rule set); this row only ties
    the share to the notification and the episode, so the episode page can show what schools said."""

    __tablename__ = "notification_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("missing_episode.id"), index=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("share_record.id"))
    kind: Mapped[ReplyKind] = mapped_column(Enum(ReplyKind, native_enum=False, length=20))
    #: When the key adult saw the child (seen_at_school only).
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClosureKind(str, enum.Enum):
    holiday = "holiday"
    inset = "inset"


class SchoolClosure(Base):
    """Days a school (or every school of an authority) is closed: holidays and INSET days. Weekends
    and bank holidays come from the calendar and the `holidays` package."""

    __tablename__ = "school_closure"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    kind: Mapped[ClosureKind] = mapped_column(Enum(ClosureKind, native_enum=False, length=10))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class MessageStatus(str, enum.Enum):
    pending = "pending"
    sent = "sent"
    failed = "failed"          # permanently: an administrator sees it and may retry


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(EncryptedText)
    subject: Mapped[str] = mapped_column(String(200))
    #: Never personal data: a link to the hub and what kind of thing is waiting.
    body: Mapped[str] = mapped_column(Text)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id"))
    status: Mapped[MessageStatus] = mapped_column(Enum(MessageStatus, native_enum=False, length=10),
                                                  default=MessageStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A worker's claim: others skip the row until it lapses (SQLite has no SKIP LOCKED).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempts_log: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.id")


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))     # sent | retry | failed
    detail: Mapped[str] = mapped_column(String(500), default="")
    worker: Mapped[str] = mapped_column(String(100), default="")
