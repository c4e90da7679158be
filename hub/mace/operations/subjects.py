"""A MACE group's subjects other than children: locations ("places and spaces"), persons or peer
groups of concern, and the links between them and the group's children.

Every function loads through hub.permissions (current named membership of the group), applies
the rule, and writes its audit event in the same transaction. A person of concern is
criminal-offence or law-enforcement data: an Article 10 condition or a Part 3 (s35) one, a
justification, and a review date at most twelve months ahead, after which a member re-justifies
or removes it. Audit details carry ids and codes only, never names or other free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.mace.operations.intelligence import intelligence_about
from hub.mace.service import SHORT_MAX, check_text, group_for
from hub.models.auth import User
from hub.models.mace import (
    LocationKind,
    MaceAgendaChild,
    MaceGroup,
    MaceLink,
    MaceLocation,
    MacePerson,
    PersonKind,
)
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.models.sharing import ShareRecord
from hub.permissions import load_mace_object, mace_child_access, visible_child_ids
from hub.sharing import legal_bases

REVIEW_MONTHS_MAX = 12


def _year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


# --- locations ------------------------------------------------------------------------------------

@dataclass
class LocationDetails:
    name: str | None
    kind: str | None
    address: str | None = None
    postcode: str | None = None
    grid_reference: str | None = None


def _clean_location(details: LocationDetails) -> dict:
    errors: dict[str, str] = {}
    values = {
        "name": check_text(errors, "name", details.name, "the name of the place", limit=SHORT_MAX),
        "address": check_text(errors, "address", details.address, "the address or a description", required=False),
        "postcode": check_text(errors, "postcode", details.postcode, "the postcode", required=False, limit=10),
        "grid_reference": check_text(errors, "grid_reference", details.grid_reference, "the grid reference",
                                     required=False, limit=20),
    }
    try:
        values["kind"] = LocationKind(details.kind)
    except ValueError:
        errors["kind"] = "Choose what kind of place it is"
    if errors:
        raise Invalid(errors)
    if values["postcode"]:
        values["postcode"] = values["postcode"].upper()
    return values


def add_location(actor: User, group_id: int, details: LocationDetails) -> MaceLocation:
    group, _ = group_for(actor, group_id, action="create")
    values = _clean_location(details)
    with unit_of_work() as s:
        location = MaceLocation(group_id=group.id, created_by_user_id=actor.id, **values)
        s.add(location)
        s.flush()
        audit.record("create", actor=actor, object_type="mace-location", object_id=location.id,
                     basis="mace-member", detail={"group": group.id, "kind": location.kind.value})
    return location


def update_location(actor: User, location_id: int, details: LocationDetails) -> MaceLocation:
    location, _ = load_mace_object(actor, MaceLocation, location_id, action="update")
    values = _clean_location(details)
    with unit_of_work():
        changed = sorted(k for k, v in values.items() if getattr(location, k) != v)
        for key, value in values.items():
            setattr(location, key, value)
        audit.record("update", actor=actor, object_type="mace-location", object_id=location.id,
                     basis="mace-member", detail={"group": location.group_id, "changed": changed})
    return location


def location_for_edit(actor: User, location_id: int) -> MaceLocation:
    location, _ = load_mace_object(actor, MaceLocation, location_id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-location", object_id=location.id, basis="mace-member",
                     purpose="edit")
    return location


def locations(actor: User, group_id: int) -> tuple[MaceGroup, list[MaceLocation]]:
    """The group's locations, by name."""
    group, _ = group_for(actor, group_id)
    found = sorted(db.session().scalars(select(MaceLocation).where(MaceLocation.group_id == group.id)),
                   key=lambda loc: loc.name.lower())  # encrypted: sorted here, not in SQL
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-locations", object_id=group.id, basis="mace-member",
                     detail={"locations": [loc.id for loc in found]})
    return group, found


# --- persons or peer groups of concern ----------------------------------------------------------

