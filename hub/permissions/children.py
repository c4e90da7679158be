"""May this user see this child? Every route to a child's record, as one row of a table of queries.

A user reaches a child only through a legitimate relationship, and the answer names it, because
the audit log records the basis of every access (the table is in `hub/permissions/__init__.py`).
A detail page asks `child_access` (the relationships filtered to one child), a list asks
`visible_child_ids` or `child_bases` (the same relationships, for many): one definition, so a list
can never show a child its row would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, case, exists, literal, or_, select, union_all

from hub import db
from hub.db import utcnow
from hub.models.auth import Organisation, User
from hub.models.mace import MaceAgendaChild, MaceGroup, MaceMembership
from hub.models.missing import MissingEpisode
from hub.models.people import AgencyInvolvement, BreakGlassGrant, Child, ChildHolder, Enrolment
from hub.models.roles import Role
from hub.models.sharing import RecipientStatus, ShareRecipient, ShareRecord
from hub.permissions.cache import cache_for_reading
from hub.permissions.membership import member_group_ids
from hub.permissions.roles import (
    MACE_ROLES,
    PRACTITIONER_ROLES,
    SCHOOL_ROLES,
    SHARING_ROLES,
    active,
    aggregate_only,
    is_dpo,
    is_hub_dpo,
    may_administer,
)


@dataclass(frozen=True)
class Access:
    allowed: bool
    basis: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


DENIED = Access(False)


def is_object_id(value) -> bool:
    """An id as the routes give it: an integer, and not True or False (which Python counts as 1
    and 0, so the database would find record 1 for True)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _organisation_relationships(org: int) -> list[tuple[str, Select]]:
    """Every way an organisation holds a child, as (name, SELECT child_id). MACE intelligence is
    never one of them: a share into a group is reached through the group's current membership
    only, by sender and recipient organisations alike."""
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
        ("share-sent", select(ShareRecord.child_id).where(ShareRecord.sender_org_id == org,
                                                          ShareRecord.mace_group_id.is_(None))),
        # A decision not to share never reaches its would-be recipients. Asked per child (see
        # PER_RECORD): the child's shares, each one probe of the recipient index, never the
        # organisation's every received share for each child.
        ("share-received", select(ShareRecord.child_id).where(
            ShareRecord.shared.is_(True), ShareRecord.mace_group_id.is_(None),
            exists().where(ShareRecipient.share_id == ShareRecord.id, ShareRecipient.organisation_id == org,
                           ShareRecipient.status != RecipientStatus.revoked))),
        ("missing-episode", select(MissingEpisode.child_id).where(MissingEpisode.police_org_id == org)),
        ("episode-authority", select(MissingEpisode.child_id).where(
            or_(MissingEpisode.home_authority_id == org, MissingEpisode.receiving_authority_id == org))),
    ]


def organisations_holding(child_ids: list[int]) -> Select:
    """The relationships of `_organisation_relationships` turned round: for these children, every
    (child_id, organisation_id) in which the organisation holds the child, now. The audit
    integrator asks it for the children of the events it sequences (an organisation DPO's scope,
    hub.permissions.dpo); a test holds the two in step for every organisation."""
    today = date.today()
    school = Organisation.__table__.alias("school")
    current = Enrolment.end_date.is_(None)
    on_agenda = MaceAgendaChild.removed_at.is_(None)
    holders = [
        select(Enrolment.child_id, Enrolment.school_id).where(current),
        select(Enrolment.child_id, school.c.local_authority_id)
        .join(school, school.c.id == Enrolment.school_id).where(current),
        select(Child.id, Child.responsible_authority_id),
        select(Child.id, Child.placing_authority_id),
        select(AgencyInvolvement.child_id, AgencyInvolvement.organisation_id).where(
            or_(AgencyInvolvement.ended_on.is_(None), AgencyInvolvement.ended_on >= today)),
        select(MaceAgendaChild.child_id, MaceMembership.organisation_id)
        .join(MaceMembership, MaceMembership.group_id == MaceAgendaChild.group_id).where(on_agenda),
        select(MaceAgendaChild.child_id, MaceGroup.host_organisation_id)
        .join(MaceGroup, MaceGroup.id == MaceAgendaChild.group_id).where(on_agenda),
        select(ShareRecord.child_id, ShareRecord.sender_org_id).where(ShareRecord.mace_group_id.is_(None)),
        select(ShareRecord.child_id, ShareRecipient.organisation_id).join(ShareRecipient).where(
            ShareRecipient.status != RecipientStatus.revoked, ShareRecord.shared.is_(True),
            ShareRecord.mace_group_id.is_(None)),
        select(MissingEpisode.child_id, MissingEpisode.police_org_id),
        select(MissingEpisode.child_id, MissingEpisode.home_authority_id),
        select(MissingEpisode.child_id, MissingEpisode.receiving_authority_id),
    ]
    rows = union_all(*[q.where(q.selected_columns[0].in_(child_ids), q.selected_columns[1].is_not(None))
                       for q in holders]).subquery()
    return select(rows.c[0].label("child_id"), rows.c[1].label("organisation_id")).distinct()


