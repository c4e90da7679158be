"""Counts of notifications, for other packages' pages: the notifications package answers for its
tables, so the home page, the menu and the missing team's list ask here rather than read them.

Counts only, for the pages that show them: no name, no content, so nothing here is audited (the
page that shows a count audits what it shows with it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from hub import db
from hub.models.auth import User
from hub.models.notifications import Notification, NotificationKind, NotificationReply, ReplyKind
from hub.permissions import addressed_to


def waiting_for(user: User) -> int:
    """Addressed to the user and not yet acknowledged by their school (the inbox's new ones)."""
    return db.session().scalar(select(func.count()).select_from(Notification).where(
        addressed_to(user), Notification.acknowledged_at.is_(None)))


@dataclass
class Told:
    """What the schools were told of an episode, one kind of notification ("Reported missing",
    "Found", ...) at a time, so the list says which one it speaks of."""

    kind: str                    # the notification's kind, as people read it
    sent: int                    # notification groups of this kind (one per school and sending)
    acknowledged: int
    overdue: int                 # not acknowledged by the deadline

    @property
    def status(self) -> str:
        if self.overdue:
            return "not acknowledged: overdue"
        return "acknowledged" if self.acknowledged == self.sent else "waiting"


@dataclass
class EpisodeTold:
    """What the schools were told of one episode, over every kind of notification."""

    sent: int = 0                # notification groups sent (one per school and sending)
    acknowledged: int = 0        # of which acknowledged
    overdue: int = 0             # not acknowledged by the deadline
    #: Each kind of notification sent, in the order first sent.
    kinds: list[Told] = field(default_factory=list)


def told_of_episodes(episode_ids: Collection[int], now: datetime) -> dict[int, EpisodeTold]:
    """Episode id -> what its schools were told and acknowledged: one query for a page of
    episodes (the caller chose the episodes by its own access rules)."""
    told: dict[int, EpisodeTold] = {}
    kinds: dict[int, dict[NotificationKind, Told]] = {}
    if not episode_ids:
        return told
    for episode_id, kind, _group, acked, deadline, _first in db.session().execute(
            select(Notification.episode_id, Notification.kind, Notification.group_key,
                   func.max(Notification.acknowledged_at), func.min(Notification.deadline_at),
                   func.min(Notification.id))
            .where(Notification.episode_id.in_(list(episode_ids)))
            .group_by(Notification.episode_id, Notification.kind, Notification.group_key)
            .order_by(func.min(Notification.id))):
        deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=now.tzinfo)
        answered, overdue = acked is not None, acked is None and deadline <= now
        episode = told.setdefault(episode_id, EpisodeTold())
        episode.sent, episode.acknowledged, episode.overdue = (episode.sent + 1, episode.acknowledged + answered,
                                                               episode.overdue + overdue)
        by_kind = kinds.setdefault(episode_id, {})
        if kind not in by_kind:
            by_kind[kind] = Told(kind.label, 0, 0, 0)
            episode.kinds.append(by_kind[kind])
        one = by_kind[kind]
        one.sent, one.acknowledged, one.overdue = one.sent + 1, one.acknowledged + answered, one.overdue + overdue
    return told


def seen_at_school(episode_ids: Collection[int]) -> dict[int, datetime]:
    """Episode id -> the latest "the child is at school now" reply (one query for a page): the
    missing team and the police see at a glance where a missing child has turned up."""
    if not episode_ids:
        return {}
    return dict(db.session().execute(
        select(NotificationReply.episode_id, func.max(NotificationReply.seen_at))
        .where(NotificationReply.episode_id.in_(list(episode_ids)), NotificationReply.kind == ReplyKind.seen_at_school)
        .group_by(NotificationReply.episode_id)).all())
