"""School notifications, Operation Encompass style: who is told, by when, and what they did.

`notify_episode` runs inside the unit of work that recorded the change to the episode: the
notifications, their outbox e-mails and the audit events commit with it or not at all. A
notification is a small state machine per school (the copies of one message to one school share
a `group_key`):

    waiting --open--> opened --acknowledge--> acknowledged
       \\____________ deadline passed, not acknowledged ____________> escalated (still waiting)

Escalation (`escalate_due`, run by the delivery worker's loop or `notifications escalate`) adds
copies for the authority's education safeguarding contact and reminds the deputies; any one
acknowledgement answers for the school.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from hub import db
from hub.audit import service as audit
from hub.audit.service import Entry
from hub.auth.models import Organisation, User, UserRole
from hub.auth.roles import OrgKind, Role
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid, NotFound
from hub.missing.models import MissingEpisode
from hub.notifications import calendar
from hub.notifications.models import Notification, NotificationKind, OutboxMessage, RecipientReason
from hub.people.models import Child, Enrolment

KEY_ADULT_ROLES = {Role.dsl, Role.deputy_dsl}
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


@dataclass(frozen=True)
class Route:
    """Where one episode's notifications go: the organisation and its people."""

    organisation: Organisation
    recipients: list[tuple[User, RecipientReason]]


# --- routing -------------------------------------------------------------------------------------

def _users_with(org_id: int, roles: set[Role]) -> list[User]:
    return list(db.session().scalars(
        select(User).where(User.organisation_id == org_id, User.active.is_(True),
                           exists().where(UserRole.user_id == User.id, UserRole.role.in_(list(roles))))
        .order_by(User.id)))


def current_school(child_id: int, on: date | None = None) -> Organisation | None:
    """The school where the child is enrolled now (the latest enrolment that has not ended)."""
    on = on or date.today()
    return db.session().scalar(
        select(Organisation).join(Enrolment, Enrolment.school_id == Organisation.id)
        .where(Enrolment.child_id == child_id, Enrolment.start_date <= on,
               (Enrolment.end_date.is_(None)) | (Enrolment.end_date >= on))
        .order_by(Enrolment.start_date.desc(), Enrolment.id.desc()).limit(1))


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


def route(child: Child) -> Route | None:
    """The school's key adults (DSL and deputies); else the authority's education safeguarding
    contact. None when nobody can be told (the missing team sees that on the episode)."""
    school = current_school(child.id)
    if school is not None and school.active:
        adults = _users_with(school.id, KEY_ADULT_ROLES)
        if adults:
            return Route(school, [(u, RecipientReason.key_adult) for u in adults])
    contact_org = education_contact_org(child, school)
    if contact_org is not None:
        contacts = _users_with(contact_org.id, {Role.dsl})
        if contacts:
            return Route(contact_org, [(u, RecipientReason.la_contact) for u in contacts])
    return None


# --- creating -------------------------------------------------------------------------------------

def notify_episode(episode: MissingEpisode, kind: str | NotificationKind,
                   now: datetime | None = None) -> list[Notification]:
    """Within the caller's unit of work: one notification per key adult, and one e-mail each."""
    kind = NotificationKind(kind)
    now = now or utcnow()
    child = db.session().get(Child, episode.child_id)
    where = route(child)
    if where is None:
        audit.record("notify", object_type="missing-episode", object_id=episode.id, child_id=episode.child_id,
                     outcome="failed", detail={"kind": kind.value, "reason": "no key adult or education contact"})
        return []
    deadline = calendar.next_school_day_start(where.organisation if where.organisation.kind == OrgKind.school
                                              else None, now)
    sequence = db.session().scalar(select(Notification.id).where(
        Notification.episode_id == episode.id, Notification.kind == kind).order_by(Notification.id.desc()).limit(1))
    group_key = f"{episode.id}:{kind.value}:{where.organisation.id}:{sequence or 0}"
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
    base = _settings["base_url"]
    session.add_all([OutboxMessage(to_address=user.email, subject=EMAIL_SUBJECT,
                                   body=EMAIL_BODY.format(link=f"{base}/notifications/{n.id}"),
                                   notification_id=n.id, next_attempt_at=now)
                     for n, (user, _reason) in zip(made, recipients)])
    audit.record_many(None, [Entry("notify", object_type="notification", object_id=n.id, child_id=episode.child_id,
                                   detail={"kind": kind.value, "to_user": n.user_id, "reason": n.reason.value})
                             for n in made])
    return made


