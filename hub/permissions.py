"""May this user do this to this object? The one module every service asks.

A user reaches a child only through a legitimate relationship, and the answer names it, because
the audit log records the basis of every access:

| basis                   | who                                  | relationship                                  |
|-------------------------|--------------------------------------|-----------------------------------------------|
| enrolment               | DSL or deputy of a school            | the child is on the school's roll now         |
| la-education            | DSL of local authority education     | the child is on the roll of a school in the LA |
| responsible-authority   | social worker                        | their authority is the child's home authority |
| placing-authority       | social worker                        | their authority placed the child              |
| agency-involvement      | any practitioner                     | their organisation holds an open record       |
| mace-member             | anyone named on a MACE group         | a group they are a current named member of holds the child |
| mace-agenda             | (an organisation's DPO only)         | a group their organisation sits on holds the child |
| share-sent / -received  | any practitioner or MACE member      | their organisation shared, or received (and still holds), information about the child |
| missing-episode         | any practitioner                     | their force holds a missing report on the child |
| episode-authority       | social worker                        | their authority is named on an episode as the home or receiving (where found) authority |
| role:dpo                | the hub's DPO: every child; an organisation's DPO: the children their organisation holds | subject access, always audited |
| role:hub-admin          | administrator                        | role grant (enrolments), always audited        |
| break-glass             | any practitioner                     | an emergency grant with a typed reason, one hour, flagged to the DPO |

Later features add their own relationships here, so that a reader finds every route to a child
in this one file. MACE objects (groups, meetings, subjects, intelligence, actions, outcomes) are
reached only through current, named membership of their group: see the MACE block below. A school's notification of a missing episode is not a route to the child: the
key adult sees the notification (hub.notifications), which already names the child on its roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, exists, literal, or_, select, union_all

from hub import db
from hub.auth.models import Organisation, User
from hub.auth.roles import OrgKind, Role
from hub.audit import service as audit
from hub.errors import NotFound
from hub.mace.models import (
    MaceAction, MaceAgendaChild, MaceAgendaItem, MaceGroup, MaceLink, MaceLocation, MaceMeeting, MaceMember,
    MaceMembership, MaceOutcome, MacePerson, MemberRole,
)
from hub.missing.models import MissingEpisode, ProfileRelease
from hub.db import utcnow
from hub.people.models import AgencyInvolvement, BreakGlassGrant, Child, Enrolment
from hub.sharing.models import RecipientStatus, ShareAccess, ShareDraftRecord, ShareRecipient, ShareRecord

SCHOOL_ROLES = {Role.dsl, Role.deputy_dsl}
PRACTITIONER_ROLES = {Role.dsl, Role.deputy_dsl, Role.social_worker, Role.police_officer, Role.health_practitioner}
MACE_ROLES = {Role.mace_chair, Role.mace_member}


@dataclass(frozen=True)
class Access:
    allowed: bool
    basis: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


DENIED = Access(False)


def _organisation_relationships(org: int) -> list[tuple[str, Select]]:
    """Every way an organisation holds a child, as (name, SELECT child_id)."""
    today = date.today()
    la_schools = select(Organisation.id).where(Organisation.local_authority_id == org)
    groups = select(MaceMembership.group_id).where(MaceMembership.organisation_id == org).union(
        select(MaceGroup.id).where(MaceGroup.host_organisation_id == org))
    return [
        ("enrolment", select(Enrolment.child_id).where(Enrolment.school_id == org, Enrolment.end_date.is_(None))),
        ("la-education", select(Enrolment.child_id).where(Enrolment.school_id.in_(la_schools),
                                                          Enrolment.end_date.is_(None))),
        ("responsible-authority", select(Child.id).where(Child.responsible_authority_id == org)),
        ("placing-authority", select(Child.id).where(Child.placing_authority_id == org)),
        ("agency-involvement", select(AgencyInvolvement.child_id).where(
            AgencyInvolvement.organisation_id == org,
            or_(AgencyInvolvement.ended_on.is_(None), AgencyInvolvement.ended_on >= today))),
        ("mace-agenda", select(MaceAgendaChild.child_id).where(MaceAgendaChild.group_id.in_(groups),
                                                               MaceAgendaChild.removed_at.is_(None))),
        ("share-sent", select(ShareRecord.child_id).where(ShareRecord.sender_org_id == org)),
        # MACE intelligence reaches a child's record only through current membership of the group.
        ("share-received", select(ShareRecord.child_id).join(ShareRecipient).where(
            ShareRecipient.organisation_id == org, ShareRecipient.status != RecipientStatus.revoked,
            ShareRecord.shared.is_(True), ShareRecord.mace_group_id.is_(None))),
        ("missing-episode", select(MissingEpisode.child_id).where(MissingEpisode.police_org_id == org)),
        ("episode-authority", select(MissingEpisode.child_id).where(
            or_(MissingEpisode.home_authority_id == org, MissingEpisode.receiving_authority_id == org))),
    ]


# Which roles may use which of their organisation's relationships.
RELATIONSHIP_ROLES = {
    "enrolment": SCHOOL_ROLES,
    "la-education": SCHOOL_ROLES,
    "responsible-authority": {Role.social_worker},
    "placing-authority": {Role.social_worker},
    "agency-involvement": PRACTITIONER_ROLES,
    # An organisation's place on a group gives its people nothing by itself (named membership does:
    # `mace-member` below); it stays in the list as part of an organisation DPO's scope.
    "mace-agenda": set(),
    "share-sent": PRACTITIONER_ROLES | MACE_ROLES,
    "share-received": PRACTITIONER_ROLES | MACE_ROLES,
    "missing-episode": PRACTITIONER_ROLES,
    "episode-authority": {Role.social_worker},
}


def is_hub_dpo(user: User) -> bool:
    """The DPO of the hub's host organisation; other DPOs answer for their own organisation."""
    return Role.dpo in user.roles and user.organisation.kind == OrgKind.mace_host


