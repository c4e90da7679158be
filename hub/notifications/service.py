"""School notifications, Operation Encompass style: who is told, by when, and what they did.

`notify_episode` runs inside the unit of work that recorded the change to the episode: the
notifications, their outbox e-mails and the audit events commit with it or not at all. A
notification is a small state machine per school (the copies of one message to one school share
a `group_key`):

    waiting --open--> opened --acknowledge (or reply to the police)--> acknowledged
       \\____________ deadline passed, not acknowledged ____________> escalated (still waiting)

Escalation (`escalate_due`, run by the delivery worker's loop or `notifications escalate`) adds
copies for the authority's education safeguarding contact and reminds the deputies; any one
acknowledgement answers for the school.

Two later additions, each in its own block below: replies from a notification to the police
(`reply_seen_at_school`, `reply_information`: share records made by the sharing service) and the
daily "still missing" notification (`remind_still_missing`, run alongside `escalate_due`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.orm import aliased, defer, lazyload

from hub import db
from hub.audit import service as audit
from hub.audit.service import Entry
from hub.auth.models import Organisation, User, UserRole
from hub.auth.roles import OrgKind, Role
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing.models import MissingEpisode
from hub.notifications import calendar, outbox
from hub.notifications.models import Notification, NotificationKind, RecipientReason
from hub.notifications.models import NotificationReply, ReplyKind
from hub.people.models import Child, Enrolment
from hub.permissions import (
    EDUCATION_CONTACT_ROLES, ESCALATION_ROLES, KEY_ADULT_ROLES, POLICE_ROLES, addressed_to, child_access,
    is_designated_lead, load_or_refuse, may_authorise_sharing, may_read_reply_content,
)
ACTION_MAX = 2000

EMAIL_SUBJECT = "Safeguarding hub: a notification is waiting for you"
#: No personal data, by design: not the child, not the school, not the kind of notification.
EMAIL_BODY = """A notification is waiting for you in the safeguarding information-sharing hub.

Sign in to read it and acknowledge it:
{link}

This e-mail holds no details on purpose. If you did not expect it, tell your hub administrator.
"""


_settings = {"base_url": "http://127.0.0.1:5000"}


def configure(base_url: str) -> None:
    """The hub's public address, for the link in e-mails (set by the app factory)."""
    _settings["base_url"] = base_url.rstrip("/")


def base_url() -> str:
    return _settings["base_url"]


@dataclass(frozen=True)
class Route:
    """Where one episode's notifications go: the organisation and its people."""

    organisation: Organisation
    recipients: list[tuple[User, RecipientReason]]


# --- routing -------------------------------------------------------------------------------------
# One rule, two callers: `route` (one episode) and `routes_for` (a chunk of an import) both run
# `_route_from` on what the many-at-once helpers loaded, so the bulk path cannot drift from it.

def _users_with_many(org_ids: Iterable[int], roles: set[Role]) -> dict[int, list[User]]:
    """Active users holding any of the roles, per organisation, in one query (ordered by id)."""
    wanted = sorted(set(org_ids))
    found: dict[int, list[User]] = {org_id: [] for org_id in wanted}
    if not wanted:
        return found
    # Only what a notification needs (id, organisation, e-mail): not the user's organisation and
    # roles eagerly, nor their TOTP secret decrypted, for every key adult of every school routed.
    for user in db.session().scalars(
            select(User).where(User.organisation_id.in_(wanted), User.active.is_(True),
                               exists().where(UserRole.user_id == User.id, UserRole.role.in_(list(roles))))
            .options(lazyload(User.organisation), lazyload(User.role_rows), defer(User.totp_secret))
            .order_by(User.id)):
        found[user.organisation_id].append(user)
    return found


def _users_with(org_id: int, roles: set[Role]) -> list[User]:
    return _users_with_many([org_id], roles)[org_id]


