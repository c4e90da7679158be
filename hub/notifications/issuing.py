"""Telling schools of episodes (issue 21: one write path). Every notification, first notice,
escalation or "still missing", is written by `issue`, with one e-mail each through the outbox and
its audit event; `notify_episodes` tells the schools of one episode or of a chunk of the police
download (one episode is a list of one), inside the unit of work that recorded the change to the
episodes: nothing is told that was not stored, and nothing stored goes untold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from hub import db
from hub.audit import service as audit
from hub.audit.service import Entry
from hub.db import utcnow
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, NotificationKind, RecipientReason
from hub.models.roles import OrgKind
from hub.notifications import calendar, outbox, service
from hub.notifications.routing import Route, deadline_for, routes_for

EMAIL_SUBJECT = "Safeguarding hub: a notification is waiting for you"
#: No personal data, by design: not the child, not the school, not the kind of notification.
EMAIL_BODY = """A notification is waiting for you in the safeguarding information-sharing hub.

Sign in to read it and acknowledge it:
{link}

This e-mail holds no details on purpose. If you did not expect it, tell your hub administrator.
"""


def _group_key(episode_id: int, kind: NotificationKind, org_id: int, sequence: int | None) -> str:
    return f"{episode_id}:{kind.value}:{org_id}:{sequence or 0}"


def _email_body(notification_id: int) -> str:
    return EMAIL_BODY.format(link=f"{service.base_url()}/notifications/{notification_id}")


def _notify_entry(child_id: int, notification_id: int, kind: NotificationKind, user_id: int,
                  reason: RecipientReason) -> Entry:
    return Entry("notify", object_type="notification", object_id=notification_id, child_id=child_id,
                 detail={"kind": kind.value, "to_user": user_id, "reason": reason.value})


def _unrouted_entry(episode_id: int, child_id: int, kind: NotificationKind) -> Entry:
    return Entry("notify", object_type="missing-episode", object_id=episode_id, child_id=child_id,
                 outcome="failed", detail={"kind": kind.value, "reason": "no key adult or education contact"})


# A practitioner's episode, a change to one, an API row and a chunk of the police download are all
# told through `notify_episodes` (one episode is a list of one), and every notification, first or
# escalated or "still missing", is written by `issue`: who is told, by when, with which e-mail
# and audit event is one rule, however many are told at once.

@dataclass(frozen=True)
class EpisodeRef:
    """What notifying needs of an episode, so a bulk caller need not load it through the ORM."""

    id: int
    child_id: int


@dataclass
class Issued:
    """What notify_episodes wrote, per episode id: the notification ids, and the audit entries
    (recorded already, or left to the caller with `record=False`)."""

    notification_ids: dict[int, list[int]]
    entries: dict[int, list[Entry]]


@dataclass(frozen=True)
class Copy:
    """One notification to write: about which episode, to whom and why, and its columns."""

    episode: EpisodeRef | MissingEpisode
    user: User
    reason: RecipientReason
    values: dict[str, object]


def message_copies(episode: EpisodeRef | MissingEpisode, kind: NotificationKind, org_id: int,
            recipients: list[tuple[User, RecipientReason]], group_key: str, deadline: datetime, now: datetime,
            **columns: object) -> list[Copy]:
    """One message to one organisation: a copy per recipient, sharing its group key and deadline."""
    return [Copy(episode, user, reason, dict(
        episode_id=episode.id, organisation_id=org_id, user_id=user.id, kind=kind, reason=reason,
        group_key=group_key, deadline_at=deadline, created_at=now, **columns)) for user, reason in recipients]


def notify_episodes(episodes: Sequence[EpisodeRef | MissingEpisode], kind: str | NotificationKind,
                    now: datetime | None = None, *, record: bool = True,
                    deadlines: dict[int, datetime] | None = None,
                    routes: dict[int, Route | None] | None = None) -> Issued:
    """Within the caller's unit of work: for each episode, one notification per key adult of the
    child's school (or the authority's contact), and one e-mail each; an episode nobody can be
    told of gets a failed "notify" event. With `record=False` the audit entries are returned for
    the caller to append with its own (one lock per chunk).
    `deadlines` (organisation id -> deadline) and `routes` (child id -> route) may be shared by
    calls in the same transaction with the same `now`."""
    kind = NotificationKind(kind)
    now = now or utcnow()
    issued = Issued({e.id: [] for e in episodes}, {e.id: [] for e in episodes})
    if not episodes:
        return issued
    routes = routes_for({e.child_id for e in episodes}, known={} if routes is None else routes)
    deadlines = {} if deadlines is None else deadlines
    _add_deadlines(deadlines, [r.organisation for r in routes.values() if r is not None], now)
    sequences = _last_notification_ids([e.id for e in episodes], kind)
    copies: list[Copy] = []
    for episode in episodes:
        where = routes[episode.child_id]
        if where is None:
            issued.entries[episode.id].append(_unrouted_entry(episode.id, episode.child_id, kind))
            continue
        org = where.organisation
        group_key = _group_key(episode.id, kind, org.id, sequences.get(episode.id))
        copies += message_copies(episode, kind, org.id, where.recipients, group_key, deadlines[org.id], now)
    written = issue(copies, kind, now)
    for episode_id, ids in written.notification_ids.items():
        issued.notification_ids[episode_id] += ids
        issued.entries[episode_id] += written.entries[episode_id]
    if record:
        audit.record_many(None, [entry for e in episodes for entry in issued.entries[e.id]])
    return issued


def _add_deadlines(deadlines: dict[int, datetime], organisations: list[Organisation], now: datetime) -> None:
    """deadline_for each organisation not in `deadlines` yet, the schools' closures read at once."""
    todo = {o.id: o for o in organisations if o.id not in deadlines}
    schools = [o for o in todo.values() if o.kind == OrgKind.school]
    starts = calendar.next_school_day_starts(schools, now)
    for org_id, org in todo.items():
        deadlines[org_id] = starts[org_id] if org.kind == OrgKind.school else deadline_for(org, now)


