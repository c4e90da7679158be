"""Organisation kinds and user roles: the one list every check and form uses."""

from __future__ import annotations

import enum


class OrgKind(str, enum.Enum):
    police = "police"
    childrens_social_care = "childrens_social_care"
    school = "school"
    health = "health"
    la_education = "la_education"
    mace_host = "mace_host"
    voluntary = "voluntary"

    @property
    def label(self) -> str:
        return ORG_KIND_LABELS[self]


ORG_KIND_LABELS = {
    OrgKind.police: "Police force",
    OrgKind.childrens_social_care: "Children's social care",
    OrgKind.school: "School",
    OrgKind.health: "Health (NHS)",
    OrgKind.la_education: "Local authority education",
    OrgKind.mace_host: "MACE group host",
    OrgKind.voluntary: "Voluntary sector",
}


class Role(str, enum.Enum):
    hub_admin = "hub_admin"
    dsl = "dsl"
    deputy_dsl = "deputy_dsl"
    social_worker = "social_worker"
    police_officer = "police_officer"
    health_practitioner = "health_practitioner"
    mace_chair = "mace_chair"
    mace_member = "mace_member"
    dpo = "dpo"
    #: The safeguarding partnership's performance officer: aggregate figures only, never a child.
    analyst = "analyst"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.hub_admin: "Hub administrator",
    Role.dsl: "Designated safeguarding lead (key adult)",
    Role.deputy_dsl: "Deputy designated safeguarding lead",
    Role.social_worker: "Social worker / missing-team practitioner",
    Role.police_officer: "Police officer / missing-persons coordinator",
    Role.health_practitioner: "Health practitioner",
    Role.mace_chair: "MACE chair",
    Role.mace_member: "MACE member",
    Role.dpo: "Data protection officer",
    Role.analyst: "Partnership performance analyst",
}

# Which roles make sense in which kind of organisation: an admin cannot give a school's DSL
# role to a police officer by mistake.
ROLES_FOR_KIND: dict[OrgKind, set[Role]] = {
    OrgKind.school: {Role.dsl, Role.deputy_dsl, Role.dpo, Role.mace_member},
    OrgKind.police: {Role.police_officer, Role.mace_chair, Role.mace_member, Role.dpo},
    OrgKind.childrens_social_care: {Role.social_worker, Role.mace_chair, Role.mace_member, Role.dpo, Role.analyst},
    OrgKind.health: {Role.health_practitioner, Role.mace_member, Role.dpo},
    OrgKind.la_education: {Role.dsl, Role.mace_member, Role.dpo},
    OrgKind.mace_host: {Role.mace_chair, Role.mace_member, Role.hub_admin, Role.dpo, Role.analyst},
    OrgKind.voluntary: {Role.mace_member, Role.social_worker, Role.dpo},
}
# The hub's own operators sit in the host organisation, but any organisation may have an admin.
for _roles in ROLES_FOR_KIND.values():
    _roles.add(Role.hub_admin)
