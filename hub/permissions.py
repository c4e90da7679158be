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
from itertools import chain

from flask import g, has_request_context, request
from sqlalchemy import ColumnElement, Select, event, exists, func, literal, or_, select, true, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from hub import db
from hub.auth.models import Organisation, User, UserRole
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
    if aggregate_only(user):
        return []  # an analyst reaches no child by any route, MACE membership included
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


# --- the per-request access cache ---------------------------------------------------------------
# A page asks "may this user see this child" from several services (the record, its chronology,
# consents, episodes, the menu's counts); each request answers it once per (user, child). Any
# write to a table a relationship query reads (through a flush, an ORM bulk statement or Core),
# any such change still pending in the session, and any rollback empty the cache, so no service
# has to remember to. Outside a request (commands, the delivery worker, tests calling services)
# nothing is cached: a long-running process must see what other processes change.

#: Every table `_relationship_queries` and `_organisation_relationships` read, and the user's own
#: rows (organisation, roles, active) that decide which of them apply.
_RELATIONSHIP_MODELS = (
    Enrolment, Organisation, Child, AgencyInvolvement, BreakGlassGrant, MaceMembership, MaceGroup, MaceAgendaChild,
    MaceMember, ShareRecord, ShareRecipient, ShareAccess, MissingEpisode, User, UserRole,
)
_RELATIONSHIP_TABLES = frozenset(model.__table__ for model in _RELATIONSHIP_MODELS)


def _request_cache() -> dict | None:
    """This request's answers, or None outside a request. Kept on `g` with the request it belongs
    to: an application context held across requests (a test's, a shell's) must not carry
    answers from one request into the next."""
    if not has_request_context():
        return None
    current = request._get_current_object()
    store = g.get("hub_access_cache")
    if store is None or store[0] is not current:
        store = g.hub_access_cache = (current, {})
    return store[1]


def forget_access() -> None:
    """Empty this request's cache: a relationship may have changed."""
    if has_request_context() and "hub_access_cache" in g:
        g.hub_access_cache[1].clear()


def _cache_for_reading() -> dict | None:
    """The cache, emptied first when the session holds an unflushed change to a relationship:
    the next query would autoflush it, but a cached answer runs no query."""
    cache = _request_cache()
    if cache:
        session = db.session()
        if any(type(obj).__table__ in _RELATIONSHIP_TABLES
               for obj in chain(session.new, session.dirty, session.deleted)):
            cache.clear()
    return cache


@event.listens_for(Engine, "before_execute")
def _forget_on_relationship_write(_conn, clauseelement, *_args) -> None:
    # Flushes, ORM bulk statements and Core statements all pass through here.
    if isinstance(clauseelement, UpdateBase) and clauseelement.table in _RELATIONSHIP_TABLES:
        forget_access()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(_session, _previous_transaction) -> None:
    # An answer worked out inside a transaction that rolled back may rest on rows that are gone.
    forget_access()


def child_access(user: User, child_id: int) -> Access:
    """The first legitimate relationship between the user and the child, or DENIED; once per
    request for each (user, child)."""
    if user is None or not user.is_active:
        return DENIED
    cache = _cache_for_reading()
    if cache is not None and (user.id, child_id) in cache:
        return cache[(user.id, child_id)]
    access = _child_access(user, child_id)
    if cache is not None:
        cache[(user.id, child_id)] = access
    return access


def _ranked(user: User, child_ids: list[int]):
    """One statement for every relationship to these children, (child_id, basis, rank), rank being
    the relationship's place in `_relationship_queries` (the first one is the basis), and the basis
    of each rank; None when the user's roles give no relationship."""
    queries = _relationship_queries(user)
    if not queries:
        return None
    names = [q.selected_columns[1].element.value for q in queries]
    return union_all(*[q.where(q.selected_columns[0].in_(child_ids)).add_columns(literal(rank).label("rank"))
                       for rank, q in enumerate(queries)]), names


