"""The daily "still missing" notification (`remind_still_missing`, run alongside escalation)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import exists, select, update

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, NotificationKind, RecipientReason
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.notifications import calendar
from hub.notifications.issuing import issue, message_copies
from hub.notifications.routing import Route, route


def remind_still_missing(now: datetime | None = None) -> int:
    """Tell a school its pupil is still missing, once per school day. The rule:

    A notification belongs to a school day: the day it was sent, if that is a school day and school
    had started; otherwise the next school day (a Sunday-night notice is Monday's). On a school day,
    from its start, an episode that is still open (the child not found) gets a "still missing"
    notification to the school's key adults (or the authority's contact) where the child is
    enrolled now, when a notification about it went to that school on an earlier school day, and
    none about it belongs to today yet. So: never on the first notification's own school day, never
    at weekends, on bank holidays or closure days, never after the child is found, and at most one
    a school day per episode. Its deadline is the start of the next school day.

    Run by the delivery worker with escalation, and by `flask --app hub notifications escalate`.
    Idempotent and safe from several workers: each episode is claimed (a no-op UPDATE) and checked
    again before writing, so the second of two workers finds it reminded; a unique index on
    (episode, person, school day) stands behind that, refusing a second reminder outright. It runs
    its own transactions, so never call it inside a unit of work. Returns the episodes reminded.
    """
    now = now or utcnow()
    today = now.astimezone(calendar.LONDON).date()
    if not calendar.is_school_day(today, []):
        return 0  # a weekend or bank holiday is nobody's school day: no query at all
    reminded_today = exists().where(Notification.episode_id == MissingEpisode.id,
                                    Notification.kind == NotificationKind.still_missing,
                                    Notification.school_day == today)
    # A notification sent today belongs to today or a later school day, never an earlier one: only
    # episodes told before today's London midnight can be due (so the worker, which runs this
    # every few seconds, does not re-check every episode that was first reported today).
    midnight = datetime.combine(today, time(0), tzinfo=calendar.LONDON)
    open_episodes = db.session().scalars(
        select(MissingEpisode.id).where(MissingEpisode.found_at.is_(None), ~reminded_today, exists().where(
            Notification.episode_id == MissingEpisode.id, Notification.reason != RecipientReason.escalation,
            Notification.created_at < midnight, Notification.created_at <= now)).order_by(MissingEpisode.id)).all()
    reminded = 0
    for episode_id in open_episodes:
        # Look first, reading only (the worker runs this every few seconds); write only when due.
        due = _reminder_due(episode_id, now, today) is not None
        db.session().rollback()  # end the read: the claim below starts a fresh transaction
        if not due:
            continue
        # No IntegrityError to catch: under the claim a second worker sees the first's rows and
        # stops, so the unique index refusing an insert here would be a bug, which the duty's alarm shows.
        with unit_of_work():
            reminded += _remind(episode_id, now, today)
    return reminded


def _reminder_due(episode_id: int, now: datetime, today: date) -> Route | None:
    """Where a "still missing" notification about the episode should go today, if one is due."""
    session = db.session()
    episode = session.get(MissingEpisode, episode_id)
    if episode is None or episode.found_at is not None:
        return None
    where = route(session.get(Child, episode.child_id))
    if where is None:
        return None
    org = where.organisation
    school = org if org.kind == OrgKind.school else None
    start = calendar.school_day_start_on(school, today)
    if start is None or start > now:
        return None
    told_at = session.scalars(select(Notification.created_at).where(
        Notification.episode_id == episode.id, Notification.organisation_id == org.id,
        Notification.reason != RecipientReason.escalation, Notification.created_at <= now).distinct()).all()
    days = {calendar.school_day_of(school, moment) for moment in told_at}
    if not days or min(days) >= today or today in days:
        return None
    return where


def _remind(episode_id: int, now: datetime, today: date) -> int:
    session = db.session()
    # Claim the open episode first with a write that changes nothing: two workers then take turns
    # per episode (a row lock on PostgreSQL, the write lock on SQLite, whose WAL snapshot would
    # otherwise go stale between the checks and the insert), and the second, checking again under
    # the claim, sees the first's rows and stops.
    claimed = session.execute(update(MissingEpisode).where(
        MissingEpisode.id == episode_id, MissingEpisode.found_at.is_(None))
        .values(updated_at=MissingEpisode.updated_at).execution_options(synchronize_session=False)).rowcount
    where = _reminder_due(episode_id, now, today) if claimed else None
    if where is None:
        return 0
    episode = session.get(MissingEpisode, episode_id)
    org = where.organisation
    school = org if org.kind == OrgKind.school else None
    group_key = f"{episode.id}:{NotificationKind.still_missing.value}:{org.id}:{today.isoformat()}"
    # The unique index on (episode, person, school day) answers here if another worker got there first.
    written = issue(message_copies(episode, NotificationKind.still_missing, org.id, where.recipients, group_key,
                             calendar.next_school_day_start(school, now), now, school_day=today),
                     NotificationKind.still_missing, now)
    audit.record_many(None, written.entries.get(episode.id, []))
    return 1