def _last_notification_ids(episode_ids: list[int], kind: NotificationKind) -> dict[int, int]:
    """Per episode, its latest notification of this kind: the sequence part of the group key."""
    return dict(db.session().execute(
        select(Notification.episode_id, func.max(Notification.id))
        .where(Notification.episode_id.in_(episode_ids), Notification.kind == kind)
        .group_by(Notification.episode_id)).all())


def issue(copies: list[Copy], kind: NotificationKind, now: datetime) -> Issued:
    """The one writer of notifications (tests/test_one_write_path.py), within the caller's unit of
    work: the copies, one e-mail each through the outbox, and their audit entries, returned for
    the caller to record. Core inserts on the session's connection (the columns' types still
    apply: the e-mail address is encrypted on the way in), a fixed number of statements however
    many copies. Each notification's id, for its e-mail's link, is read back by its group key,
    time and (episode, person): not RETURNING, because a batched INSERT ... RETURNING cost
    PostgreSQL 2 to 5 times a plain executemany per row."""
    issued = Issued({}, {})
    if not copies:
        return issued
    connection = db.session().connection()
    table = Notification.__table__
    connection.execute(insert(table), [copy.values for copy in copies])
    # The time is this call's own (a group's earlier copies, which an escalation adds to, were
    # written before it): the rows found are exactly the ones just written.
    by_copy = {(episode_id, user_id): nid for nid, episode_id, user_id in connection.execute(
        select(table.c.id, table.c.episode_id, table.c.user_id).where(
            table.c.group_key.in_({copy.values["group_key"] for copy in copies}), table.c.created_at == now))}
    if len(by_copy) != len(copies):
        raise RuntimeError("the notifications just written could not be told apart from others")
    ids = [by_copy[(copy.episode.id, copy.user.id)] for copy in copies]
    outbox.queue([outbox.Email(copy.user.email, EMAIL_SUBJECT, _email_body(nid), notification_id=nid)
                  for nid, copy in zip(ids, copies, strict=True)], now)
    for nid, copy in zip(ids, copies, strict=True):
        issued.notification_ids.setdefault(copy.episode.id, []).append(nid)
        issued.entries.setdefault(copy.episode.id, []).append(
            _notify_entry(copy.episode.child_id, nid, kind, copy.user.id, copy.reason))
    return issued
