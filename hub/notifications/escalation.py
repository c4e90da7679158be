"""Escalation (`escalate_due`, run by the delivery worker's loop or `notifications escalate`): a
message not acknowledged by its deadline gets copies for the authority's education safeguarding
contact and reminds the deputies; any one acknowledgement answers for the school."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, RecipientReason
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.notifications import calendar
from hub.notifications.issuing import issue, message_copies
from hub.notifications.routing import education_contact_org, users_with
from hub.permissions import EDUCATION_CONTACT_ROLES, ESCALATION_ROLES


def escalate_due(now: datetime | None = None) -> int:
    """Escalate every group past its deadline and not acknowledged: the deputies are reminded and
    the authority's education safeguarding contact gets a copy. Returns the groups escalated.
    Safe to run from several workers: the first UPDATE that marks a group wins it."""
    now = now or utcnow()
    later = aliased(Notification)
    due = db.session().execute(
        select(Notification.group_key).where(
            Notification.acknowledged_at.is_(None), Notification.escalated_at.is_(None),
            Notification.reason != RecipientReason.escalation, Notification.deadline_at <= now,
            ~exists().where(and_(later.group_key == Notification.group_key, later.acknowledged_at.is_not(None))))
        .distinct()).scalars().all()
    escalated = 0
    for group_key in due:
        with unit_of_work() as s:
            won = s.execute(update(Notification).where(
                Notification.group_key == group_key, Notification.escalated_at.is_(None),
                Notification.acknowledged_at.is_(None)).values(escalated_at=now)).rowcount
            if not won:
                continue
            first = s.scalar(select(Notification).where(Notification.group_key == group_key)
                             .order_by(Notification.id).limit(1))
            _escalate(first, group_key, now)
            escalated += 1
    return escalated


def _escalate(first: Notification, group_key: str, now: datetime) -> None:
    episode = db.session().get(MissingEpisode, first.episode_id)
    child = db.session().get(Child, episode.child_id)
    org = db.session().get(Organisation, first.organisation_id)
    recipients: list[tuple[User, RecipientReason]] = []
    if org.kind == OrgKind.school:
        recipients += [(u, RecipientReason.escalation) for u in users_with(org.id, ESCALATION_ROLES)]
        contact_org = education_contact_org(child, org)
    else:
        contact_org = None
    if contact_org is not None:
        recipients += [(u, RecipientReason.escalation) for u in users_with(contact_org.id, EDUCATION_CONTACT_ROLES)]
    # The next deadline is the following school day: a second escalation is the missing team's call.
    deadline = calendar.next_school_day_start(org if org.kind == OrgKind.school else None, now)
    written = issue(message_copies(episode, first.kind, first.organisation_id, recipients, group_key, deadline, now),
                     first.kind, now)
    audit.record_many(None, written.entries.get(episode.id, []))
    audit.record("escalate", object_type="notification", object_id=first.id, child_id=child.id,
                 detail={"group": group_key, "copies": len(recipients)})
