"""Signing in: passwords, second factors, lockout, sessions and their timeouts, CSRF."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from hub import create_app, db
from hub.admin import service as admin
from hub.auth import second_factor as auth_second_factor
from hub.auth import service as auth_service
from hub.auth import sessions as auth_sessions
from hub.auth.second_factor import enrol_totp
from hub.config import ConfigurationError
from hub.models.audit import AuditEvent
from hub.models.auth import RecoveryCode, SignInAttempt, User, UserSession
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, make_org, make_user, next_code, post_form, sign_in


@pytest.fixture
def dsl(app):
    school = make_org(OrgKind.school)
    return make_user(school, Role.dsl)


def _password_step(client, user, password=PASSWORD):
    return post_form(client, "/auth/sign-in", {"email": user.email, "password": password})


def test_a_user_signs_in_with_password_and_totp_and_reaches_the_home_page(client, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    page = client.get("/")
    assert page.status_code == 200
    assert user.name in page.get_data(as_text=True)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "sign-in",
                                                           AuditEvent.outcome == "done"))
    assert [e.actor_user_id for e in events] == [user.id]


def test_a_wrong_password_is_refused_with_a_clear_message_and_audited(client, dsl):
    user, _ = dsl
    response = _password_step(client, user, "wrong password!!")
    assert response.status_code == 200
    assert "The e-mail address or password is not right" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")).all()
    assert any(e.actor_user_id == user.id and "wrong-password" in e.detail for e in refused)


def test_an_unknown_email_gets_the_same_message_as_a_wrong_password(client, app):
    response = post_form(client, "/auth/sign-in", {"email": "nobody@example.test", "password": "whatever123"})
    assert "The e-mail address or password is not right" in response.get_data(as_text=True)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(client, dsl):
    user, secret = dsl
    for _ in range(5):
        _password_step(client, user, "wrong password!!")
    response = _password_step(client, user)
    assert "Too many wrong attempts for this e-mail address" in response.get_data(as_text=True)
    assert client.get("/auth/two-factor").status_code == 302  # no pending sign-in


def test_the_lock_falls_on_exactly_the_nth_wrong_password_and_not_before(app, dsl):
    """MAX_ACCOUNT_FAILURES wrong passwords are allowed their answer; the Nth locks."""
    user, _ = dsl
    client = app.test_client()
    answers = [_error_message(_password_step(client, user, "wrong password!!").get_data(as_text=True))
               for _ in range(auth_service.MAX_ACCOUNT_FAILURES + 1)]
    wrong, locked = "The e-mail address or password is not right", "Too many wrong attempts for this e-mail address"
    assert answers[:auth_service.MAX_ACCOUNT_FAILURES - 1] == [wrong] * (auth_service.MAX_ACCOUNT_FAILURES - 1)
    assert all(a.startswith(locked) for a in answers[auth_service.MAX_ACCOUNT_FAILURES - 1:])
    refused = [e.detail for e in db.session().scalars(select(AuditEvent).where(
        AuditEvent.action == "sign-in", AuditEvent.outcome == "refused").order_by(AuditEvent.id))]
    assert ['"locked":true' in d for d in refused[:auth_service.MAX_ACCOUNT_FAILURES]] == \
        [False] * (auth_service.MAX_ACCOUNT_FAILURES - 1) + [True]


def test_one_wrong_password_short_of_the_lock_still_lets_the_right_one_in(app, dsl):
    user, secret = dsl
    client = app.test_client()
    for _ in range(auth_service.MAX_ACCOUNT_FAILURES - 1):
        _password_step(client, user, "wrong password!!")
    sign_in(client, user, secret)
    assert client.get("/").status_code == 200


def test_the_second_factor_lock_also_falls_on_exactly_the_nth_wrong_code(app, dsl):
    user, secret = dsl
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    answers = [auth_second_factor.check_second_factor(user.id, wrong, "192.0.2.1")
               for _ in range(auth_service.MAX_ACCOUNT_FAILURES + 1)]
    assert answers == ["wrong"] * (auth_service.MAX_ACCOUNT_FAILURES - 1) + ["locked", "locked"]


def test_a_lock_expires(client, dsl):
    user, secret = dsl
    for _ in range(5):
        _password_step(client, user, "wrong password!!")
    with db.unit_of_work() as s:
        for attempt in s.scalars(select(SignInAttempt)):
            attempt.at = db.utcnow() - auth_service.ADDRESS_WINDOW - timedelta(seconds=1)
    sign_in(client, user, secret)
    assert client.get("/").status_code == 200


def _client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_stranger_cannot_lock_a_practitioner_out_from_another_address(app, dsl):
    user, secret = dsl
    stranger, practitioner = _client_at(app, "203.0.113.66"), _client_at(app, "198.51.100.20")
    for _ in range(auth_service.MAX_ACCOUNT_FAILURES + 2):
        response = _password_step(stranger, user, "guess guess")
    assert "Too many wrong attempts for this e-mail address" in response.get_data(as_text=True)
    # The stranger's address stays locked for this e-mail, even with the right password (no oracle)...
    assert "Too many wrong attempts for this e-mail address" in _password_step(stranger, user).get_data(as_text=True)
    # ...but the practitioner, at their own desk, signs in.
    sign_in(practitioner, user, secret)
    assert practitioner.get("/").status_code == 200


def test_unknown_locked_and_wrong_password_give_the_same_answer_after_the_same_work(app, dsl, monkeypatch):
    user, _ = dsl
    verified = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def verify(self, password_hash, password):
            verified.append(password_hash)
            return self.real.verify(password_hash, password)

    passwords = app.extensions["hub_passwords"]
    monkeypatch.setitem(app.extensions, "hub_passwords",
                        auth_service.Passwords(CountingHasher(passwords.hasher), passwords.dummy_hash))
    answers = {}
    for label, email in (("known", user.email), ("unknown", "nobody@example.test")):
        client = app.test_client()
        answers[label] = []
        for _ in range(auth_service.MAX_ACCOUNT_FAILURES + 1):
            verified.clear()
            page = post_form(client, "/auth/sign-in", {"email": email, "password": "wrong password!!"})
            answers[label].append(_error_message(page.get_data(as_text=True)))
            assert len(verified) == 1  # one password hash checked on every answer, locked or not
    assert answers["known"] == answers["unknown"]
    assert answers["known"][0] == "The e-mail address or password is not right"
    assert answers["known"][-1].startswith("Too many wrong attempts for this e-mail address")


def test_an_inactive_account_gets_the_answer_of_an_unknown_one(app, dsl):
    user, _ = dsl
    with db.unit_of_work():
        db.session().get(User, user.id).active = False
    page = post_form(app.test_client(), "/auth/sign-in", {"email": user.email, "password": PASSWORD})
    assert _error_message(page.get_data(as_text=True)) == "The e-mail address or password is not right"


def _error_message(html: str) -> str:
    match = re.search(r'class="govuk-error-message">\s*<span class="govuk-visually-hidden">Error:</span>'
                      r'\s*([^<]+)<', html)
    assert match, html[:200]
    return match.group(1).strip()


def test_many_failures_from_one_address_are_throttled_across_accounts(client, app):
    school = make_org(OrgKind.school)
    users = [make_user(school, Role.dsl)[0] for _ in range(5)]
    for i in range(auth_service.MAX_ADDRESS_FAILURES):
        _password_step(client, users[i % 5], "wrong password!!")
    response = _password_step(client, users[0])
    assert "Too many wrong attempts from this network" in response.get_data(as_text=True)


def test_a_wrong_totp_code_is_refused(client, dsl):
    user, secret = dsl
    _password_step(client, user)
    page = client.get("/auth/two-factor")
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    response = client.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                     "code": wrong})
    assert "The security code is not right" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_totp_code_cannot_be_replayed(client, app, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    used_step = db.session().get(User, user.id).totp_last_step
    other = app.test_client()
    _password_step(other, user)
    page = other.get("/auth/two-factor")
    response = other.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                    "code": pyotp.TOTP(secret).generate_otp(used_step)})
    assert "already been used" in response.get_data(as_text=True)
    assert other.get("/").status_code == 302


def test_a_recovery_code_works_once(client, app, dsl):
    user, secret = dsl
    codes = enrol_totp(user.id, secret, next_code(user.id, secret))
    for attempt, expected in ((client, 302), (app.test_client(), 200)):
        _password_step(attempt, user)
        page = attempt.get("/auth/two-factor")
        response = attempt.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                          "code": codes[0]})
        assert response.status_code == expected


def test_a_new_user_enrols_an_authenticator_and_gets_recovery_codes(client, app):
    school = make_org(OrgKind.school)
    user, _ = make_user(school, Role.dsl, totp=False)
    response = _password_step(client, user)
    assert response.headers["Location"].endswith("/auth/two-factor/set-up")
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    assert "data:image/svg+xml" in page
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/auth/two-factor/set-up", data={"csrf_token": csrf_token(page),
                                                            "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("<li>") >= 10
    assert client.get("/").status_code == 200


def test_sign_in_rotates_the_session_so_a_planted_cookie_is_useless(client, app, dsl):
    user, secret = dsl
    client.get("/auth/sign-in")
    planted = client.get_cookie("hub-session").value
    sign_in(client, user, secret)
    after = client.get_cookie("hub-session").value
    assert planted != after
    attacker = app.test_client()
    attacker.set_cookie("hub-session", planted)
    assert attacker.get("/").status_code == 302


def test_a_copied_cookie_stops_working_after_sign_out(client, app, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    copied = client.get_cookie("hub-session").value
    post_form(client, "/auth/sign-out", {})
    thief = app.test_client()
    thief.set_cookie("hub-session", copied)
    assert thief.get("/").status_code == 302


@pytest.mark.parametrize("change", ["deactivate", "roles"])
def test_a_copied_cookie_stops_working_after_deactivation_or_a_role_change(client, app, dsl, change):
    user, secret = dsl
    sign_in(client, user, secret)
    assert client.get("/").status_code == 200
    if change == "deactivate":
        admin.set_user_active(None, user.id, False)
    else:
        admin.update_user(None, user.id, admin.UserDetails(email=user.email, name=user.name,
                                                           organisation_id=user.organisation_id,
                                                           roles={Role.deputy_dsl}))
    assert client.get("/").status_code == 302


def test_sign_out_everywhere_ends_every_session(app, dsl):
    user, secret = dsl
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user, secret)
    sign_in(phone, user, secret)
    post_form(phone, "/auth/account", {})
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302


def test_an_idle_session_ends(client, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    with db.unit_of_work():
        for row in db.session().scalars(select(UserSession).where(UserSession.user_id == user.id)):
            row.last_seen_at = db.utcnow() - auth_service.session_policy().idle - timedelta(seconds=1)
    assert client.get("/").status_code == 302
    row = db.session().scalar(select(UserSession).where(UserSession.user_id == user.id))
    db.session().refresh(row)
    assert row.end_reason == "idle"


def test_a_session_ends_at_its_absolute_timeout_even_when_busy(client, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    with db.unit_of_work():
        for row in db.session().scalars(select(UserSession).where(UserSession.user_id == user.id)):
            row.created_at = db.utcnow() - auth_service.session_policy().absolute - timedelta(seconds=1)
    assert client.get("/").status_code == 302


def _session_row(user: User) -> UserSession:
    row = db.session().scalar(select(UserSession).where(UserSession.user_id == user.id))
    db.session().refresh(row)
    return row


def _sign_out_reasons(user: User) -> list[str]:
    events = db.session().scalars(select(AuditEvent).where(
        AuditEvent.action == "sign-out", AuditEvent.actor_user_id == user.id).order_by(AuditEvent.id))
    return [json.loads(e.detail)["reason"] for e in events]


def test_a_busy_session_stays_alive_because_each_request_moves_its_idle_clock(client, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    nearly_idle = db.utcnow() - auth_service.session_policy().idle + timedelta(minutes=1)
    with db.unit_of_work():
        _session_row(user).last_seen_at = nearly_idle
    assert client.get("/").status_code == 200
    row = _session_row(user)
    assert auth_service._aware(row.last_seen_at) > nearly_idle + auth_service.LAST_SEEN_GRANULARITY
    assert row.ended_at is None


def test_an_account_deactivated_outside_the_admin_pages_cannot_use_a_live_session(client, dsl):
    # An operator's UPDATE in the database (or a deactivation committed between the request's read
    # of its session and of its user) leaves the session open: the account's state still ends it.
    user, secret = dsl
    sign_in(client, user, secret)
    with db.unit_of_work():
        db.session().get(User, user.id).active = False
    assert client.get("/").status_code == 302
    assert _session_row(user).end_reason == "deactivated"
    assert _sign_out_reasons(user) == ["deactivated"]


def test_a_sign_out_racing_a_sign_out_everywhere_keeps_the_first_reason_and_records_one_end(app, dsl):
    user, _ = dsl
    _, laptop = auth_sessions.start_session(user.id, "password+totp")
    on_laptop = auth_sessions.load_session(laptop.token)  # the laptop's sign-out request has loaded its session
    auth_sessions.end_all_sessions(on_laptop, "sign-out-everywhere")  # the phone ends every session meanwhile
    auth_sessions.sign_out(on_laptop)
    assert _session_row(user).end_reason == "sign-out-everywhere"
    assert _sign_out_reasons(user) == ["sign-out-everywhere"]


def test_a_form_without_its_csrf_token_is_rejected_and_changes_nothing(client, dsl):
    user, _ = dsl
    response = client.post("/auth/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert client.get("/auth/two-factor").status_code == 302


def test_a_signed_in_form_post_with_a_forged_csrf_token_is_rejected(client, dsl):
    user, secret = dsl
    sign_in(client, user, secret)
    response = client.post("/auth/account", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still signed in: nothing happened


def test_cookies_are_httponly_and_samesite(client, dsl):
    user, secret = dsl
    response = sign_in(client, user, secret)
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_production_cookies_are_secure_with_the_host_prefix(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.test")
    app = create_app({"env": "production"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    app.extensions["hub_engine"].dispose()


def test_production_refuses_to_start_without_its_secrets(monkeypatch):
    monkeypatch.delenv("HUB_FIELD_KEYS")
    with pytest.raises(ConfigurationError, match="HUB_FIELD_KEYS"):
        create_app({"env": "production"})


def test_recovery_codes_are_kept_as_salted_argon2id_hashes_and_an_old_one_still_works_once(app, dsl):
    """ASVS 5.0 V6.5.2: a copied database must not give up the codes to a brute force."""
    user, secret = dsl
    codes = auth_second_factor.enrol_totp(user.id, secret, next_code(user.id, secret))
    stored = db.session().scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == len(codes) and all(h.startswith("$argon2id$") for h in stored)
    assert len(set(stored)) == len(stored)  # salted: no two alike
    assert not any(hashlib.sha256(c.replace("-", "").encode()).hexdigest() in stored for c in codes)
    with db.unit_of_work() as s:  # a code issued before the change, kept as its SHA-256
        s.add(RecoveryCode(user_id=user.id, code_hash=hashlib.sha256(b"abcdef123456").hexdigest()))
    with db.unit_of_work():
        assert auth_second_factor._use_recovery_code(user, "ABCDEF-123456")
    with db.unit_of_work():
        assert not auth_second_factor._use_recovery_code(user, "abcdef-123456")  # once only
        assert auth_second_factor._use_recovery_code(user, codes[3].upper())
        assert not auth_second_factor._use_recovery_code(user, "000000-000000")
