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
| mace-agenda             | MACE chair or member                 | a group their organisation sits on holds the child |
| share-sent / -received  | any practitioner or MACE member      | their organisation shared, or received (and still holds), information about the child |
| missing-episode         | any practitioner                     | their force holds a missing report on the child |
| episode-authority       | social worker                        | their authority is named on an episode as the home or receiving (where found) authority |
| role:dpo                | the hub's DPO: every child; an organisation's DPO: the children their organisation holds | subject access, always audited |
| role:hub-admin          | administrator                        | role grant (enrolments), always audited        |
| break-glass             | any practitioner                     | an emergency grant with a typed reason, one hour, flagged to the DPO |

Later features add their own relationships here, so that a reader finds every route to a child
in this one file. A school's notification of a missing episode is not a route to the child: the
key adult sees the notification (hub.notifications), which already names the child on its roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, exists, literal, or_, select, union_all

from hub import db
from hub.auth.models import Organisation, User
from hub.auth.roles import OrgKind, Role
from hub.mace.models import MaceAgendaChild, MaceGroup, MaceMembership
from hub.missing.models import MissingEpisode
from hub.db import utcnow
from hub.people.models import AgencyInvolvement, BreakGlassGrant, Child, Enrolment
from hub.sharing.models import RecipientStatus, ShareRecipient, ShareRecord

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
        ("share-received", select(ShareRecord.child_id).join(ShareRecipient).where(
            ShareRecipient.organisation_id == org, ShareRecipient.status != RecipientStatus.revoked,
            ShareRecord.shared.is_(True))),
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
    "mace-agenda": MACE_ROLES,
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
