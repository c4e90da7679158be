"""The administrators' forms, fuzzed (tests/support/form_fuzz.py): organisations, their SSO issuer
and client secret, users and their roles, children and their schools, local statutory gateways,
school closures and the school day's start."""

from __future__ import annotations

import pytest

from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user, sign_in
from tests.support.form_fuzz import fuzz


@pytest.fixture
def admin(app):
    user, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, user, secret)
    return client


@pytest.fixture
def school(app):
    make_org(OrgKind.childrens_social_care)
    return make_org(OrgKind.school, local_authority_id=make_org(OrgKind.la_education).id)


def test_the_organisation_forms(admin, school):
    assert fuzz(admin, "/admin/organisations/new") >= 6
    assert fuzz(admin, f"/admin/organisations/{school.id}") >= 6


def test_the_sso_settings_form(admin, school):
    assert fuzz(admin, f"/admin/organisations/{school.id}/sso") >= 3


def test_the_user_forms(admin, school):
    assert fuzz(admin, "/admin/users/new") >= 4
    user, _ = make_user(school, Role.dsl)
    assert fuzz(admin, f"/admin/users/{user.id}") >= 4


def test_the_child_and_enrolment_forms(admin, school):
    assert fuzz(admin, "/admin/children/new") >= 6
    child = make_child()
    enrol(child, school)
    assert fuzz(admin, f"/admin/children/{child.id}/enrolments") >= 2


def test_the_local_gateway_form(admin):
    assert fuzz(admin, "/admin/gateways") >= 3


def test_the_closure_and_school_day_start_forms(admin, school):
    page = f"/admin/closures?organisation={school.id}"
    assert fuzz(admin, page) >= 4
    assert fuzz(admin, page, f"/admin/closures/start-time/{school.id}") == 1