@dataclass
class PersonDetails:
    kind: str | None
    name: str | None
    legal_basis: str | None
    justification: str | None
    review_on: date | None
    description: str | None = None
    aliases: str | None = None
    vehicles: str | None = None
    phone_numbers: str | None = None
    online_handles: str | None = None


def check_person_basis(actor: User, code: str | None) -> dict[str, str]:
    """The basis for holding a person of concern: an Article 10 condition (DPA 2018 Schedule 1) or,
    for the police, a Part 3 section 35 condition. Article 6 or 9 alone is refused."""
    if not code:
        return {"legal_basis": "Choose the Article 10 or Part 3 condition for holding this record"}
    if code in legal_bases.BY_CODE["article_10"]:
        return {"article_10": code}
    if code in legal_bases.BY_CODE["part_3"]:
        if actor.organisation.kind != OrgKind.police:
            return {"legal_basis": "Only the police record under Part 3 (law enforcement): choose an Article 10 "
                                   "condition"}
        return {"part_3": code}
    if code in legal_bases.BY_CODE["article_6"] or code in legal_bases.BY_CODE["article_9"]:
        return {"legal_basis": "A person of concern is criminal-offence or law-enforcement information: it needs an "
                               "Article 10 condition (DPA 2018 Schedule 1) or a Part 3 section 35 condition, not "
                               "an Article 6 or Article 9 basis"}
    return {"legal_basis": "Choose an entry from the list"}


def _check_review(errors: dict[str, str], review_on: date | None) -> None:
    today = date.today()
    if review_on is None:
        errors["review_on"] = "Enter the date this record must be reviewed by"
    elif review_on <= today:
        errors["review_on"] = "The review date must be in the future"
    elif review_on > _year_after(today):
        errors["review_on"] = f"The review date must be within {REVIEW_MONTHS_MAX} months"


def _clean_person(actor: User, details: PersonDetails) -> dict:
    errors: dict[str, str] = {}
    values = {
        "name": check_text(errors, "name", details.name, "the name or nickname as known", limit=SHORT_MAX),
        "description": check_text(errors, "description", details.description, "the description", required=False),
        "aliases": check_text(errors, "aliases", details.aliases, "the aliases", required=False),
        "vehicles": check_text(errors, "vehicles", details.vehicles, "the vehicles", required=False),
        "phone_numbers": check_text(errors, "phone_numbers", details.phone_numbers, "the phone numbers",
                                    required=False),
        "online_handles": check_text(errors, "online_handles", details.online_handles, "the online handles",
                                     required=False),
        "justification": check_text(errors, "justification", details.justification,
                                    "why holding this record is necessary"),
        "review_on": details.review_on,
    }
    try:
        values["kind"] = PersonKind(details.kind)
    except ValueError:
        errors["kind"] = "Choose a person or a peer group"
    basis = check_person_basis(actor, details.legal_basis)
    if "legal_basis" in basis:
        errors.update(basis)
    else:
        values |= {"article_10": basis.get("article_10"), "part_3": basis.get("part_3")}
    _check_review(errors, details.review_on)
    if errors:
        raise Invalid(errors)
    return values


def add_person(actor: User, group_id: int, details: PersonDetails) -> MacePerson:
    group, _ = group_for(actor, group_id, action="create")
    values = _clean_person(actor, details)
    with unit_of_work() as s:
        person = MacePerson(group_id=group.id, created_by_user_id=actor.id, **values)
        s.add(person)
        s.flush()
        audit.record("create", actor=actor, object_type="mace-person", object_id=person.id, basis="mace-member",
                     legal_basis=person.article_10 or person.part_3,
                     detail={"group": group.id, "kind": person.kind.value, "review_on": person.review_on.isoformat()})
    return person


def _live_person(actor: User, person_id: int, action: str) -> MacePerson:
    person, _ = load_mace_object(actor, MacePerson, person_id, action=action)
    if person.removed_at is not None:
        raise Invalid({"": "This record was removed"})
    return person


