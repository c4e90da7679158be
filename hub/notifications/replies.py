"""Replies to the police (two-way): from its notification a key adult tells the force that holds
the report that the child is at school now, or passes on what may help find them. Each reply is a
share record made by the sharing service (its rules for legal basis, consent position, source and
recipients apply unchanged), plus a small notification_reply row that ties the share to the
episode; the force's officers are e-mailed at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import defer

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, NotificationReply, ReplyKind
from hub.models.roles import OrgKind
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.notifications import calendar, outbox, service
from hub.notifications.inbox import acknowledge_group, load_own
from hub.notifications.routing import users_with
from hub.permissions import (
    POLICE_ROLES,
    child_access,
    is_designated_lead,
    may_authorise_sharing,
    may_read_reply_content,
)
from hub.sharing import legal_bases
from hub.sharing import service as sharing

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
    n = load_own(actor, notification_id, "share")
    episode = db.session().get(MissingEpisode, n.episode_id)
    if episode.found_at is not None:
        raise Invalid({"": "The child has been found, so this missing report is closed and replies are no longer "
                           "taken here. To share a concern, use the share form from the child's page."})
    return n, episode


def _reply(actor: User, n: Notification, episode: MissingEpisode, kind: ReplyKind, *, seen_at: datetime | None,
           summary: str, content: str, authorised_by_user_id: int | None) -> NotificationReply:
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
        acknowledged = acknowledge_group(actor, n, reply.created_at)
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
    officers = users_with(episode.police_org_id, POLICE_ROLES)
    link = f"{service.base_url()}/missing/{episode.id}"
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
    the missing team) given it by `hub.missing.reading.get_episode`; the content stays in the
    share, for its sender and the force."""
    replies = list(db.session().scalars(select(NotificationReply).where(NotificationReply.episode_id == episode.id)
                                        .order_by(NotificationReply.id.desc())))
    return _reply_views(actor, replies, episode.police_org_id)
