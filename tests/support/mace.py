"""A MACE locality for the MACE tests (the `mace` fixture of tests/conftest.py): a group hosted by
the partnership covering one authority's area, with named members from police, social care (the
chair), health and a school, a former member, and outsiders (a DSL of another school, a police
officer who was never named)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from hub import db
from hub.mace.operations import subjects
from hub.models.auth import Organisation, User
from hub.models.mace import MaceGroup, MaceMember, MaceMembership, MacePerson, MemberRole
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user


@dataclass
class MaceWorld:
    group: MaceGroup
    host: Organisation
    authority: Organisation
    police: Organisation
    health: Organisation
    school: Organisation
    other_school: Organisation
    users: dict[str, tuple[User, str]] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    def user(self, name: str) -> User:
        return self.users[name][0]


def name_member(group: MaceGroup, user: User, role: MemberRole = MemberRole.member,
                start: date | None = None, end: date | None = None) -> MaceMember:
    """Put a person on a group directly (tests of the membership service use the service)."""
    with db.unit_of_work() as s:
        member = MaceMember(group_id=group.id, user_id=user.id, organisation_id=user.organisation_id, role=role,
                            start_date=start or date.today() - timedelta(days=365), end_date=end)
        s.add(member)
        if not s.query(MaceMembership).filter_by(group_id=group.id, organisation_id=user.organisation_id).first():
            s.add(MaceMembership(group_id=group.id, organisation_id=user.organisation_id))
    return member


def add_person_of_concern(world: MaceWorld, by: str = "police") -> MacePerson:
    """"Tiny", a person of concern the group's police member records (through the service)."""
    return subjects.add_person(world.user(by), world.group.id, subjects.PersonDetails(
        kind="person", name="Tiny", legal_basis="10+S1P18", justification="Seen giving lifts",
        review_on=date.today() + timedelta(days=90)))


def build_mace_world() -> MaceWorld:
    host = make_org(OrgKind.mace_host)
    authority = make_org(OrgKind.childrens_social_care)
    police, health = make_org(OrgKind.police), make_org(OrgKind.health)
    school, other_school = make_org(OrgKind.school), make_org(OrgKind.school)
    with db.unit_of_work() as s:
        group = MaceGroup(code="MACE-C", name="Central MACE", host_organisation_id=host.id,
                          area_authority_id=authority.id)
        s.add(group)
    world = MaceWorld(group, host, authority, police, health, school, other_school)
    world.users = {
        "chair": make_user(authority, Role.social_worker, Role.mace_chair),
        "police": make_user(police, Role.police_officer),
        "nurse": make_user(health, Role.health_practitioner),
        "dsl": make_user(school, Role.dsl),
        "former": make_user(police, Role.police_officer),
        "outsider_dsl": make_user(other_school, Role.dsl),
        "outsider_police": make_user(police, Role.police_officer),
    }
    name_member(group, world.user("chair"), MemberRole.chair)
    for who in ("police", "nurse", "dsl"):
        name_member(group, world.user(who))
    name_member(group, world.user("former"), start=date.today() - timedelta(days=200),
                end=date.today() - timedelta(days=1))
    for n in range(3):
        child = make_child(f"Mace{n}", "Child", responsible_authority_id=authority.id)
        enrol(child, school)
        world.children.append(child)
    return world