def _relationship_queries(user: User) -> list[Select]:
    """One SELECT per relationship the user's roles give, each yielding (child_id, basis). An
    organisation's DPO reaches the children their organisation holds, for subject access."""
    roles = user.roles
    org_dpo = Role.dpo in roles and not is_hub_dpo(user)
    queries: list[Select] = []
    for name, query in _organisation_relationships(user.organisation_id):
        if roles & RELATIONSHIP_ROLES[name]:
            queries.append(query.add_columns(literal(name).label("basis")))
        elif org_dpo:
            queries.append(query.add_columns(literal("role:dpo").label("basis")))
    queries.append(
        select(MaceAgendaChild.child_id, literal("mace-member").label("basis"))
        .where(MaceAgendaChild.group_id.in_(member_group_ids(user)), MaceAgendaChild.removed_at.is_(None))
    )
    if roles & (PRACTITIONER_ROLES | MACE_ROLES):
        # Last, so a legitimate relationship is always the basis recorded when there is one.
        queries.append(
            select(BreakGlassGrant.child_id, literal("break-glass").label("basis"))
            .where(BreakGlassGrant.user_id == user.id, BreakGlassGrant.expires_at > utcnow())
        )
    return queries


def organisation_child_ids(org: int) -> Select:
    """The children an organisation holds by any relationship (a DPO's scope)."""
    return select(union_all(*[q for _, q in _organisation_relationships(org)]).subquery().c[0])


def _role_grant(user: User) -> str | None:
    if is_hub_dpo(user):
        return "role:dpo"
    if Role.hub_admin in user.roles:
        return "role:hub-admin"
    return None


def child_access(user: User, child_id: int) -> Access:
    """The first legitimate relationship between the user and the child, or DENIED."""
    if user is None or not user.is_active:
        return DENIED
    exists_child = db.session().scalar(select(exists().where(Child.id == child_id)))
    if not exists_child:
        return DENIED
    for query in _relationship_queries(user):
        child_column, basis_column = query.selected_columns
        basis = db.session().scalar(query.where(child_column == child_id).with_only_columns(basis_column).limit(1))
        if basis:
            return Access(True, basis)
    grant = _role_grant(user)
    return Access(True, grant) if grant else DENIED


def visible_child_ids(user: User) -> Select:
    """A SELECT of the ids of every child the user may see: the tenant scope of every listing."""
    if _role_grant(user):
        return select(Child.id)
    queries = _relationship_queries(user)
    if not queries:
        return select(Child.id).where(literal(False))
    parts = [q.with_only_columns(q.selected_columns[0].label("child_id")) for q in queries]
    return select(union_all(*parts).subquery().c.child_id)