def rejustify_person(actor: User, person_id: int, justification: str | None, review_on: date | None) -> MacePerson:
    """At (or before) review: a new justification and a new review date, at most 12 months ahead."""
    person = _live_person(actor, person_id, "update")
    errors: dict[str, str] = {}
    text = check_text(errors, "justification", justification, "why keeping this record is still necessary")
    _check_review(errors, review_on)
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        person.justification, person.review_on = text, review_on
        audit.record("update", actor=actor, object_type="mace-person", object_id=person.id, basis="mace-member",
                     detail={"change": "re-justified", "review_on": review_on.isoformat()})
    return person


def remove_person(actor: User, person_id: int) -> MacePerson:
    """Remove at review: gone from lists and the network; the row stays for the audit trail."""
    person = _live_person(actor, person_id, "delete")
    with unit_of_work():
        person.removed_at = utcnow()
        audit.record("delete", actor=actor, object_type="mace-person", object_id=person.id, basis="mace-member",
                     detail={"change": "removed", "group": person.group_id})
    return person


def persons(actor: User, group_id: int) -> tuple[MaceGroup, list[MacePerson]]:
    """The group's persons and peer groups of concern not removed, review due first."""
    group, _ = group_for(actor, group_id)
    found = sorted(db.session().scalars(select(MacePerson).where(
        MacePerson.group_id == group.id, MacePerson.removed_at.is_(None))),
        key=lambda p: (p.review_on, p.name.lower()))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-persons", object_id=group.id, basis="mace-member",
                     detail={"persons": [p.id for p in found]})
    return group, found


def review_due(person: MacePerson, day: date | None = None) -> bool:
    return person.removed_at is None and person.review_on <= (day or date.today())


# --- links ----------------------------------------------------------------------------------------------

@dataclass
class LinkDetails:
    source: str | None
    seen_on: date | None
    child_id: int | None = None
    location_id: int | None = None
    person_id: int | None = None
    share_id: int | None = None


def _check_link_ends(actor: User, group_id: int, details: LinkDetails, errors: dict[str, str]) -> None:
    s = db.session()
    ends = [e for e in (details.child_id, details.location_id, details.person_id) if e]
    if len(ends) != 2:
        errors[""] = "Choose two things to link: a child and a place, a child and a person, or a person and a place"
        return
    if details.child_id and not mace_child_access(actor, group_id, details.child_id):
        errors["child_id"] = "Choose a child the group holds"
    if details.location_id:
        location = s.get(MaceLocation, details.location_id)
        if location is None or location.group_id != group_id:
            errors["location_id"] = "Choose one of the group's locations"
    if details.person_id:
        person = s.get(MacePerson, details.person_id)
        if person is None or person.group_id != group_id or person.removed_at is not None:
            errors["person_id"] = "Choose one of the group's persons or peer groups of concern"
    if details.share_id:
        share = s.get(ShareRecord, details.share_id)
        if share is None or share.mace_group_id != group_id:
            errors["share_id"] = "Choose an intelligence item of the group"


def add_link(actor: User, group_id: int, details: LinkDetails) -> MaceLink:
    """Link two subjects of the group, with who says so and when (not in the future)."""
    group, _ = group_for(actor, group_id, action="create")
    errors: dict[str, str] = {}
    source = check_text(errors, "source", details.source, "who or what says they are linked", limit=SHORT_MAX)
    if details.seen_on is None:
        errors["seen_on"] = "Enter when they were seen together or linked"
    elif details.seen_on > date.today():
        errors["seen_on"] = "The date must be today or in the past"
    _check_link_ends(actor, group.id, details, errors)
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        link = MaceLink(group_id=group.id, child_id=details.child_id, location_id=details.location_id,
                        person_id=details.person_id, source=source, seen_on=details.seen_on,
                        share_id=details.share_id, created_by_user_id=actor.id)
        s.add(link)
        s.flush()
        audit.record("create", actor=actor, object_type="mace-link", object_id=link.id, child_id=link.child_id,
                     basis="mace-member", detail={"group": group.id, "location": link.location_id,
                                                  "person": link.person_id, "share": link.share_id})
    return link


