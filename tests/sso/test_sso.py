"""Single sign-on against a real OpenID Connect provider (oidc-provider) on loopback: the happy
path, and each way it must fail (bad state, bad nonce, wrong audience, expired token, a user
nobody provisioned, a user of another organisation)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from hub import db
from hub.admin import service as admin
from hub.models.audit import AuditEvent
from hub.models.auth import SsoIdentity
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user
from tests.sso.harness import (
    ACCOUNTS,
    CALLBACK,
    SECRET,
    assert_refused,
    finish_sign_in,
    refusal_details,
    start_provider,
    start_sign_in,
)

#: Alice's account at the provider made again (or someone else's there claiming her address).
REISSUED = {"sub": "alice-reissued-sub", "email": "alice@police.example.test", "email_verified": True, "name": "Alice"}


@pytest.fixture(scope="module")
def provider():
    started = start_provider([{"client_id": "hub-test", "client_secret": SECRET, "redirect_uris": [CALLBACK]}],
                             [*ACCOUNTS, REISSUED])
    yield started
    started.stop()


def test_a_tampered_state_is_refused(client, police, provider):
    def tamper(url):
        return url.replace("state=", "state=x")

    assert_refused(finish_sign_in(client, provider, "alice-sub", tamper))
    assert client.get("/").status_code == 302


def test_a_callback_without_a_session_started_flow_is_refused(app, police, provider):
    attacker, victim = app.test_client(), app.test_client()
    callback_url = provider.login(start_sign_in(attacker, "alice-sub"), CALLBACK)
    parts = urlsplit(callback_url)
    assert_refused(victim.get(f"{parts.path}?{parts.query}"))  # state is bound to the attacker's session


def test_the_authorization_request_uses_pkce_state_and_nonce(client, police, provider):
    query = parse_qs(urlsplit(start_sign_in(client, "alice-sub")).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]


def test_a_provisioned_user_signs_in_with_sso_and_is_linked_by_issuer_and_subject(client, police, provider):
    org, user = police
    response = finish_sign_in(client, provider, "alice-sub")
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and user.name in page.get_data(as_text=True)
    identity = db.session().scalar(select(SsoIdentity).where(SsoIdentity.user_id == user.id))
    assert (identity.issuer, identity.subject) == (provider.issuer, "alice-sub")
    method = db.session().scalars(select(AuditEvent.detail).where(AuditEvent.action == "sign-in",
                                                                  AuditEvent.outcome == "done")).all()
    assert any('"sso"' in d for d in method)


@pytest.mark.parametrize("fault", [
    {"nonce": "not-the-nonce-we-sent"},
    {"aud": "someone-else"},
    {"exp_offset": -3600},
    {"iss": "http://evil.example.test"},
    {"bad_signature": True},
    {"alg_none": True},
], ids=["bad-nonce", "wrong-audience", "expired", "wrong-issuer", "forged-signature", "alg-none"])
def test_an_id_token_that_fails_validation_is_refused(client, police, provider, fault):
    provider.set_faults({"id_token": fault})
    assert_refused(finish_sign_in(client, provider, "alice-sub"))
    assert client.get("/").status_code == 302
    refused = db.session().scalars(select(AuditEvent.detail).where(AuditEvent.outcome == "refused")).all()
    assert any("sso-failed" in (d or "") for d in refused)


def test_an_unprovisioned_user_is_refused_with_a_clear_message(client, police, provider):
    assert_refused(finish_sign_in(client, provider, "bob-sub"), "Your account has not been set up in the hub")


def test_a_user_of_another_organisation_cannot_sign_in_through_this_provider(client, police, provider):
    school = make_org(OrgKind.school)
    make_user(school, Role.dsl, email="carol@school.example.test")
    assert_refused(finish_sign_in(client, provider, "carol-sub"), "Your account has not been set up in the hub")


def test_an_unverified_email_does_not_link_an_account(client, police, provider):
    org, _ = police
    make_user(org, Role.police_officer, email="dave@police.example.test")
    assert_refused(finish_sign_in(client, provider, "dave-sub"), "Your account has not been set up in the hub")


def test_a_deactivated_user_cannot_sign_in_with_sso_and_is_told_their_account_is_deactivated(client, police,
                                                                                              provider):
    org, user = police
    finish_sign_in(client, provider, "alice-sub")
    admin.set_user_active(None, user.id, False)
    other = client.application.test_client()
    assert_refused(finish_sign_in(other, provider, "alice-sub"), "Your hub account has been deactivated")
    assert other.get("/").status_code == 302


def test_an_organisation_without_sso_is_refused(client, app):
    response = client.get("/auth/sso/NOPE/start")
    assert response.status_code == 403
    assert "Single sign-on is not set up" in response.get_data(as_text=True)


# --- every refusal is audited with the issuer, the subject offered and the true reason ------------

CALLBACK_B = "http://localhost/auth/sso/POL02/callback"


@pytest.fixture(scope="module")
def provider_b():
    """A second certified provider, trusted by another organisation (or by an attacker)."""
    started = start_provider([{"client_id": "hub-test", "client_secret": SECRET,
                               "redirect_uris": [CALLBACK, CALLBACK_B]}], ACCOUNTS)
    yield started
    started.stop()


def test_a_response_from_another_provider_is_refused_and_audited_as_an_idp_mix_up(client, police, provider,
                                                                                 provider_b):
    provider_b.set_faults({})
    authorization_url = start_sign_in(client, "alice-sub").replace(provider.issuer, provider_b.issuer, 1)
    callback_url = provider_b.login(authorization_url, CALLBACK)  # B's answer, to A's organisation
    assert f"iss={provider_b.issuer}".replace(":", "%3A").replace("/", "%2F") in callback_url
    parts = urlsplit(callback_url)
    assert_refused(client.get(f"{parts.path}?{parts.query}"), "The sign-in response came from another provider")
    assert client.get("/").status_code == 302
    detail = refusal_details()[-1]
    assert detail["reason"] == "idp-mix-up"
    assert (detail["issuer"], detail["issuer_offered"]) == (provider.issuer, provider_b.issuer)


def test_an_unprovisioned_refusal_records_the_issuer_and_subject_offered(client, police, provider):
    assert_refused(finish_sign_in(client, provider, "bob-sub"), "Your account has not been set up in the hub")
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["issuer"], detail["subject"]) == (
        "sso-not-provisioned", provider.issuer, "bob-sub")
    assert "bob@unprovisioned.example.test" not in str(detail)  # the subject, not the e-mail


def test_a_linked_identity_through_another_organisations_provider_is_recorded_as_such(app, provider_b):
    provider_b.set_faults({})
    first, second = make_org(OrgKind.police, code="POL01"), make_org(OrgKind.police, code="POL02")
    for org in (first, second):  # one issuer serving two organisations (a shared tenant)
        admin.set_sso(None, org.id, provider_b.issuer, "hub-test", SECRET)
    make_user(first, Role.police_officer, email="alice@police.example.test", password=None, totp=False)
    assert finish_sign_in(app.test_client(), provider_b, "alice-sub").status_code == 302  # linked in POL01
    other = app.test_client()
    authorization_url = other.get("/auth/sso/POL02/start?login_hint=alice-sub").headers["Location"]
    parts = urlsplit(provider_b.login(authorization_url, CALLBACK_B))
    assert_refused(other.get(f"{parts.path}?{parts.query}"), "Your account has not been set up in the hub")
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["issuer"], detail["subject"], detail["organisation"]) == (
        "sso-identity-of-another-organisation", provider_b.issuer, "alice-sub", second.id)


def test_a_deactivated_linked_user_is_recorded_as_inactive(client, police, provider):
    org, user = police
    finish_sign_in(client, provider, "alice-sub")
    admin.set_user_active(None, user.id, False)
    assert_refused(finish_sign_in(client.application.test_client(), provider, "alice-sub"), "has been deactivated")
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["issuer"], detail["subject"]) == ("sso-user-inactive", provider.issuer,
                                                                        "alice-sub")


def test_a_linked_user_is_found_by_issuer_and_subject_alone_even_after_their_hub_e_mail_changes(
        client, police, provider):
    org, user = police
    assert finish_sign_in(client, provider, "alice-sub").status_code == 302  # the first sign-in links
    admin.update_user(None, user.id, admin.UserDetails(email="alice.renamed@police.example.test", name=user.name,
                                                       organisation_id=org.id, roles={Role.police_officer}))
    again = client.application.test_client()
    response = finish_sign_in(again, provider, "alice-sub")  # the provider still offers the old address
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert user.name in again.get("/").get_data(as_text=True)
    assert db.session().scalars(select(SsoIdentity.subject).where(SsoIdentity.user_id == user.id)).all() == [
        "alice-sub"]


def test_another_subject_offering_a_linked_users_e_mail_is_refused_and_links_nothing(client, police, provider):
    """The provider re-issued the account (or someone else's account there claims the address): the
    hub never moves a link by e-mail, so the first subject stays the only way in."""
    org, user = police
    assert finish_sign_in(client, provider, "alice-sub").status_code == 302
    response = finish_sign_in(client.application.test_client(), provider, REISSUED["sub"])
    assert_refused(response, "Your account has not been set up in the hub")
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["subject"], detail["organisation"]) == (
        "sso-another-subject-linked", "alice-reissued-sub", org.id)
    assert db.session().scalars(select(SsoIdentity.subject).where(SsoIdentity.user_id == user.id)).all() == [
        "alice-sub"]


def test_a_callback_for_an_organisation_without_sso_is_audited(client, app):
    make_org(OrgKind.police, code="NOSSO")
    for code, reason in (("NOPE", "sso-unknown-organisation"), ("NOSSO", "sso-not-set-up")):
        response = client.get(f"/auth/sso/{code}/callback?code=x&state=y")
        assert response.status_code == 403
        assert refusal_details()[-1] == {"reason": reason, "organisation_code": code}


def test_the_providers_tokens_stay_on_the_server_and_are_not_kept(app, client, police, provider):
    """ASVS V10.1.1: the ID and access tokens are used in the callback on the server; after it the
    browser's session cookie holds the hub's own session token only (no provider token, no
    authlib state left behind), and nothing of them is stored in the database."""
    response = finish_sign_in(client, provider, "alice-sub")
    assert response.status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    held = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert set(held) <= {"_user_id", "_fresh", "_id", "csrf_token", "next"} and held.get("_user_id"), sorted(held)
    assert "eyJ" not in str(held)  # no JWT (an ID token, an access token) among its values
    assert {c.key for c in client._cookies.values()} == {app.config["SESSION_COOKIE_NAME"]}
    identity = db.session().scalar(select(SsoIdentity).where(SsoIdentity.subject == "alice-sub"))
    assert "eyJ" not in repr({c.key: getattr(identity, c.key) for c in SsoIdentity.__table__.columns})
