"""The missing tests' team: a looked-after child on a school's roll, known to a police force, with
her social worker, an officer and the school's DSL, each able to sign in."""

from __future__ import annotations

import pytest

from hub.models.roles import OrgKind, Role
from tests.factories import enrol, involve, make_child, make_org, make_user


@pytest.fixture
def team(app):
    la_edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    police = make_org(OrgKind.police)
    csc = make_org(OrgKind.childrens_social_care)
    child = make_child(given="Nadia", family="Oakley", responsible_authority_id=csc.id, looked_after=True)
    enrol(child, school)
    involve(child, police)
    t = type("Team", (), {})()
    t.school, t.police, t.csc, t.child = school, police, csc, child
    t.worker, t.worker_secret = make_user(csc, Role.social_worker)
    t.officer, t.officer_secret = make_user(police, Role.police_officer)
    t.dsl, t.dsl_secret = make_user(school, Role.dsl)
    return t
