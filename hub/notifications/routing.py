"""Who is told of an episode: the school's key adults (DSL and deputies) where the child is
enrolled now, else the authority's education safeguarding contact; and by when (the start of the
next school day, hub.notifications.calendar). One rule for one child and for a chunk of an import."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import defer, lazyload

from hub import db
from hub.models.auth import Organisation, User, UserRole
from hub.models.notifications import RecipientReason
from hub.models.people import Child, Enrolment
from hub.models.roles import OrgKind, Role
from hub.notifications import calendar
from hub.permissions import EDUCATION_CONTACT_ROLES, KEY_ADULT_ROLES


@dataclass(frozen=True)
class Route:
    """Where one episode's notifications go: the organisation and its people."""

    organisation: Organisation
    recipients: list[tuple[User, RecipientReason]]


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


def users_with(org_id: int, roles: set[Role]) -> list[User]:
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
        contacts = users_with(contact_org.id, EDUCATION_CONTACT_ROLES)
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