def current_schools(child_ids: Iterable[int], on: date | None = None) -> dict[int, Organisation]:
    """The school where each child is enrolled now (the latest enrolment that has not ended), in
    one query; a child with no current school is absent from the answer."""
    on = on or date.today()
    wanted = sorted(set(child_ids))
    if not wanted:
        return {}
    school_ids: dict[int, int] = {}
    rows = db.session().execute(
        select(Enrolment.child_id, Enrolment.school_id)
        .where(Enrolment.child_id.in_(wanted), Enrolment.start_date <= on,
               (Enrolment.end_date.is_(None)) | (Enrolment.end_date >= on))
        .order_by(Enrolment.child_id, Enrolment.start_date.desc(), Enrolment.id.desc()))
    for child_id, school_id in rows:
        school_ids.setdefault(child_id, school_id)  # the first row per child is its latest enrolment
    # The schools themselves once each (a chunk's 500 children share a few dozen schools).
    schools = {o.id: o for o in db.session().scalars(
        select(Organisation).where(Organisation.id.in_(set(school_ids.values()))))} if school_ids else {}
    return {child_id: schools[school_id] for child_id, school_id in school_ids.items()}


def current_school(child_id: int, on: date | None = None) -> Organisation | None:
    """The school where the child is enrolled now (the latest enrolment that has not ended)."""
    return current_schools([child_id], on).get(child_id)


def education_contact_org(child: Child, school: Organisation | None) -> Organisation | None:
    """The local authority's education safeguarding team: the school's authority, or for a child
    with no school the education team of the child's responsible authority (same LA code)."""
    if school is not None and school.local_authority_id:
        return db.session().get(Organisation, school.local_authority_id)
    if child.responsible_authority_id:
        authority = db.session().get(Organisation, child.responsible_authority_id)
        return db.session().scalar(select(Organisation).where(
            Organisation.kind == OrgKind.la_education, Organisation.identifier == authority.identifier,
            Organisation.active.is_(True)).limit(1))
    return None


def _route_from(child_id: int, school: Organisation | None, key_adults: dict[int, list[User]],
                contact_route: Callable[[int, Organisation | None], Route | None]) -> Route | None:
    """The rule: the school's key adults (DSL and deputies) when it is active and has any; else the
    authority's education safeguarding contact."""
    if school is not None and school.active:
        adults = key_adults.get(school.id) or []
        if adults:
            return Route(school, [(u, RecipientReason.key_adult) for u in adults])
    return contact_route(child_id, school)


def _contact_route(child: Child, school: Organisation | None) -> Route | None:
    contact_org = education_contact_org(child, school)
    if contact_org is not None:
        contacts = _users_with(contact_org.id, EDUCATION_CONTACT_ROLES)
        if contacts:
            return Route(contact_org, [(u, RecipientReason.la_contact) for u in contacts])
    return None


def routes_for(child_ids: Iterable[int], on: date | None = None,
               known: dict[int, Route | None] | None = None) -> dict[int, Route | None]:
    """`route` for many children at once: their schools in one query, the key adults of all those
    schools in one more; the rare fallback to the authority's contact is looked up once per
    (school's authority, child's responsible authority). `known` (child id -> route), when given,
    is used and extended: an import chunk routes "missing" and "found" for the same children."""
    if known is not None:
        todo = set(child_ids) - known.keys()
        if todo:
            known.update(routes_for(todo, on))
        return known
    wanted = sorted(set(child_ids))
    schools = current_schools(wanted, on)
    key_adults = _users_with_many({s.id for s in schools.values() if s.active}, KEY_ADULT_ROLES)
    contacts: dict[tuple, Route | None] = {}

    def contact_route(child_id: int, school: Organisation | None) -> Route | None:
        child = db.session().get(Child, child_id)
        key = (school.local_authority_id if school is not None else None,
               None if school is not None and school.local_authority_id else child.responsible_authority_id)
        if key not in contacts:
            contacts[key] = _contact_route(child, school)
        return contacts[key]

    return {child_id: _route_from(child_id, schools.get(child_id), key_adults, contact_route) for child_id in wanted}


def route(child: Child) -> Route | None:
    """The school's key adults (DSL and deputies); else the authority's education safeguarding
    contact. None when nobody can be told (the missing team sees that on the episode)."""
    return routes_for([child.id])[child.id]


