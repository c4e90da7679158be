"""The one way an e-mail enters the outbox (issue 21): every package queues its e-mails here, so
what is sent, to whom and carrying what is written and tested in one place; the delivery worker
(hub.notifications.delivery) sends what is queued, after the queuing transaction commits.

Bodies never carry personal data: a link to the hub and what kind of thing is waiting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from hub import db
from hub.db import utcnow
from hub.models.notifications import MessageStatus, OutboxMessage


@dataclass(frozen=True)
class Email:
    to_address: str
    subject: str
    body: str
    #: The notification this e-mail tells of, when it is one (the inbox shows its delivery).
    notification_id: int | None = None


def queue(emails: Sequence[Email], now: datetime | None = None) -> int:
    """Add the e-mails to the outbox in the caller's transaction, due at once; one statement
    however many (the police download queues thousands). The number queued."""
    if not emails:
        return 0
    at = now or utcnow()
    db.session().execute(insert(OutboxMessage), [
        dict(to_address=e.to_address, subject=e.subject, body=e.body, notification_id=e.notification_id,
             status=MessageStatus.pending, attempts=0, next_attempt_at=at, created_at=at) for e in emails])
    return len(emails)