#: Which roles may use which of their organisation's relationships.
RELATIONSHIP_ROLES: dict[str, frozenset[Role]] = {
    "enrolment": SCHOOL_ROLES,
    "la-education": SCHOOL_ROLES,
    "responsible-authority": frozenset({Role.social_worker}),
    "placing-authority": frozenset({Role.social_worker}),
    "agency-involvement": PRACTITIONER_ROLES,
    # An organisation's place on a group gives its people nothing by itself (named membership does:
    # `mace-member` below); it stays in the list as part of an organisation DPO's scope.
    "mace-agenda": frozenset(),
    "share-sent": PRACTITIONER_ROLES | MACE_ROLES,
    "share-received": PRACTITIONER_ROLES | MACE_ROLES,
    "missing-episode": PRACTITIONER_ROLES,
    "episode-authority": frozenset({Role.social_worker}),
}


def _relationship_queries(user: User) -> list[tuple[str, Select]]:
    """One (relationship, SELECT) per relationship the user's roles give, each SELECT yielding
    (child_id, basis). An organisation's DPO reaches the children their organisation holds, for
    subject access."""
    if aggregate_only(user):
        return []  # an analyst reaches no child by any route, MACE membership included
    roles = user.roles
    org_dpo = is_dpo(user) and not is_hub_dpo(user)
    queries: list[tuple[str, Select]] = []
    for name, query in _organisation_relationships(user.organisation_id):
        if roles & RELATIONSHIP_ROLES[name]:
            queries.append((name, query.add_columns(literal(name).label("basis"))))
        elif org_dpo:
            queries.append((name, query.add_columns(literal("role:dpo").label("basis"))))
    queries.append(("mace-member",
                    select(MaceAgendaChild.child_id, literal("mace-member").label("basis"))
                    .where(MaceAgendaChild.group_id.in_(member_group_ids(user)), MaceAgendaChild.removed_at.is_(None))))
    if roles & SHARING_ROLES:
        # Last, so a legitimate relationship is always the basis recorded when there is one.
        queries.append(("break-glass",
                        select(BreakGlassGrant.child_id, literal("break-glass").label("basis"))
                        .where(BreakGlassGrant.user_id == user.id, BreakGlassGrant.expires_at > utcnow())))
    return queries


#: The relationships of which an organisation may hold many per child (every share, every
#: episode). Their union would grow with the organisation's records, so a reach asks them only
#: for the children the organisation has held (`ChildHolder`), each one probe of its index.
PER_RECORD = frozenset({"share-sent", "share-received", "missing-episode", "episode-authority"})


def _child_ids(org: int, relationships: list[tuple[str, Select]]) -> Select:
    """The ids of the children reached by any of these relationships of the organisation: one
    union, its per-record part bounded by the children the organisation has held."""
    bounded = [q.with_only_columns(q.selected_columns[0].label("child_id"))
               for name, q in relationships if name not in PER_RECORD]
    per_record = [q for name, q in relationships if name in PER_RECORD]
    if per_record:
        bounded.append(select(ChildHolder.child_id.label("child_id")).where(
            ChildHolder.organisation_id == org,
            or_(*[q.where(q.selected_columns[0] == ChildHolder.child_id).exists() for q in per_record])))
    return select(union_all(*bounded).subquery().c.child_id)


def organisation_child_ids(org: int) -> Select:
    """The children an organisation holds by any relationship (an organisation DPO's scope)."""
    return _child_ids(org, _organisation_relationships(org))


def _role_grant(user: User) -> str | None:
    if is_hub_dpo(user):
        return "role:dpo"
    if may_administer(user):
        return "role:hub-admin"
    return None


