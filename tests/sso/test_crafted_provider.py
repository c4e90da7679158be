"""Single sign-on against a crafted provider: the certified oidc-provider on loopback with faults
laid over the real protocol (tests/sso/provider.mjs): a discovery document that lists `none` or
HS256, an unsigned token, one keyed by the client secret, subjects no identity can have, another
issuer, the provider's own error. Each is refused, and each refusal is on record with what a
reviewer needs (the claim at fault or the error code, the issuer the token named, the subject
only when the signature verified) and nothing personal."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from hub import db, outbound
from hub.admin import service as admin
from hub.auth import sso_accounts as auth_sso_accounts
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
)
from tests.support.http import start_recording

LONGEST_SUBJECT = "s" * 255
CRAFTED_ACCOUNTS = ACCOUNTS + [
    {"sub": LONGEST_SUBJECT, "email": "sam@police.example.test", "email_verified": True},
    {"sub": "erin-sub", "email": "erin\x00@police.example.test", "email_verified": True},
    {"sub": "fay-sub", "email": "f" * 250 + "@police.example.test", "email_verified": True},
    {"sub": "gus-sub", "name": "Gus"},  # no e-mail claim at all
]


@pytest.fixture(scope="module")
def provider():
    """The certified provider, with a few accounts whose claims only a crafted one would send."""
    started = start_provider([{"client_id": "hub-test", "client_secret": SECRET, "redirect_uris": [CALLBACK]}],
                             CRAFTED_ACCOUNTS)
    yield started
    started.stop()

UNSAFE_DISCOVERY = {"id_token_signing_alg_values_supported": ["none", "HS256", "RS256"]}


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def _identities() -> int:
    return db.session().scalar(select(func.count()).select_from(SsoIdentity))


# --- item 5: the hub chooses the signature algorithms, not discovery -----------------------------

@pytest.mark.parametrize("faults, alg", [
    ({"discovery": UNSAFE_DISCOVERY, "id_token": {"alg_none": True}}, "none"),
    ({"discovery": UNSAFE_DISCOVERY, "jwks_client_secret": True, "id_token": {"hs256_client_secret": True}},
     "HS256"),
], ids=["unsigned-with-none-in-discovery", "hs256-keyed-by-the-client-secret-published-in-the-jwks"])
def test_an_id_token_signed_with_an_algorithm_the_hub_does_not_pin_never_signs_anyone_in(client, police, provider,
                                                                                         faults, alg):
    provider.set_faults(faults)
    assert_refused(finish_sign_in(client, provider, "alice-sub"))
    assert not _signed_in(client) and _identities() == 0
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["error"], detail["alg"]) == ("sso-failed", "unsupported_algorithm", alg)
    assert detail["token_issuer"] == provider.issuer and "subject" not in detail  # never verified


def test_a_properly_signed_token_still_signs_in_whatever_algorithms_discovery_lists(client, police, provider):
    provider.set_faults({"discovery": {"id_token_signing_alg_values_supported": ["none", "HS256"]}})
    response = finish_sign_in(client, provider, "alice-sub")
    assert response.status_code == 302 and _signed_in(client)


# --- item 6: a subject no identity can have is refused, audited, and never reaches the database --

@pytest.mark.parametrize("subject, problem", [
    ("x" * 256, "too-long"), ("x" * 5000, "too-long"), ("alice\x00sub", "control-character"),
    ("alice\x1b[2Jsub", "control-character"), ("alice\nsub", "control-character"), ("", "empty"),
], ids=["256", "5000", "nul", "escape", "newline", "empty"])
def test_an_empty_over_long_or_control_character_subject_is_refused_through_the_audited_path(
        client, police, provider, subject, problem):
    provider.set_faults({"id_token": {"sub": subject}})
    assert_refused(finish_sign_in(client, provider, "alice-sub"))
    assert not _signed_in(client) and _identities() == 0
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["claim"]) == ("sso-failed", "sub")
    assert detail.get("problem", "empty") == problem
    assert "subject" not in detail or (subject == "" and detail["subject"] == "")


def test_a_subject_of_exactly_255_characters_is_linked(client, police, provider):
    org, _ = police
    sam, _ = make_user(org, Role.police_officer, email="sam@police.example.test", password=None, totp=False)
    provider.set_faults({"login_as": LONGEST_SUBJECT})
    assert finish_sign_in(client, provider, "sam").status_code == 302 and _signed_in(client)
    assert db.session().scalar(select(SsoIdentity.subject).where(SsoIdentity.user_id == sam.id)) == LONGEST_SUBJECT


@pytest.mark.parametrize("login", ["erin-sub", "fay-sub"], ids=["nul", "over-long"])
def test_an_e_mail_no_address_could_be_is_refused_through_the_audited_path(client, police, provider, login):
    assert_refused(finish_sign_in(client, provider, login))
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["claim"], detail["subject"]) == ("sso-failed", "email", login)


# --- item 7: each refusal says what failed --------------------------------------------------------

@pytest.mark.parametrize("fault, error, claim, verified", [
    ({"nonce": "not-the-nonce-we-sent"}, "invalid_claim", "nonce", True),
    ({"aud": "someone-else"}, "invalid_claim", "aud", True),
    ({"exp_offset": -3600}, "expired_token", "exp", True),
    ({"iss": "http://evil.example.test"}, "invalid_claim", "iss", True),
    ({"bad_signature": True}, "bad_signature", None, False),
], ids=["bad-nonce", "wrong-audience", "expired", "wrong-issuer", "forged-signature"])
def test_a_refused_id_token_records_the_claim_at_fault_the_issuer_it_named_and_a_verified_subject(
        client, police, provider, fault, error, claim, verified):
    provider.set_faults({"id_token": fault})
    assert_refused(finish_sign_in(client, provider, "alice-sub"))
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["error"], detail.get("claim")) == ("sso-failed", error, claim)
    assert detail["issuer"] == provider.issuer
    assert detail["token_issuer"] == fault.get("iss", provider.issuer)
    assert detail.get("subject") == ("alice-sub" if verified else None)
    assert "alice@" not in json.dumps(detail)


def test_the_providers_own_error_code_is_recorded(client, police, provider):
    provider.set_faults({"authorization_error": "access_denied"})
    assert_refused(finish_sign_in(client, provider, "alice-sub"))
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["error"]) == ("sso-failed", "access_denied")
    assert "crafted provider" not in json.dumps(detail)  # the provider's free-text description is not kept


def test_a_tampered_state_is_recorded_as_a_mismatching_state(client, police, provider):
    assert_refused(finish_sign_in(client, provider, "alice-sub", lambda url: url.replace("state=", "state=x")))
    assert refusal_details()[-1]["error"] == "mismatching_state"


# --- item 8: refusals at start, the e-mail offered, the link, the deactivated ---------------------

def test_refusals_at_start_are_audited_with_their_reason(app, client, police, provider):
    make_org(OrgKind.school, code="NOSSO")
    closed = make_org(OrgKind.police, code="GONE1")
    admin.set_sso(None, closed.id, "http://127.0.0.1:9", "hub-test", SECRET)  # nothing listens on port 9
    provider.set_faults({"discovery": {"issuer": "http://evil.example.test"}})
    expected = [("NOPE", "sso-unknown-organisation", "Single sign-on is not set up"),
                ("NOSSO", "sso-not-set-up", "Single sign-on is not set up"),
                ("GONE1", "sso-provider-unreachable", "could not be reached"),
                ("POL01", "sso-discovery-issuer-mismatch", "do not match this organisation")]
    for code, reason, message in expected:
        assert_refused(client.get(f"/auth/sso/{code}/start?login_hint=alice-sub"), message)
        detail = refusal_details()[-1]
        assert (detail["reason"], detail["organisation_code"], detail["step"]) == (reason, code, "start")
    assert refusal_details()[-1]["issuer_offered"] == "http://evil.example.test"
    assert refusal_details()[-2]["issuer"] == "http://127.0.0.1:9"
    provider.set_faults({"discovery": {"token_endpoint": None}})
    assert_refused(client.get("/auth/sso/POL01/start?login_hint=alice-sub"), "do not match this organisation")
    assert refusal_details()[-1]["reason"] == "sso-discovery-incomplete"


def test_a_not_provisioned_refusal_carries_a_keyed_hash_of_the_e_mail_offered_never_the_address(
        client, police, provider):
    school = make_org(OrgKind.school)
    make_user(school, Role.dsl, email="carol@school.example.test")
    for login, email, standing in (("bob-sub", "bob@unprovisioned.example.test", "no-account"),
                                   ("carol-sub", "carol@school.example.test", "account-in-another-organisation")):
        assert_refused(finish_sign_in(client.application.test_client(), provider, login),
                       "Your account has not been set up")
        detail = refusal_details()[-1]
        assert (detail["reason"], detail["email_standing"]) == ("sso-not-provisioned", standing)
        assert detail["email_key"] == auth_sso_accounts.email_key(email)
        everything = json.dumps([e.detail for e in db.session().scalars(select(AuditEvent))])
        assert email not in everything and email.split("@")[0] + "@" not in everything


def test_a_token_without_an_e_mail_is_refused_as_not_provisioned_and_recorded_as_offering_none(
        client, police, provider):
    before = _identities()
    assert_refused(finish_sign_in(client, provider, "gus-sub"), "Your account has not been set up")
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["subject"], detail["email_standing"]) == ("sso-not-provisioned", "gus-sub",
                                                                               "none")
    assert "email_key" not in detail
    assert _identities() == before


def test_an_unverified_e_mail_is_recorded_as_such(client, police, provider):
    org, _ = police
    make_user(org, Role.police_officer, email="dave@police.example.test")
    assert_refused(finish_sign_in(client, provider, "dave-sub"), "Your account has not been set up")
    assert refusal_details()[-1]["email_standing"] == "unverified"


def test_the_link_names_the_issuer_and_subject(client, police, provider):
    org, user = police
    finish_sign_in(client, provider, "alice-sub")
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "update",
                                                         AuditEvent.detail.contains("sso-linked")))
    assert json.loads(event.detail) == {"change": "sso-linked", "issuer": provider.issuer, "subject": "alice-sub",
                                        "organisation": org.id}


def test_a_deactivated_account_not_yet_linked_is_told_so_only_with_a_verified_e_mail(client, police, provider):
    org, alice = police
    dave, _ = make_user(org, Role.police_officer, email="dave@police.example.test")
    for user in (alice, dave):
        admin.set_user_active(None, user.id, False)
    assert_refused(finish_sign_in(client.application.test_client(), provider, "alice-sub"),
                   "Your hub account has been deactivated")
    assert refusal_details()[-1]["reason"] == "sso-user-inactive"
    # Dave's provider does not vouch for the address: he is told nothing about the account.
    response = finish_sign_in(client.application.test_client(), provider, "dave-sub")
    assert_refused(response, "Your account has not been set up")
    assert "deactivated" not in response.get_data(as_text=True)


# --- the hosts the hub may call (hub/outbound.py, HUB_OUTBOUND_HOSTS) ----------------------------

@pytest.fixture
def trap():
    """A server on loopback that no list below names: the hub must never call it."""
    started = start_recording(body="{}")
    yield started
    started.stop()


def _operator_lists_only(app, provider) -> None:
    """HUB_OUTBOUND_HOSTS as an operator would set it for this provider alone: its host and port."""
    app.extensions["hub_outbound"] = outbound.parse(urlsplit(provider.issuer).netloc)


def test_a_sign_in_through_the_one_provider_the_operator_listed_works(app, client, police, provider):
    _operator_lists_only(app, provider)
    finish_sign_in(client, provider, "alice-sub")
    assert _signed_in(client)


def test_an_endpoint_the_discovery_document_puts_on_a_host_not_listed_gets_nothing(app, client, police, provider,
                                                                                  trap, caplog):
    """A provider (or whoever edits its discovery document) naming an internal JWKS URL cannot make
    the hub fetch it: the listed issuer does not vouch for the hosts it names."""
    _operator_lists_only(app, provider)
    provider.set_faults({"discovery": {"jwks_uri": f"{trap.url}/jwks"}})
    with caplog.at_level(logging.WARNING, logger="hub.outbound"):
        assert_refused(finish_sign_in(client, provider, "alice-sub"))
    assert trap.hits == [] and not _signed_in(client)
    assert refusal_details()[-1]["error"] == "provider-unreachable"
    assert f"outbound request refused: 127.0.0.1 port {trap.port}: host not in HUB_OUTBOUND_HOSTS" in caplog.text
    assert "/jwks" not in caplog.text


def test_an_issuer_saved_before_the_operator_took_its_host_off_the_list_is_not_called(app, client, provider, trap):
    org = make_org(OrgKind.police, code="POL02")
    admin.set_sso(None, org.id, trap.url, "hub-test", SECRET)  # loopback: listed by the testing default
    _operator_lists_only(app, provider)
    assert_refused(client.get("/auth/sso/POL02/start?login_hint=alice-sub"), "could not be reached")
    assert trap.hits == []
    detail = refusal_details()[-1]
    assert (detail["reason"], detail["error"], detail["issuer"]) == ("sso-provider-unreachable", "OutboundRefused",
                                                                     trap.url)