# --- the key adult's side --------------------------------------------------------------------------

def _own(actor: User, notification_id: int, action: str) -> Notification:
    """A notification addressed to the actor, or one of their organisation's copies when they are
    a key adult there. Anyone else gets the same 404 as for a notification that does not exist."""
    n = db.session().get(Notification, notification_id)
    mine = n is not None and (n.user_id == actor.id or (
        n.organisation_id == actor.organisation_id and actor.roles & (KEY_ADULT_ROLES | {Role.dsl})))
    if not mine:
        audit.record_refusal(actor, "notification", notification_id, action=action)
        raise NotFound("notification not found")
    return n


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
    now = utcnow()
    with unit_of_work() as s:
        s.execute(update(Notification).where(Notification.group_key == n.group_key,
                                             Notification.acknowledged_at.is_(None))
                  .values(acknowledged_at=now, acknowledged_by_user_id=actor.id),
                  execution_options={"synchronize_session": "fetch"})
        n.school_action = action
        if n.opened_at is None:
            n.opened_at = now
        audit.record("update", actor=actor, object_type="notification", object_id=n.id, child_id=_child_id(n),
                     basis="notification-recipient",
                     detail={"change": "acknowledged", "group": n.group_key, "action_recorded": bool(action)})
    return n


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
        .where(Notification.user_id == actor.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()
    items = [InboxItem(n, c, e, p, n.acknowledged_at is None and n.deadline_at <= now) for n, c, e, p in rows]
    if items:
        with unit_of_work():
            audit.record_many(actor, [Entry("read", object_type="child", object_id=c, child_id=c,
                                            basis="notification-recipient", purpose="inbox")
                                      for c in sorted({i.child.id for i in items})])
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


def status_for_episode(actor: User, episode_id: int, now: datetime | None = None) -> list[GroupStatus]:
    """Who was told about an episode and what they did, for a reader of the episode."""
    from hub.missing import service as missing

    missing.get_episode(actor, episode_id)  # the permission check, audited as a read of the episode
    now = now or utcnow()
    groups: dict[str, list[Notification]] = {}
    for n in for_episode(episode_id):
        groups.setdefault(n.group_key, []).append(n)
    result = []
    for copies in groups.values():
        acked = next((n for n in copies if n.acknowledged_at is not None), None)
        with_action = next((n for n in copies if n.school_action), None)
        first = copies[0]
        result.append(GroupStatus(
            organisation=db.session().get(Organisation, first.organisation_id), kind=first.kind,
            sent_at=first.created_at, deadline_at=first.deadline_at, copies=len(copies),
            opened=sum(1 for n in copies if n.opened_at), acknowledged_at=acked.acknowledged_at if acked else None,
            acknowledged_by=acknowledged_by(acked) if acked else None,
            school_action=with_action.school_action if with_action else None,
            escalated_at=first.escalated_at, overdue=acked is None and first.deadline_at <= now))
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
        recipients += [(u, RecipientReason.escalation) for u in _users_with(org.id, {Role.deputy_dsl})]
        contact_org = education_contact_org(child, org)
    else:
        contact_org = None
    if contact_org is not None:
        recipients += [(u, RecipientReason.escalation) for u in _users_with(contact_org.id, {Role.dsl})]
    # The next deadline is the following school day: a second escalation is the missing team's call.
    deadline = calendar.next_school_day_start(org if org.kind == OrgKind.school else None, now)
    if recipients:
        _issue(episode, first.kind, first.organisation_id, recipients, group_key, deadline, now)
    audit.record("escalate", object_type="notification", object_id=first.id, child_id=child.id,
                 detail={"group": group_key, "copies": len(recipients)})
