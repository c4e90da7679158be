"""The world most tests start from, typed and built through the services (the `world` fixture of
tests/conftest.py): a school with a DSL and a deputy in an LA education service's area, another
school of that area with its DSL, the area's education contact, a police force with an officer,
and a children's social care authority with a social worker, responsible for the one child, who
is on the first school's roll and known to the force.

A module that needs the same world with another child, or without the authority, builds it with
`build_world(...)` in a `world` fixture of its own; one that needs a different world altogether
keeps its own builder beside it (tests/permissions/world.py, tests/reports/picture.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.models.auth import Organisation, User
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, involve, make_child, make_org, make_user


@dataclass
class World:
    la_edu: Organisation
    school: Organisation
    other_school: Organisation
    police: Organisation
    child: Child
    officer: User
    dsl: User
    deputy: User
    other_dsl: User
    #: The child's responsible authority and its social worker (None when built without).
    csc: Organisation | None = None
    worker: User | None = None
    #: A DSL of the LA education service (told when a school has no key adult of its own).
    la_contact: User | None = None


def build_world(given: str = "Test", family: str = "Child", born: date = date(2012, 3, 27), *,
                social_care: bool = True, la_contact: bool = True) -> World:
    """The world; `social_care=False` leaves out the authority and its worker, `la_contact=False`
    the education service's DSL (a test that counts who is told may want neither)."""
    la_edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    other_school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    police = make_org(OrgKind.police)
    csc = make_org(OrgKind.childrens_social_care) if social_care else None
    child = make_child(given, family, born, **({"responsible_authority_id": csc.id} if csc else {}))
    enrol(child, school)
    involve(child, police)
    officer = make_user(police, Role.police_officer)[0]
    worker = make_user(csc, Role.social_worker)[0] if csc else None
    dsl, deputy = make_user(school, Role.dsl)[0], make_user(school, Role.deputy_dsl)[0]
    other_dsl = make_user(other_school, Role.dsl)[0]
    contact = make_user(la_edu, Role.dsl)[0] if la_contact else None
    return World(la_edu=la_edu, school=school, other_school=other_school, police=police, child=child,
                 officer=officer, dsl=dsl, deputy=deputy, other_dsl=other_dsl, csc=csc, worker=worker,
                 la_contact=contact)