@dataclass
class LinkChoices:
    group: MaceGroup
    children: list[Child]
    locations: list[MaceLocation]
    persons: list[MacePerson]


def subject_choices(actor: User, group_id: int, purpose: str) -> LinkChoices:
    """What a member may name in a link or an intelligence item: the group's children (held and
    visible to the member), its locations and its persons not removed. Audited as a read."""
    group, _ = group_for(actor, group_id)
    s = db.session()
    held = select(MaceAgendaChild.child_id).where(MaceAgendaChild.group_id == group.id,
                                                  MaceAgendaChild.removed_at.is_(None))
    children = sorted(s.scalars(select(Child).where(Child.id.in_(held))), key=lambda c: c.full_name.lower())
    places = sorted(s.scalars(select(MaceLocation).where(MaceLocation.group_id == group.id)),
                    key=lambda loc: loc.name.lower())
    people = sorted(s.scalars(select(MacePerson).where(MacePerson.group_id == group.id,
                                                       MacePerson.removed_at.is_(None))),
                    key=lambda p: p.name.lower())
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-group", object_id=group.id, basis="mace-member",
                     purpose=purpose, detail={"children": [c.id for c in children]})
    return LinkChoices(group, children, places, people)


# --- a location's or a person's page --------------------------------------------------------------------

@dataclass
class LinkRow:
    link: MaceLink
    kind: str
    subject_id: int
    name: str


@dataclass
class SubjectPage:
    subject: MaceLocation | MacePerson
    links: list[LinkRow]
    intelligence: list[ShareRecord]


def _links_of(actor: User, group_id: int, column, subject_id: int) -> list[LinkRow]:
    """The subject's active links with the other end named (a fixed number of queries)."""
    s = db.session()
    links = list(s.scalars(select(MaceLink).where(MaceLink.group_id == group_id, column == subject_id,
                                                  MaceLink.ended_at.is_(None)).order_by(MaceLink.seen_on.desc())))
    child_ids = {lk.child_id for lk in links if lk.child_id}
    children = {c.id: c.full_name for c in s.scalars(select(Child).where(
        Child.id.in_(child_ids), Child.id.in_(visible_child_ids(actor))))}
    places = {loc.id: loc.name for loc in s.scalars(select(MaceLocation).where(
        MaceLocation.id.in_({lk.location_id for lk in links if lk.location_id})))}
    people = {p.id: p.name for p in s.scalars(select(MacePerson).where(
        MacePerson.id.in_({lk.person_id for lk in links if lk.person_id}), MacePerson.removed_at.is_(None)))}
    rows = []
    for lk in links:
        for kind, other, names in (("child", lk.child_id, children), ("location", lk.location_id, places),
                                   ("person", lk.person_id, people)):
            if other and (kind, other) != (column.key.removesuffix("_id"), subject_id):
                if kind == "person" and other not in names:
                    continue  # removed at review
                rows.append(LinkRow(lk, kind, other, names.get(other, "A child you may not see")))
    return rows


def location_page(actor: User, location_id: int) -> SubjectPage:
    location, _ = load_mace_object(actor, MaceLocation, location_id)
    links = _links_of(actor, location.group_id, MaceLink.location_id, location.id)
    items = intelligence_about(actor, "location", location.id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-location", object_id=location.id, basis="mace-member",
                     detail={"children": sorted({r.subject_id for r in links if r.kind == "child"}),
                             "intelligence": [i.id for i in items]})
    return SubjectPage(location, links, items)


def person_page(actor: User, person_id: int) -> SubjectPage:
    person, _ = load_mace_object(actor, MacePerson, person_id)
    removed = person.removed_at is not None
    links = [] if removed else _links_of(actor, person.group_id, MaceLink.person_id, person.id)
    items = [] if removed else intelligence_about(actor, "person", person.id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-person", object_id=person.id, basis="mace-member",
                     legal_basis=person.article_10 or person.part_3,
                     detail={"children": sorted({r.subject_id for r in links if r.kind == "child"}),
                             "intelligence": [i.id for i in items]})
    return SubjectPage(person, links, items)
