"""The sign-in forms, fuzzed (tests/support/form_fuzz.py): the password, the second factor (a
security code or a recovery code), setting up an authenticator, and changing one's password."""

from __future__ import annotations

import pytest

from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, make_org, make_user, sign_in
from tests.support.form_fuzz import fuzz


@pytest.fixture
def school(app):
    return make_org(OrgKind.school)


def _past_the_password(client, user) -> None:
    page = client.get("/auth/sign-in").get_data(as_text=True)
    response = client.post(
        "/auth/sign-in", data={"csrf_token": csrf_token(page), "email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302


def test_the_sign_in_form(app, school):
    make_user(school, Role.dsl)
    assert fuzz(app.test_client(), "/auth/sign-in") == 2


def test_the_second_factor_form(app, school):
    user, _ = make_user(school, Role.dsl)
    client = app.test_client()
    _past_the_password(client, user)
    assert fuzz(client, "/auth/two-factor") == 1


def test_the_authenticator_set_up_form(app, school):
    user, _ = make_user(school, Role.dsl, totp=False)
    client = app.test_client()
    _past_the_password(client, user)
    assert fuzz(client, "/auth/two-factor/set-up") == 1


def test_the_change_password_form(app, school):
    client = app.test_client()
    sign_in(client, *make_user(school, Role.dsl))
    assert fuzz(client, "/auth/account/password") == 3