def deadline_for(organisation: Organisation, now: datetime) -> datetime:
    """The start of the next school day: the school's own calendar, or the default one for an
    authority's contact."""
    return calendar.next_school_day_start(organisation if organisation.kind == OrgKind.school else None, now)


def _group_key(episode_id: int, kind: NotificationKind, org_id: int, sequence: int | None) -> str:
    return f"{episode_id}:{kind.value}:{org_id}:{sequence or 0}"


def _email_body(notification_id: int) -> str:
    return EMAIL_BODY.format(link=f"{_settings['base_url']}/notifications/{notification_id}")


def _notify_entry(child_id: int, notification_id: int, kind: NotificationKind, user_id: int,
                  reason: RecipientReason) -> Entry:
    return Entry("notify", object_type="notification", object_id=notification_id, child_id=child_id,
                 detail={"kind": kind.value, "to_user": user_id, "reason": reason.value})


def _unrouted_entry(episode_id: int, child_id: int, kind: NotificationKind) -> Entry:
    return Entry("notify", object_type="missing-episode", object_id=episode_id, child_id=child_id,
                 outcome="failed", detail={"kind": kind.value, "reason": "no key adult or education contact"})


# --- creating -------------------------------------------------------------------------------------

def notify_episode(episode: MissingEpisode, kind: str | NotificationKind,
                   now: datetime | None = None) -> list[Notification]:
    """Within the caller's unit of work: one notification per key adult, and one e-mail each."""
    kind = NotificationKind(kind)
    now = now or utcnow()
    child = db.session().get(Child, episode.child_id)
    where = route(child)
    if where is None:
        audit.record_many(None, [_unrouted_entry(episode.id, episode.child_id, kind)])
        return []
    deadline = deadline_for(where.organisation, now)
    sequence = db.session().scalar(select(Notification.id).where(
        Notification.episode_id == episode.id, Notification.kind == kind).order_by(Notification.id.desc()).limit(1))
    group_key = _group_key(episode.id, kind, where.organisation.id, sequence)
    made = _issue(episode, kind, where.organisation.id, where.recipients, group_key, deadline, now)
    return made


def _issue(episode: MissingEpisode, kind: NotificationKind, org_id: int,
           recipients: list[tuple[User, RecipientReason]], group_key: str, deadline: datetime,
           now: datetime) -> list[Notification]:
    session = db.session()
    made = [Notification(episode_id=episode.id, organisation_id=org_id, user_id=user.id, kind=kind, reason=reason,
                         group_key=group_key, deadline_at=deadline, created_at=now) for user, reason in recipients]
    session.add_all(made)
    session.flush()
    outbox.queue([outbox.Email(user.email, EMAIL_SUBJECT, _email_body(n.id), notification_id=n.id)
                  for n, (user, _reason) in zip(made, recipients, strict=True)], now)
    audit.record_many(None, [_notify_entry(episode.child_id, n.id, kind, n.user_id, n.reason) for n in made])
    return made


# --- creating many at once (the police download) -------------------------------------------------
# The same rule as notify_episode (route, deadline, group key, e-mail, audit event) for a chunk of
# episodes: routes for all their children at once, each school's deadline computed once (`now` is
# the same for the chunk), and the notifications and e-mails written with one statement each.

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