def child_access(user: User | None, child_id: int) -> Access:
    """The first legitimate relationship between the user and the child, or DENIED; once per
    request for each (user, child)."""
    if not active(user) or not is_object_id(child_id):
        return DENIED
    cache = cache_for_reading()
    if cache is not None and (user.id, child_id) in cache:
        return cache[(user.id, child_id)]
    access = _child_access(user, child_id)
    if cache is not None:
        cache[(user.id, child_id)] = access
    return access


def _ranked(user: User, child_ids: list[int]):
    """One statement giving, for each of these children, the place (rank) in
    `_relationship_queries` of the first relationship the user has with it, or NULL for none, and
    the basis of each rank; None when the user's roles give no relationship."""
    queries = [q for _, q in _relationship_queries(user)]
    if not queries:
        return None
    names = [q.selected_columns[1].element.value for q in queries]
    # Per child, the relationships in order, each whether one row exists, stopping at the first
    # that does (CASE tries its conditions in turn): a school that received 2,000 shares about a
    # child is one probe, and an authority's own child never has its 2,000 shares asked about.
    wanted = Child.__table__.alias("wanted")
    rank = case(*[(q.where(q.selected_columns[0] == wanted.c.id).exists(), literal(n))
                  for n, q in enumerate(queries)], else_=literal(None))
    return select(wanted.c.id, rank.label("rank")).where(wanted.c.id.in_(child_ids)), names


def _child_access(user: User, child_id: int) -> Access:
    """One statement: every relationship asked in order, the first that holds wins. A child that
    does not exist has no relationship; only a role grant needs the existence check."""
    ranked = _ranked(user, [child_id])
    if ranked is not None:
        statement, names = ranked
        row = db.session().execute(statement).one_or_none()  # no row: no such child
        if row is not None and row.rank is not None:
            return Access(True, names[row.rank])
    grant = _role_grant(user)
    if grant and db.session().scalar(select(exists().where(Child.id == child_id))):
        return Access(True, grant)
    return DENIED


def visible_child_ids(user: User | None) -> Select:
    """A SELECT of the ids of every child the user may see: the tenant scope of every listing."""
    if not active(user):
        return select(Child.id).where(literal(False))
    if _role_grant(user):
        return select(Child.id)
    queries = _relationship_queries(user)
    if not queries:
        return select(Child.id).where(literal(False))
    return _child_ids(user.organisation_id, queries)


def child_visible(user: User | None, child_id_column):
    """The clause "the user may see the child in this column", for a list of rows of another
    table (episodes, consents): the column within the user's reach (`visible_child_ids`). One such
    row's page asks `child_access` for its child instead: the same relationships, for one child."""
    return child_id_column.in_(visible_child_ids(user))


def child_bases(user: User | None, child_ids: list[int]) -> dict[int, str]:
    """The basis of access for many children at once (a listing page), in one query for those
    this request has not asked about yet; the same basis `child_access` gives."""
    if not child_ids or not active(user):
        return {}
    cache = cache_for_reading()
    found: dict[int, str] = {}
    wanted: list[int] = []
    for child_id in dict.fromkeys(child_ids):
        known = cache.get((user.id, child_id)) if cache is not None else None
        if known is None:
            wanted.append(child_id)
        elif known:
            found[child_id] = known.basis
    if not wanted:
        return found
    best = _first_relationships(user, wanted)
    grant = _role_grant(user)
    if grant:
        existing = set(db.session().scalars(select(Child.id).where(Child.id.in_(wanted))))
    for child_id in wanted:
        if child_id in best:
            found[child_id] = best[child_id]
            if cache is not None:
                cache[(user.id, child_id)] = Access(True, found[child_id])
        elif grant and child_id in existing:
            found[child_id] = grant
            if cache is not None:
                cache[(user.id, child_id)] = Access(True, grant)
        elif cache is not None:
            cache[(user.id, child_id)] = DENIED
    return found


def _first_relationships(user: User, child_ids: list[int]) -> dict[int, str]:
    """The basis of the first relationship with each of these children that has one: one row per
    child (a child with 1,000 shares sent is one row, not 1,000 carried back to be thrown away)."""
    ranked = _ranked(user, child_ids)
    if ranked is None:
        return {}
    statement, names = ranked
    return {child_id: names[rank] for child_id, rank in db.session().execute(statement) if rank is not None}
