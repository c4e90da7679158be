"""School closures: term dates and INSET days. The calendar (hub.notifications.calendar) reads
them to find the next school day, so a closure moves every deadline computed after it. An
administrator sets them for any school or for an authority (which applies to each of its schools);
a school's own DSL sets its own INSET days."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.auth import Organisation, User
from hub.models.notifications import ClosureKind, SchoolClosure
from hub.models.roles import OrgKind
from hub.permissions import may_administer, may_record_school_closure

CLOSURE_OWNER_KINDS = {OrgKind.school, OrgKind.la_education, OrgKind.childrens_social_care}
#: Longer is a mistake (a year typed wrongly): each holiday is its own closure.
CLOSURE_MAX_DAYS = 366


def _closures_scope(actor: User, org_id: int | None, action: str) -> None:
    """An administrator: any school or authority. A school's DSL: their own school only (another
    school's is a 404, as if it did not exist). Anyone else: refused."""
    if may_administer(actor):
        return
    if may_record_school_closure(actor):
        if org_id is None or org_id == actor.organisation_id:
            return
        audit.record_refusal(actor, "school-closure", org_id, action=action)
        raise NotFound("organisation not found")
    audit.record_refusal(actor, "school-closure", org_id, action=action)
    raise Forbidden("Only a hub administrator or the school's designated safeguarding lead can set closures")


def closure_owners(actor: User) -> list[Organisation]:
    """The organisations the actor may set closures for."""
    _closures_scope(actor, None, "read")
    if may_administer(actor):
        return list(db.session().scalars(select(Organisation).where(
            Organisation.kind.in_(list(CLOSURE_OWNER_KINDS)), Organisation.active.is_(True))
            .order_by(Organisation.kind, Organisation.name)))
    return [actor.organisation]


def closures(actor: User, org_id: int | None = None):
    """Closures, earliest first: an administrator's for every organisation or the one chosen; a
    DSL's for their school and its authority (the authority's they see but do not change)."""
    _closures_scope(actor, org_id, "read")
    query = select(SchoolClosure).order_by(SchoolClosure.first_day, SchoolClosure.id)
    if not may_administer(actor):
        school = actor.organisation
        owners = [school.id] + ([school.local_authority_id] if school.local_authority_id else [])
        query = query.where(SchoolClosure.organisation_id.in_(owners))
    elif org_id:
        org = db.session().get(Organisation, org_id)
        owners = [org_id] + ([org.local_authority_id] if org is not None and org.local_authority_id else [])
        query = query.where(SchoolClosure.organisation_id.in_(owners))
    return list(db.session().scalars(query))


def may_change_closure(actor: User, closure) -> bool:
    """An administrator changes any closure; a DSL only their own school's INSET days."""
    if may_administer(actor):
        return True
    return (may_record_school_closure(actor) and closure.organisation_id == actor.organisation_id
            and closure.kind == ClosureKind.inset)


def add_closure(actor: User, org_id: int | None, kind: str | None, first_day, last_day,
                description: str | None = None):
    """Add a closure; a DSL adds INSET days for their own school only."""
    org_id = org_id if may_administer(actor) else (org_id or actor.organisation_id)
    _closures_scope(actor, org_id, "create")
    errors: dict[str, str] = {}
    org = db.session().get(Organisation, org_id) if org_id else None
    if org is None or org.kind not in CLOSURE_OWNER_KINDS:
        errors["organisation_id"] = "Choose a school or a local authority"
    try:
        closure_kind = ClosureKind(kind or "")
    except ValueError:
        closure_kind = None
        errors["kind"] = "Choose whether it is an INSET day or a school holiday"
    if closure_kind == ClosureKind.holiday and not may_administer(actor):
        errors["kind"] = "Only a hub administrator sets school holidays: add your school's INSET days here"
    if first_day is None:
        errors["first_day"] = "Enter the first day closed"
    if last_day is None:
        errors["last_day"] = "Enter the last day closed"
    elif first_day is not None and last_day < first_day:
        errors["last_day"] = "The last day must be the same as or after the first day"
    elif first_day is not None and (last_day - first_day).days >= CLOSURE_MAX_DAYS:
        errors["last_day"] = "A closure can be at most a year long: add each holiday separately"
    text = (description or "").strip()
    if len(text) > 200:
        errors["description"] = "Keep the description under 200 characters"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        closure = SchoolClosure(organisation_id=org.id, first_day=first_day, last_day=last_day, kind=closure_kind,
                                description=text, created_by_user_id=actor.id)
        s.add(closure)
        s.flush()
        audit.record("create", actor=actor, object_type="school-closure", object_id=closure.id,
                     detail={"organisation": org.id, "kind": closure_kind.value, "first_day": first_day.isoformat(),
                             "last_day": last_day.isoformat()})
    return closure


def remove_closure(actor: User, closure_id: int) -> None:
    """Remove a closure (deadlines computed afterwards no longer skip it)."""
    closure = db.session().get(SchoolClosure, closure_id)
    if closure is None or not may_change_closure(actor, closure):
        audit.record_refusal(actor, "school-closure", closure_id, action="delete")
        raise NotFound("closure not found")
    with unit_of_work() as s:
        audit.record("delete", actor=actor, object_type="school-closure", object_id=closure.id,
                     detail={"organisation": closure.organisation_id, "kind": closure.kind.value,
                             "first_day": closure.first_day.isoformat(), "last_day": closure.last_day.isoformat()})
        s.delete(closure)
