"""The key adult's side: their inbox, opening and acknowledging (for the whole school); and who
was told of an episode and what they did, for the missing team and the police."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, NotificationKind, NotificationReply
from hub.models.people import Child
from hub.permissions import addressed_to, load_or_refuse

ACTION_MAX = 2000


def load_own(actor: User, notification_id: int, action: str) -> Notification:
    """A notification addressed to the actor, or one of their organisation's copies when they are
    a key adult there (hub.permissions.notifications). Anyone else gets the same 404 as for a
    notification that does not exist, audited."""
    return load_or_refuse(actor, Notification, notification_id, action=action)


def open_notification(actor: User, notification_id: int) -> Notification:
    """Read one notification; the first opening is recorded."""
    n = load_own(actor, notification_id, "read")
    with unit_of_work():
        if n.opened_at is None and n.user_id == actor.id:
            n.opened_at = utcnow()
        audit.record("read", actor=actor, object_type="notification", object_id=n.id,
                     child_id=_child_id(n), basis="notification-recipient")
    return n


def acknowledge(actor: User, notification_id: int, school_action: str | None = None) -> Notification:
    """The key adult acknowledges (for the whole school) and may say what the school did."""
    n = load_own(actor, notification_id, "update")
    action = (school_action or "").strip() or None
    if action and len(action) > ACTION_MAX:
        raise Invalid({"school_action": f"Keep this under {ACTION_MAX} characters"})
    if n.acknowledged_at is not None:
        raise Invalid({"": "This notification was already acknowledged"})
    with unit_of_work():
        acknowledge_group(actor, n, utcnow())
        n.school_action = action
        audit.record("update", actor=actor, object_type="notification", object_id=n.id, child_id=_child_id(n),
                     basis="notification-recipient",
                     detail={"change": "acknowledged", "group": n.group_key, "action_recorded": bool(action)})
    return n


def acknowledge_group(actor: User, n: Notification, now: datetime) -> int:
    """Within the caller's unit of work: every copy of n's message to the school not yet
    acknowledged is acknowledged now by the actor (one answer for the school, which stops its
    escalation). Returns how many copies it answered (none when already acknowledged)."""
    answered = db.session().execute(
        update(Notification).where(Notification.group_key == n.group_key, Notification.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_user_id=actor.id),
        execution_options={"synchronize_session": "fetch"}).rowcount
    if n.opened_at is None:
        n.opened_at = now
    return answered


def _child_id(n: Notification) -> int:
    return db.session().scalar(select(MissingEpisode.child_id).where(MissingEpisode.id == n.episode_id))


@dataclass
class InboxItem:
    notification: Notification
    child: Child
    episode: MissingEpisode
    police_force: Organisation
    overdue: bool


def inbox(actor: User, now: datetime | None = None, limit: int = 200) -> list[InboxItem]:
    """The actor's notifications, newest first, with only what the school needs. Listing is
    audited as one read per child shown."""
    now = now or utcnow()
    police = aliased(Organisation)
    rows = db.session().execute(
        select(Notification, Child, MissingEpisode, police)
        .join(MissingEpisode, MissingEpisode.id == Notification.episode_id)
        .join(Child, Child.id == MissingEpisode.child_id)
        .join(police, police.id == MissingEpisode.police_org_id)
        .where(addressed_to(actor))
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()
    items = [InboxItem(n, c, e, p, n.acknowledged_at is None and n.deadline_at <= now) for n, c, e, p in rows]
    if items:
        with unit_of_work():
            audit.record("read", actor=actor, object_type="inbox", basis="notification-recipient", purpose="inbox",
                         children=sorted({i.child.id for i in items}), detail={"shown": len(items)})
    return items


def item(n: Notification, now: datetime | None = None) -> InboxItem:
    """One notification with the little the school may see (the caller opened it)."""
    episode = db.session().get(MissingEpisode, n.episode_id)
    return InboxItem(n, db.session().get(Child, episode.child_id), episode,
                     db.session().get(Organisation, episode.police_org_id),
                     n.acknowledged_at is None and n.deadline_at <= (now or utcnow()))


def acknowledged_by(n: Notification) -> User | None:
    return db.session().get(User, n.acknowledged_by_user_id) if n.acknowledged_by_user_id else None


@dataclass
class GroupStatus:
    """One message to one school (all its copies), as the missing team sees it."""

    organisation: Organisation
    kind: NotificationKind
    sent_at: datetime
    deadline_at: datetime
    copies: int
    opened: int
    acknowledged_at: datetime | None
    acknowledged_by: User | None
    school_action: str | None
    escalated_at: datetime | None
    overdue: bool
    #: When a key adult first opened a copy, and first replied to the police from one.
    opened_at: datetime | None = None
    replied_at: datetime | None = None

    @property
    def status(self) -> str:
        """The one furthest step the school took: New, Opened, Acknowledged or Replied (a reply
        acknowledges too)."""
        if self.replied_at:
            return "Replied"
        if self.acknowledged_at:
            return "Acknowledged"
        return "Opened" if self.opened_at else "New"

    @property
    def status_at(self) -> datetime:
        """When the school took that step (for New: when the message was sent)."""
        return self.replied_at or self.acknowledged_at or self.opened_at or self.sent_at


def status_for_episode(actor: User, episode: MissingEpisode, now: datetime | None = None) -> list[GroupStatus]:
    """Who was told about an episode and what they did, for a reader of the episode: `episode` is
    what `hub.missing.reading.get_episode` gave them (it checked and audited their access; the
    dependency runs from episodes to notifications, never back)."""
    episode_id = episode.id
    now = now or utcnow()
    groups: dict[str, list[Notification]] = {}
    for n in for_episode(episode_id):
        groups.setdefault(n.group_key, []).append(n)
    replied: dict[int, datetime] = {}  # each notification's first reply, in one query for the episode
    for notification_id, at in db.session().execute(
            select(NotificationReply.notification_id, NotificationReply.created_at)
            .where(NotificationReply.episode_id == episode_id).order_by(NotificationReply.created_at.desc())):
        replied[notification_id] = at
    result = []
    for copies in groups.values():
        acked = next((n for n in copies if n.acknowledged_at is not None), None)
        with_action = next((n for n in copies if n.school_action), None)
        first = copies[0]
        opened_at = min((n.opened_at for n in copies if n.opened_at), default=None)
        replied_at = min((replied[n.id] for n in copies if n.id in replied), default=None)
        result.append(GroupStatus(
            organisation=db.session().get(Organisation, first.organisation_id), kind=first.kind,
            sent_at=first.created_at, deadline_at=first.deadline_at, copies=len(copies),
            opened=sum(1 for n in copies if n.opened_at), acknowledged_at=acked.acknowledged_at if acked else None,
            acknowledged_by=acknowledged_by(acked) if acked else None,
            school_action=with_action.school_action if with_action else None,
            escalated_at=first.escalated_at, overdue=acked is None and first.deadline_at <= now,
            opened_at=opened_at, replied_at=replied_at))
    return result


def for_episode(episode_id: int) -> list[Notification]:
    """Every copy for an episode, for the missing team's view (the caller checked access)."""
    return list(db.session().scalars(select(Notification).where(Notification.episode_id == episode_id)
                                     .order_by(Notification.id)))