def _child_access(user: User, child_id: int) -> Access:
    """One statement: every relationship queried at once, the first in order wins. A child that
    does not exist has no relationship; only a role grant needs the existence check."""
    ranked = _ranked(user, [child_id])
    if ranked is not None:
        rows = ranked[0].subquery()
        basis = db.session().scalar(select(rows.c.basis).order_by(rows.c.rank).limit(1))
        if basis:
            return Access(True, basis)
    grant = _role_grant(user)
    if grant and db.session().scalar(select(exists().where(Child.id == child_id))):
        return Access(True, grant)
    return DENIED


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
    """The basis of access for many children at once (a listing page), in one query for those
    this request has not asked about yet; the same basis `child_access` gives."""
    if not child_ids:
        return {}
    cache = _cache_for_reading()
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
    best: dict[int, str] = {}
    ranked = _ranked(user, wanted)
    if ranked is not None:
        # One row per child, its first relationship: a child with 1,000 shares sent is one row,
        # not 1,000 carried back to be thrown away.
        rows, names = ranked[0].subquery(), ranked[1]
        for child_id, rank in db.session().execute(select(rows.c[0], func.min(rows.c.rank)).group_by(rows.c[0])):
            best[child_id] = names[rank]
    grant = _role_grant(user)
    for child_id in wanted:
        if child_id in best:
            found[child_id] = best[child_id]
            if cache is not None:
                cache[(user.id, child_id)] = Access(True, found[child_id])
        elif grant:
            found[child_id] = grant  # not cached: child_access also checks that the child exists
        elif cache is not None:
            cache[(user.id, child_id)] = DENIED
    return found


# --- MACE: every route to a group's objects is current, named membership ----------------------

#: Who may change a group's membership: its current chair or co-chair (and hub administrators).
MACE_CHAIR_ROLES = {MemberRole.chair, MemberRole.co_chair}


def _current(day: date):
    return (MaceMember.start_date <= day) & (MaceMember.end_date.is_(None) | (MaceMember.end_date > day))


def member_group_ids(user: User, day: date | None = None) -> Select:
    """The groups the user is a current named member of, as a SELECT of ids."""
    return select(MaceMember.group_id).where(MaceMember.user_id == user.id, _current(day or date.today()))


def sits_on_a_mace_group(user: User) -> bool:
    """Whether the user is a current named member of any group today. The menu and the home
    page's counts both ask on every page, so the answer is kept for the request (the access
    cache, emptied like it when a membership changes)."""
    cache = _cache_for_reading()
    key = ("mace-member", user.id)
    if cache is not None and key in cache:
        return cache[key]
    answer = bool(db.session().scalar(select(exists(member_group_ids(user)))))
    if cache is not None:
        cache[key] = answer
    return answer


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


def share_visible(user: User, share=ShareRecord):
    """The clause "the user may see this share record": their organisation sent it, or received it
    and was not revoked from (the share_access rows); and MACE intelligence only to the sender's
    organisation and the group's current named members. `share`: ShareRecord or an alias of it
    (a page asking about a second share beside each row, e.g. its correction)."""
    # Correlated, so each candidate share is one primary-key probe (not a scan of every share the
    # organisation may see, which an IN over a subquery becomes).
    org_access = select(ShareAccess.share_id).where(ShareAccess.share_id == share.id,
                                                    ShareAccess.organisation_id == user.organisation_id).exists()
    return org_access & or_(share.mace_group_id.is_(None), share.sender_org_id == user.organisation_id,
                            share.mace_group_id.in_(member_group_ids(user)))


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


# --- Returns: the statutory returns an authority makes about its own children ----------------
# The SSD `ssd_missing` table and the SSDA903 missing file name each child by the authority's own
# identifier, so only the authority's children's social care staff export them, and only for
# the authority's own children. An analyst (aggregate figures, never a child), a school, the
# police and DPOs are refused. The data-quality page's links (hub.reports.quality) are checked
# here too: a link to a record is shown only to someone who may change it.