def may_administer(user: User) -> bool:
    return user is not None and user.is_active and Role.hub_admin in user.roles


def child_bases(user: User, child_ids: list[int]) -> dict[int, str]:
    """The basis of access for many children at once (a listing page), in one query."""
    if not child_ids:
        return {}
    grant = _role_grant(user)
    found: dict[int, str] = {}
    queries = _relationship_queries(user)
    if queries:
        parts = [q.where(q.selected_columns[0].in_(child_ids)) for q in queries]
        for child_id, basis in db.session().execute(union_all(*parts)):
            found.setdefault(child_id, basis)
    if grant:
        for child_id in child_ids:
            found.setdefault(child_id, grant)
    return found


# --- MACE: every route to a group's objects is current, named membership ----------------------

#: Who may change a group's membership: its current chair or co-chair (and hub administrators).
MACE_CHAIR_ROLES = {MemberRole.chair, MemberRole.co_chair}


def _current(day: date):
    return (MaceMember.start_date <= day) & (MaceMember.end_date.is_(None) | (MaceMember.end_date > day))


def member_group_ids(user: User, day: date | None = None) -> Select:
    """The groups the user is a current named member of, as a SELECT of ids."""
    return select(MaceMember.group_id).where(MaceMember.user_id == user.id, _current(day or date.today()))


def mace_membership(user: User | None, group_id: int | None, day: date | None = None) -> MaceMember | None:
    """The user's current membership of the group (the chair's included), or None."""
    if user is None or group_id is None or not user.is_active:
        return None
    return db.session().scalar(select(MaceMember).where(
        MaceMember.user_id == user.id, MaceMember.group_id == group_id, _current(day or date.today()))
        .order_by(MaceMember.id).limit(1))


def is_mace_chair(user: User | None, group_id: int) -> bool:
    member = mace_membership(user, group_id)
    return member is not None and member.role in MACE_CHAIR_ROLES


def may_manage_mace_membership(user: User | None, group_id: int) -> bool:
    return may_administer(user) or is_mace_chair(user, group_id)


def _group_of(obj) -> int | None:
    """The MACE group an object belongs to."""
    if isinstance(obj, MaceGroup):
        return obj.id
    if isinstance(obj, ShareRecord):
        return obj.mace_group_id
    if isinstance(obj, (MaceAgendaItem, MaceOutcome)):
        return db.session().scalar(select(MaceMeeting.group_id).where(MaceMeeting.id == obj.meeting_id))
    return getattr(obj, "group_id", None)


MACE_OBJECT_TYPES = {
    MaceGroup: "mace-group", MaceMeeting: "mace-meeting", MaceLocation: "mace-location", MacePerson: "mace-person",
    MaceAction: "mace-action", MaceAgendaItem: "mace-agenda-item", MaceOutcome: "mace-outcome",
    MaceLink: "mace-link", ShareRecord: "mace-intelligence",
}


def load_mace_object(user: User, model, object_id, *, action: str = "read", chair: bool = False):
    """The one load-or-refuse helper of MACE: the object and the user's current membership of its
    group, or (not found, not a MACE object, not a current member, or not the chair when `chair`)
    the refusal audited in its own transaction and a 404, the same for all of these."""
    obj = db.session().get(model, object_id) if isinstance(object_id, int) else None
    group_id = _group_of(obj) if obj is not None else None
    member = mace_membership(user, group_id)
    allowed = member is not None and (not chair or member.role in MACE_CHAIR_ROLES)
    if chair and not allowed and group_id is not None and may_administer(user) and isinstance(obj, MaceGroup):
        allowed = True  # administrators manage any group's membership, as members or not
    if not allowed:
        child_id = getattr(obj, "child_id", None) if obj is not None else None
        audit.record_refusal(user, MACE_OBJECT_TYPES.get(model, "mace"), object_id, child_id, action=action)
        raise NotFound("MACE record not found")
    return obj, member