def notify_episodes(episodes: Sequence[EpisodeRef | MissingEpisode], kind: str | NotificationKind,
                    now: datetime | None = None, *, record: bool = True,
                    deadlines: dict[int, datetime] | None = None,
                    routes: dict[int, Route | None] | None = None) -> Issued:
    """notify_episode for many episodes, within the caller's unit of work. With `record=False`
    the audit entries are returned for the caller to append with its own (one lock per chunk).
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
    planned: list[tuple[EpisodeRef | MissingEpisode, User, RecipientReason, dict]] = []
    for episode in episodes:
        where = routes[episode.child_id]
        if where is None:
            issued.entries[episode.id].append(_unrouted_entry(episode.id, episode.child_id, kind))
            continue
        org = where.organisation
        group_key = _group_key(episode.id, kind, org.id, sequences.get(episode.id))
        for user, reason in where.recipients:
            planned.append((episode, user, reason, dict(
                episode_id=episode.id, organisation_id=org.id, user_id=user.id, kind=kind, reason=reason,
                group_key=group_key, deadline_at=deadlines[org.id], created_at=now)))
    if planned:
        _insert_notifications(planned, kind, now, issued)
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
    from sqlalchemy import func

    return dict(db.session().execute(
        select(Notification.episode_id, func.max(Notification.id))
        .where(Notification.episode_id.in_(episode_ids), Notification.kind == kind)
        .group_by(Notification.episode_id)).all())


def _insert_notifications(planned: list, kind: NotificationKind, now: datetime, issued: Issued) -> None:
    """Core inserts on the session's connection (the columns' types still apply: the e-mail
    address is encrypted on the way in). Each notification's id, for its e-mail's link, is read
    back by its group key, time and (episode, person): not RETURNING, because a batched
    INSERT ... RETURNING cost PostgreSQL 2 to 5 times a plain executemany per row."""
    connection = db.session().connection()
    table = Notification.__table__
    connection.execute(insert(table), [values for *_, values in planned])
    # The group keys are new (their sequence is the latest notification of the kind), and the
    # time is this call's own: the rows found are exactly the ones just written.
    by_copy = {(episode_id, user_id): nid for nid, episode_id, user_id in connection.execute(
        select(table.c.id, table.c.episode_id, table.c.user_id).where(
            table.c.group_key.in_({values["group_key"] for *_, values in planned}), table.c.created_at == now))}
    if len(by_copy) != len(planned):
        raise RuntimeError("the notifications just written could not be told apart from others")
    ids = [by_copy[(episode.id, user.id)] for episode, user, _r, _v in planned]
    outbox.queue([outbox.Email(user.email, EMAIL_SUBJECT, _email_body(nid), notification_id=nid)
                  for nid, (_e, user, _r, _v) in zip(ids, planned, strict=True)], now)
    for nid, (episode, user, reason, _values) in zip(ids, planned, strict=True):
        issued.notification_ids[episode.id].append(nid)
        issued.entries[episode.id].append(_notify_entry(episode.child_id, nid, kind, user.id, reason))


# --- the key adult's side --------------------------------------------------------------------------

def _own(actor: User, notification_id: int, action: str) -> Notification:
    """A notification addressed to the actor, or one of their organisation's copies when they are
    a key adult there (hub.permissions.notifications). Anyone else gets the same 404 as for a
    notification that does not exist, audited."""
    return load_or_refuse(actor, Notification, notification_id, action=action)


def open_notification(actor: User, notification_id: int) -> Notification:
    """Read one notification; the first opening is recorded."""
    n = _own(actor, notification_id, "read")
    with unit_of_work():
        if n.opened_at is None and n.user_id == actor.id:
            n.opened_at = utcnow()
        audit.record("read", actor=actor, object_type="notification", object_id=n.id,
                     child_id=_child_id(n), basis="notification-recipient")
    return n


def acknowledge(actor: User, notification_id: int, school_action: str | None = None) -> Notification:
    """The key adult acknowledges (for the whole school) and may say what the school did."""
    n = _own(actor, notification_id, "update")
    action = (school_action or "").strip() or None
    if action and len(action) > ACTION_MAX:
        raise Invalid({"school_action": f"Keep this under {ACTION_MAX} characters"})
    if n.acknowledged_at is not None:
        raise Invalid({"": "This notification was already acknowledged"})
    with unit_of_work():
        _acknowledge_group(actor, n, utcnow())
        n.school_action = action
        audit.record("update", actor=actor, object_type="notification", object_id=n.id, child_id=_child_id(n),
                     basis="notification-recipient",
                     detail={"change": "acknowledged", "group": n.group_key, "action_recorded": bool(action)})
    return n


def _acknowledge_group(actor: User, n: Notification, now: datetime) -> int:
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
    what `hub.missing.service.get_episode` gave them (it checked and audited their access; the
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


# --- escalation --------------------------------------------------------------------------------------

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
        recipients += [(u, RecipientReason.escalation) for u in _users_with(org.id, ESCALATION_ROLES)]
        contact_org = education_contact_org(child, org)
    else:
        contact_org = None
    if contact_org is not None:
        recipients += [(u, RecipientReason.escalation) for u in _users_with(contact_org.id, EDUCATION_CONTACT_ROLES)]
    # The next deadline is the following school day: a second escalation is the missing team's call.
    deadline = calendar.next_school_day_start(org if org.kind == OrgKind.school else None, now)
    if recipients:
        _issue(episode, first.kind, first.organisation_id, recipients, group_key, deadline, now)
    audit.record("escalate", object_type="notification", object_id=first.id, child_id=child.id,
                 detail={"group": group_key, "copies": len(recipients)})


# --- replies to the police (two-way) -------------------------------------------------------------
# From its notification a key adult tells the force that holds the report that the child is at
# school now, or passes on what may help find them. Each reply is a share record made by the
# sharing service (its rules for legal basis, consent position, source and recipients apply
# unchanged), plus a small notification_reply row that ties the share to the episode.

REPLY_TEXT_MAX = 2000
#: Why the school tells the police without asking: the sharing register's consent rules want it said.
REPLY_RATIONALE = "A child reported missing: risk of harm; seeking consent would delay finding them"
REPLY_FAMILY_NOT_TOLD = ("The child is missing: the police are told first so the search can act on it; "
                         "the family hear from the police or the missing team")
#: The time a key adult types may be a little ahead of the server's clock.
REPLY_CLOCK_SKEW_MINUTES = 5
#: The force is searching for the child: its officers are told at once that a school replied.
#: No personal data, as for every e-mail: not the child, not the school, not the kind of reply.
REPLY_EMAIL_SUBJECT = "Safeguarding hub: a reply about a missing report is waiting for you"
REPLY_EMAIL_BODY = """A school has replied to a missing-report notification in the safeguarding information-sharing hub.