#: The missing team works in the hub as social workers (Role.social_worker's label says so).
RETURN_ROLES = {Role.social_worker}


def may_export_returns(user: User | None) -> bool:
    """Children's social care staff of a local authority; never an analyst, whatever else they hold."""
    return (user is not None and user.is_active and bool(user.roles & RETURN_ROLES)
            and user.organisation.kind == OrgKind.childrens_social_care
            and Role.analyst not in user.roles)


def return_child_ids(user: User) -> Select:
    """The authority's own children (home or placing authority): the SSD's people."""
    org = user.organisation_id
    return select(Child.id).where(or_(Child.responsible_authority_id == org, Child.placing_authority_id == org))


def looked_after_return_child_ids(user: User) -> Select:
    """The children the authority looks after (placing authority, else home authority): the 903's."""
    org = user.organisation_id
    looks_after = (Child.placing_authority_id == org) | (
        Child.placing_authority_id.is_(None) & (Child.responsible_authority_id == org))
    return select(Child.id).where(Child.looked_after.is_(True), looks_after)


#: Who changes an episode (hub.missing.service.EPISODE_ROLES, which imports this module).
EPISODE_FIX_ROLES = {Role.police_officer, Role.social_worker}


def episode_fixable_child_ids(user: User, child_ids: list[int]) -> set[int]:
    """Of these children, those whose episodes the user may change (one query)."""
    if user is None or not user.is_active or not user.roles & EPISODE_FIX_ROLES:
        return set()
    return set(child_bases(user, child_ids))


def command_line_report_scope() -> ReportScope:
    """`flask --app hub reports annual` (an operator on the server, audited with the cli
    channel) builds the whole area's picture as the analyst sees it: counts, no drill-down."""
    return ReportScope(episodes=true(), notification_orgs=None, mace_groups=select(MaceGroup.id),
                       whole_area=True, drill_down=False)


def may_resolve_download_row(user: User | None, police_org_id: int) -> bool:
    """A waiting download row is resolved by an officer of its force, or an administrator (as
    hub.missing.imports._may_see_force decides for the review pages)."""
    if may_administer(user):
        return True
    return (user is not None and user.is_active and Role.police_officer in user.roles
            and user.organisation_id == police_org_id)


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


# --- Reports: whose figures a user's dashboard counts (hub.reports) ---------------------------
# Figures are counts, never a child, but a count still tells about children the viewer may not
# know of, so each viewer's figures count only their own part of the picture:
#
# | who                        | episode figures                                       | MACE figures          |
# |----------------------------|-------------------------------------------------------|-----------------------|
# | analyst                    | every episode in the area                             | every group           |
# | social worker, missing team| their authority's children (home or placing), and     | -                     |
# |                            | episodes naming it as the home or receiving authority |                       |
# | police officer             | their force's episodes                                | -                     |
# | DSL or deputy              | their pupils on the roll now (a school's own, or the  | -                     |
# |                            | schools of their local authority education service)   |                       |
# | MACE chair or co-chair     | -                                                     | the groups they chair |
#
# Anyone else (a DPO, an administrator, a health practitioner, a MACE member) has no reports:
# the pages answer 404. Links from a figure to the records behind it are offered only where the
# record's own check (child_access, MACE membership) lets the viewer in, and never to an analyst.

AGGREGATE_ONLY_ROLES = {Role.analyst}


def aggregate_only(user: User | None) -> bool:
    """A user whose every role is aggregate-only (the analyst) reaches no child's record."""
    return user is not None and bool(user.roles) and user.roles <= AGGREGATE_ONLY_ROLES