def share_visible(user: User):
    """The clause "the user may see this share record": their organisation sent it, or received it
    and was not revoked from (the share_access rows); and MACE intelligence only to the sender's
    organisation and the group's current named members."""
    # Correlated, so each candidate share is one primary-key probe (not a scan of every share the
    # organisation may see, which an IN over a subquery becomes).
    org_access = select(ShareAccess.share_id).where(ShareAccess.share_id == ShareRecord.id,
                                                    ShareAccess.organisation_id == user.organisation_id).exists()
    return org_access & or_(ShareRecord.mace_group_id.is_(None), ShareRecord.sender_org_id == user.organisation_id,
                            ShareRecord.mace_group_id.in_(member_group_ids(user)))


def may_record_mace_outcome(member: MaceMember | None, organisation_id: int) -> bool:
    """Only a current named member representing the agency records (and confirms) its outcome."""
    return member is not None and member.organisation_id == organisation_id


def mace_agency_sees(member: MaceMember | None, organisation_id: int) -> bool:
    """An agency's own updates and outcomes are seen by its own representatives (exports, outcome
    text): other agencies see only whether an outcome was confirmed."""
    return member is not None and member.organisation_id == organisation_id


def mace_group_holds_child(group_id: int, child_id: int | None) -> bool:
    """The group holds the child (brought onto an agenda and not removed)."""
    return child_id is not None and bool(db.session().scalar(select(MaceAgendaChild.id).where(
        MaceAgendaChild.group_id == group_id, MaceAgendaChild.child_id == child_id,
        MaceAgendaChild.removed_at.is_(None)).limit(1)))


def mace_child_access(user: User, group_id: int, child_id: int) -> Access:
    """A current member may name a child in the group's subjects (links, intelligence, network)
    when the group holds the child, or the member may see the child anyway."""
    if mace_membership(user, group_id) is None:
        return DENIED
    return Access(True, "mace-member") if mace_group_holds_child(group_id, child_id) else child_access(user, child_id)


def mace_intelligence_access(user: User, group_id: int, child_id: int | None) -> Access:
    """Sharing intelligence into a MACE group: current named membership (not a role), and for an
    item about one child, that child reachable through the group (mace_child_access)."""
    if child_id is None:
        return Access(True, "mace-member") if mace_membership(user, group_id) is not None else DENIED
    return mace_child_access(user, group_id, child_id)


def mace_intelligence_recipients_ok(group_id: int, organisation_ids: list[int]) -> bool:
    """MACE intelligence goes only to the group's member organisations."""
    members = set(db.session().scalars(select(MaceMembership.organisation_id).where(
        MaceMembership.group_id == group_id)))
    return set(organisation_ids) <= members


def mace_agenda_child_access(user: User, group_id: int, child_id: int) -> Access:
    """May the chair bring the child onto the group's agenda: as mace_child_access, for the chair."""
    return mace_child_access(user, group_id, child_id) if is_mace_chair(user, group_id) else DENIED


# --- Share drafts: a half-written share is its author's alone --------------------------------


def load_share_draft(user: User, draft_id, child_id: int) -> ShareDraftRecord:
    """The user's own draft share about the child, or (no such draft, another user's, or about
    another child) the refusal audited in its own transaction and a 404, the same for all of these:
    a draft holds what its author has not yet decided to share, so no one else opens it, not even
    a DPO or an administrator."""
    draft = db.session().get(ShareDraftRecord, draft_id) if isinstance(draft_id, str) and draft_id else None
    if draft is None or user is None or not user.is_active or draft.user_id != user.id or draft.child_id != child_id:
        audit.record_refusal(user, "share-draft", None, child_id)
        raise NotFound("draft not found")
    return draft


# --- the Philomena protocol profile -------------------------------------------------------------

def may_keep_philomena_profile(user: User, child: Child) -> bool:
    """Carers and the authority keep the profile: in the hub, social workers of the child's placing
    or home authority as they are now (the profile is keyed to the child, so it moves with them)."""
    return user is not None and user.is_active and Role.social_worker in user.roles and (
        user.organisation_id in {child.placing_authority_id, child.responsible_authority_id} - {None})


def philomena_released_to(user: User, child_id: int) -> bool:
    """The child's profile was released to the user's organisation (a share they still hold)."""
    released = (select(ProfileRelease.id).join(ShareRecord, ShareRecord.id == ProfileRelease.share_id)
                .where(ShareRecord.child_id == child_id, share_visible(user)).limit(1))
    return bool(db.session().scalar(released))