Sign in to read it:
{link}

This e-mail holds no details on purpose. If you did not expect it, tell your hub administrator.
"""


def may_authorise_reply(actor: User) -> bool:
    """Whether the actor may authorise their own reply (sharing without consent needs an
    authoriser: a DSL can, a deputy names their DSL)."""
    return may_authorise_sharing(actor)


def reply_authorisers(actor: User) -> list[User]:
    """Colleagues who may authorise the actor's reply (for a deputy's form)."""
    from hub.sharing import service as sharing

    return sharing.authorisers(actor)


def reply_seen_at_school(actor: User, notification_id: int, seen_at: datetime | None, note: str | None = None,
                         authorised_by_user_id: int | None = None) -> NotificationReply:
    """"The child is at school now": a share to the force that holds the report."""
    n, episode = _repliable(actor, notification_id)
    note = (note or "").strip()
    errors: dict[str, str] = {}
    now = utcnow()
    if seen_at is None:
        errors["seen_on"] = "Enter when the child was seen at school"
    elif seen_at > now + timedelta(minutes=REPLY_CLOCK_SKEW_MINUTES):
        errors["seen_on"] = "This time is in the future: enter when the child was seen"
    elif seen_at < episode.reported_start:
        errors["seen_on"] = (f"The child was reported missing {_london(episode.reported_start)}: "
                             "enter when they were seen after that")
    if len(note) > REPLY_TEXT_MAX:
        errors["note"] = f"Keep this under {REPLY_TEXT_MAX} characters"
    if errors:
        raise Invalid(errors)
    content = f"{actor.name} ({_reply_role(actor)}, {actor.organisation.name}) saw the child at school at " \
              f"{_london(seen_at)}." + (f"\n\nNote from the school: {note}" if note else "")
    return _reply(actor, n, episode, ReplyKind.seen_at_school, seen_at=seen_at,
                  summary=f"Seen at school {_london(seen_at)} (missing report {episode.police_reference})",
                  content=content, authorised_by_user_id=authorised_by_user_id)


def reply_information(actor: User, notification_id: int, information: str | None,
                      authorised_by_user_id: int | None = None) -> NotificationReply:
    """What may help find the child (friends, places, habits): a share to the force."""
    n, episode = _repliable(actor, notification_id)
    text = (information or "").strip()
    if not text:
        raise Invalid({"information": "Write what may help find the child: friends, places, habits"})
    if len(text) > REPLY_TEXT_MAX:
        raise Invalid({"information": f"Keep this under {REPLY_TEXT_MAX} characters"})
    return _reply(actor, n, episode, ReplyKind.information, seen_at=None,
                  summary=f"Information from {actor.organisation.name} that may help find the child "
                          f"(missing report {episode.police_reference})",
                  content=text, authorised_by_user_id=authorised_by_user_id)


def _repliable(actor: User, notification_id: int) -> tuple[Notification, MissingEpisode]:
    """The notification, if the actor may reply from it (else the same 404 as any other), and its
    episode, if the child is still missing (a closed episode has nothing to reply to)."""
    n = _own(actor, notification_id, "share")
    episode = db.session().get(MissingEpisode, n.episode_id)
    if episode.found_at is not None:
        raise Invalid({"": "The child has been found, so this missing report is closed and replies are no longer "
                           "taken here. To share a concern, use the share form from the child's page."})
    return n, episode


def _reply(actor: User, n: Notification, episode: MissingEpisode, kind: ReplyKind, *, seen_at: datetime | None,
           summary: str, content: str, authorised_by_user_id: int | None) -> NotificationReply:
    from hub.sharing import legal_bases
    from hub.sharing import service as sharing
    from hub.sharing.models import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind

    authoriser = actor.id if may_authorise_reply(actor) else authorised_by_user_id
    if authoriser is None:
        raise Invalid({"authorised_by_user_id": "Choose your designated safeguarding lead, who authorised telling "
                                                "the police"})
    if not child_access(actor, episode.child_id):
        # The notification names the child but is not a route to them (hub.permissions): without
        # one the register cannot record the share, so the key adult must telephone instead.
        audit.record_refusal(actor, "notification", n.id, episode.child_id, action="share")
        force = db.session().get(Organisation, episode.police_org_id)
        raise Invalid({"": f"The hub cannot record this reply for your organisation: telephone {force.name} now, "
                           f"quoting reference {episode.police_reference}"})
    # Public task; the safeguarding condition in case the free text touches health; the sender's
    # own statutory duty to safeguard (schools: Education Act 2002 s175; authorities: Children Act 2004 s11).
    gateway = "EA2002-s175" if actor.organisation.kind == OrgKind.school else "CA2004-s11"
    obtained = (seen_at or utcnow()).astimezone(calendar.LONDON).date()
    with unit_of_work() as s:
        share = sharing.create_share(actor, sharing.ShareDraft(
            child_id=episode.child_id, category=Category.missing_episode, summary=summary, content=content,
            purpose="To help the police find a child reported missing (the school's reply to its notification)",
            recipient_org_ids=[episode.police_org_id], source_kind=SourceKind.role,
            source_description=f"{actor.organisation.name}: {_reply_role(actor)}",
            obtained_how=ObtainedHow.observation if kind == ReplyKind.seen_at_school else ObtainedHow.other,
            obtained_on=min(obtained, date.today()),
            bases=legal_bases.BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway=gateway),
            consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.significant_harm,
            rationale=REPLY_RATIONALE, authorised_by_user_id=authoriser, family_told=False,
            family_not_told_reason=REPLY_FAMILY_NOT_TOLD))
        reply = NotificationReply(notification_id=n.id, episode_id=episode.id, share_id=share.id, kind=kind,
                                  seen_at=seen_at, organisation_id=actor.organisation_id, user_id=actor.id,
                                  created_at=utcnow())
        s.add(reply)
        s.flush()
        # A reply answers the notification as an acknowledgement would: the school has acted, so
        # its escalation stops and the police see "Replied", not "Waiting".
        acknowledged = _acknowledge_group(actor, n, reply.created_at)
        alerted = _alert_force(episode)
        audit.record("share", actor=actor, object_type="notification", object_id=n.id, child_id=episode.child_id,
                     basis="notification-recipient",
                     detail={"reply": kind.value, "share": share.id, "to": episode.police_org_id,
                             "alerted": alerted, "acknowledged": acknowledged})
    return reply


def _alert_force(episode: MissingEpisode) -> list[int]:
    """Within the reply's unit of work: one e-mail through the outbox to each active officer of
    the force that holds the report, linking to the episode (delivered after commit, like every
    notification e-mail). Returns whom it told."""
    officers = _users_with(episode.police_org_id, POLICE_ROLES)
    link = f"{_settings['base_url']}/missing/{episode.id}"
    outbox.queue([outbox.Email(u.email, REPLY_EMAIL_SUBJECT, REPLY_EMAIL_BODY.format(link=link)) for u in officers])
    return [u.id for u in officers]


def _reply_role(actor: User) -> str:
    if actor.organisation.kind != OrgKind.school:
        return "education safeguarding contact"
    return "designated safeguarding lead" if is_designated_lead(actor) else "deputy designated safeguarding lead"


def _london(moment: datetime) -> str:
    local = moment.astimezone(calendar.LONDON)
    return f"{local:%H:%M} on {local.day} {local:%B %Y}"


@dataclass
class ReplyView:
    """One reply, as the school that sent it or a reader of the episode sees it: who, when, what."""

    reply: NotificationReply
    organisation: Organisation
    user: User
    #: Whether the viewer's organisation may open the share (its sender or its recipient).
    may_open_share: bool


def _reply_views(actor: User, replies: list[NotificationReply], police_org_id: int) -> list[ReplyView]:
    # The senders and their organisations in one query each, not two per reply.
    session = db.session()
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_({r.organisation_id for r in replies})))} if replies else {}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.user_id for r in replies}))
                                              .options(defer(User.totp_secret)))} if replies else {}
    return [ReplyView(r, orgs[r.organisation_id], users[r.user_id],
                      may_read_reply_content(actor, r.organisation_id, police_org_id)) for r in replies]


def replies_from_school(actor: User, n: Notification) -> list[ReplyView]:
    """What the actor's organisation told the police about this episode (the caller opened the
    notification, which audited the read)."""
    episode = db.session().get(MissingEpisode, n.episode_id)
    replies = list(db.session().scalars(select(NotificationReply).where(
        NotificationReply.episode_id == n.episode_id, NotificationReply.organisation_id == actor.organisation_id)
        .order_by(NotificationReply.id)))
    return _reply_views(actor, replies, episode.police_org_id)


def replies_for_episode(actor: User, episode: MissingEpisode) -> list[ReplyView]:
    """What schools told the police about an episode, for a reader of the episode (the police and
    the missing team) given it by `hub.missing.service.get_episode`; the content stays in the
    share, for its sender and the force."""
    replies = list(db.session().scalars(select(NotificationReply).where(NotificationReply.episode_id == episode.id)
                                        .order_by(NotificationReply.id.desc())))
    return _reply_views(actor, replies, episode.police_org_id)


# --- "still missing" ---------------------------------------------------------------------------------

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
    again before writing, and a unique index on (episode, person, school day) lets only one of two
    racing inserts commit. It runs its own transactions, so never call it inside a unit of work.
    Returns the episodes reminded.
    """
    from sqlalchemy.exc import IntegrityError

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
        try:
            with unit_of_work():
                reminded += _remind(episode_id, now, today)
        except IntegrityError:
            continue  # another worker reminded this school first: nothing more to do
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
    made = _issue(episode, NotificationKind.still_missing, org.id, where.recipients, group_key,
                  calendar.next_school_day_start(school, now), now)
    for n in made:
        n.school_day = today
    session.flush()  # the unique index answers here if another worker got there first
    return 1