@dataclass(frozen=True)
class ReportScope:
    """What a user's figures count. `episodes` is a clause over MissingEpisode joined to Child
    (None: no episode figures); `notification_orgs` limits school notifications to the viewer's
    schools (None: those of every counted episode); `mace_groups` a SELECT of group ids (None:
    no MACE figures); `whole_area` for the analyst; `drill_down` whether links to records may be
    offered at all (each link is still checked against the record)."""

    episodes: ColumnElement[bool] | None
    notification_orgs: Select | None
    mace_groups: Select | None
    whole_area: bool
    drill_down: bool


def _school_ids(user: User) -> Select:
    """A DSL's schools: their own, or (local authority education) every school of the LA."""
    org = user.organisation_id
    return select(Organisation.id).where(or_(Organisation.id == org, Organisation.local_authority_id == org))


def _report_episode_clauses(user: User) -> list[ColumnElement[bool]]:
    org, roles = user.organisation_id, user.roles
    clauses: list[ColumnElement[bool]] = []
    if Role.social_worker in roles:
        clauses.append(or_(Child.responsible_authority_id == org, Child.placing_authority_id == org,
                           MissingEpisode.home_authority_id == org, MissingEpisode.receiving_authority_id == org))
    if Role.police_officer in roles:
        clauses.append(MissingEpisode.police_org_id == org)
    if roles & SCHOOL_ROLES:
        clauses.append(MissingEpisode.child_id.in_(select(Enrolment.child_id).where(
            Enrolment.school_id.in_(_school_ids(user)), Enrolment.end_date.is_(None))))
    return clauses


def report_chaired_group_ids(user: User) -> Select:
    """The groups the user chairs or co-chairs today."""
    return member_group_ids(user).where(MaceMember.role.in_(MACE_CHAIR_ROLES))


def report_scope(user: User | None) -> ReportScope | None:
    """The user's reporting scope, or None when they have no reports (the pages answer 404)."""
    if user is None or not user.is_active:
        return None
    if Role.analyst in user.roles:
        return ReportScope(episodes=true(), notification_orgs=None, mace_groups=select(MaceGroup.id),
                           whole_area=True, drill_down=not aggregate_only(user))
    clauses = _report_episode_clauses(user)
    chairs = bool(db.session().scalar(select(exists(report_chaired_group_ids(user)))))
    if not clauses and not chairs:
        return None
    only_school = not user.roles & {Role.social_worker, Role.police_officer}
    return ReportScope(
        episodes=or_(*clauses) if clauses else None,
        notification_orgs=_school_ids(user) if clauses and only_school else None,
        mace_groups=report_chaired_group_ids(user) if chairs else None,
        whole_area=False, drill_down=True)


def may_view_reports(user: User | None) -> bool:
    """Whether the menu offers Reports: report_scope's answer without its queries where the roles
    already decide (this runs on every page), and the chair's query only for a group member."""
    if user is None or not user.is_active:
        return False
    if Role.analyst in user.roles or _report_episode_clauses(user):
        return True
    return sits_on_a_mace_group(user) and bool(db.session().scalar(select(exists(report_chaired_group_ids(user)))))


def report_pattern_group_ids(user: User) -> Select:
    """The MACE groups whose places and people of concern a patterns page counts: every group for
    the analyst (counts only, no names), otherwise the groups the user is a current member of."""
    if Role.analyst in user.roles:
        return select(MaceGroup.id)
    return member_group_ids(user)


def report_linkable_children(user: User, child_ids: list[int]) -> set[int]:
    """Of these children, those whose record a figure may link to for this user (one query;
    none for an analyst)."""
    if aggregate_only(user) or not child_ids:
        return set()
    return set(child_bases(user, child_ids))


def report_linkable_groups(user: User, group_ids: list[int]) -> set[int]:
    """Of these MACE groups, those whose places and people the user may open (current members)."""
    if aggregate_only(user) or not group_ids:
        return set()
    return set(db.session().scalars(member_group_ids(user).where(MaceMember.group_id.in_(group_ids))))
