"""Passwords (docs/security.md, "Password rules"; ASVS V6.2): any characters, up to 200, checked
exactly as typed; a new one is refused when short, one of the 3,000 most common, any other of the
breached list, or built on the hub's name or the person's e-mail; the fields are password fields
that password managers and pasting can fill."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from hub import db
from hub.admin import service as admin_service
from hub.auth import password_change, passwords
from hub.auth import service as auth_service
from hub.db import utcnow
from hub.errors import Forbidden, Invalid
from hub.models.audit import AuditEvent
from hub.models.auth import User, UserSession
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, make_org, make_user, next_code, post_form, sign_in


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.inputs[attributes["name"]] = attributes


def _inputs(html: str) -> dict[str, dict[str, str | None]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


def _password_step(client, email: str, password: str):
    page = client.get("/auth/sign-in")
    return client.post("/auth/sign-in", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                              "email": email, "password": password})


@pytest.mark.parametrize("password", [
    "qwerty123456", "LeaveMeAlone", "1q2w3e4r5t6y",   # among the 3,000 most common, in any case
    "password2024123", "sunshine12345678",            # a common one with digits added
])
def test_a_common_password_is_refused(app, password):
    school = make_org(OrgKind.school)
    with pytest.raises(Invalid) as refused:
        make_user(school, Role.dsl, password=password)
    assert refused.value.errors["password"] == "This is one of the most common passwords: choose another"


BREACHED = "This password has appeared in a data breach: choose another"


@pytest.mark.parametrize("password", [
    "gfhjkmgfhjkm", "89876065093rax",      # ranks 3,383 and 23,553 of zxcvbn's breached list
    "SonyEricsson",                        # in any case
    "finalfantasy2024",                    # with digits added
    "f1n@lf@nt@sy", "S0nyEr1cSS0n",        # l33t: 1 for i, @ for a, 0 for o
])
def test_a_password_from_the_breached_list_is_refused_with_its_own_message(app, password, monkeypatch):
    """ASVS V6.2.12: the whole of zxcvbn's list of passwords from public breaches, past the 3,000
    most common, looked up in the installed package: no connection is opened."""
    assert re.sub(r"\d+$", "", password.casefold()) not in passwords.COMMON
    school = make_org(OrgKind.school)

    def no_network(*_args, **_kwargs):
        raise AssertionError("the breached-password check opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(Invalid) as refused:
        make_user(school, Role.dsl, password=password)
    assert refused.value.errors["password"] == BREACHED


def test_a_person_cannot_choose_a_breached_password_and_a_passphrase_holding_a_breached_word_is_fine(app):
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    client = app.test_client()
    sign_in(client, user, secret)
    refused = _change(client, PASSWORD, "lytghjgtnhjdcr")
    assert refused.status_code == 200 and BREACHED in refused.get_data(as_text=True)
    assert auth_service.check_password(user.email, PASSWORD, None).status == "ok"
    assert _change(client, PASSWORD, "finalfantasy is what we played").status_code == 302


@pytest.mark.parametrize("email, password, word", [
    ("someone@example.test", "Safeguarding is my job", "safeguard"),
    ("jane.rowntree@school.example.test", "rowntree family 1987", "rowntree"),
])
def test_a_password_built_on_the_hubs_name_or_the_persons_e_mail_is_refused(app, email, password, word):
    school = make_org(OrgKind.school)
    with pytest.raises(Invalid) as refused:
        make_user(school, Role.dsl, email=email, password=password)
    assert refused.value.errors["password"].endswith(f"({word})")


def test_the_rules_are_the_documented_ones():
    assert len(passwords.COMMON) == 3000 and "123456" in passwords.COMMON
    assert len(passwords.BREACHED) == 30000 and passwords.COMMON < passwords.BREACHED
    assert passwords.problem("a" * 11, set()) == "Passwords must be at least 12 characters"
    assert passwords.problem("b" * 201, set()) == "Passwords must be 200 characters or fewer"
    assert passwords.problem(PASSWORD, passwords.context_words("user1@example.test")) is None
    # Two- and three-letter parts of an address are chance in a passphrase, not context.
    assert passwords.context_words("al.b@example.test") == set(passwords.HUB_WORDS)


@pytest.mark.parametrize("password", [
    "   ü 漢字 密码 ñ   \t é  ",        # spaces, tabs and any script; no composition rule
    "x" * 64 + " and then some more " + "y" * 100,   # far beyond 64 characters
])
def test_any_characters_and_long_passwords_sign_in_exactly_as_set(app, password):
    user, secret = make_user(make_org(OrgKind.school), Role.dsl, password=password)
    # Four wrong tries (the fifth would lock the account): changed case, one character short, one
    # space more, and trimmed or cut at 64 (whichever differs).
    variants = {password.upper(), password[:-1], password + " ", password.strip(), password[:64]} - {password}
    assert len(variants) == 4
    for variant in variants:
        client = app.test_client()
        refused = _password_step(client, user.email, variant)
        assert refused.status_code == 200 and "The e-mail address or password is not right" in \
            refused.get_data(as_text=True), repr(variant)
    client = app.test_client()
    sign_in(client, user, secret, password=password)
    assert client.get("/").status_code == 200


def test_the_password_fields_are_password_fields_a_manager_or_paste_can_fill(app):
    client = app.test_client()
    html = client.get("/auth/sign-in").get_data(as_text=True)
    field = _inputs(html)["password"]
    assert field["type"] == "password" and field["autocomplete"] == "current-password"
    assert not [name for name in field if name.startswith("on")]  # no onpaste, oncopy or other handler
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # and no inline script to block pasting
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    sign_in(client, user, secret)
    fields = _inputs(client.get("/auth/account/password").get_data(as_text=True))
    for name in ("current", "new", "confirm"):
        assert fields[name]["type"] == "password" and not [a for a in fields[name] if a.startswith("on")]


def test_the_second_step_is_still_needed_after_any_password(app):
    """However the password was typed, it is only the first step (a wrong code ends nowhere)."""
    password = "   ü 漢字 密码 ñ   \t é  "
    user, secret = make_user(make_org(OrgKind.school), Role.dsl, password=password)
    client = app.test_client()
    assert _password_step(client, user.email, password).status_code == 302
    assert client.get("/").status_code == 302
    page = client.get("/auth/two-factor")
    wrong = str((int(next_code(user.id, secret)) + 1) % 1_000_000).zfill(6)
    client.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": wrong})
    assert client.get("/").status_code == 302


def test_a_password_reset_leaves_the_second_factor_and_a_factor_reset_ends_every_session(app):
    """ASVS V6.4.3, V6.4.4: the one way back in after a forgotten password (an administrator's
    temporary password) still asks for the authenticator; a lost authenticator is reset by an
    administrator only, which ends the person's sessions, is audited, and sends them to enrol
    a new one (after the password) at their next sign-in."""
    host = make_org(OrgKind.mace_host)
    administrator, _ = make_user(host, Role.hub_admin)
    school = make_org(OrgKind.school)
    person, secret = make_user(school, Role.dsl)
    issued = admin_service.reset_password(administrator, person.id).password
    client = app.test_client()
    step = _password_step(client, person.email, issued)
    assert step.status_code == 302 and step.headers["Location"].endswith("/auth/two-factor")
    assert client.get("/").status_code == 302  # the password alone reaches nothing

    theirs = app.test_client()
    sign_in(theirs, person, secret, password=issued)
    assert _change(theirs, issued, "a brand new one of my own").status_code == 302
    assert theirs.get("/").status_code == 200
    someone_else = make_user(school, Role.dsl)[0]
    with pytest.raises(Forbidden):
        admin_service.reset_second_factor(someone_else, person.id)
    admin_service.reset_second_factor(administrator, person.id)
    assert theirs.get("/").status_code == 302  # every session ended at once
    again = app.test_client()
    step = _password_step(again, person.email, "a brand new one of my own")
    assert step.status_code == 302 and step.headers["Location"].endswith("/auth/two-factor/set-up")
    assert again.get("/").status_code == 302
    reset = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "user",
                                                          AuditEvent.object_id == str(person.id))).all()
    assert any('"totp-reset"' in (event.detail or "") and event.actor_user_id == administrator.id for event in reset)


def _change(client, current: str, new: str, confirm: str | None = None):
    page = client.get("/auth/account/password")
    return client.post("/auth/account/password", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "current": current, "new": new,
        "confirm": new if confirm is None else confirm})


def test_a_person_changes_their_own_password_with_their_current_one_and_their_other_sessions_end(app):
    """ASVS V6.2.2, V6.2.3, V7.5.1: signed in, with the current password, to one the rules allow;
    the session in use goes on, every other ends; the log says the password changed, not what to."""
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, user, secret)
    sign_in(elsewhere, user, secret)
    assert 'href="/auth/account/password"' in here.get("/auth/account").get_data(as_text=True)
    fields = _inputs(here.get("/auth/account/password").get_data(as_text=True))
    assert [fields[f]["type"] for f in ("current", "new", "confirm")] == ["password"] * 3
    assert fields["new"]["autocomplete"] == "new-password"

    new = "a fresh passphrase of mine"
    for current, typed, confirm, message in (
            ("not my password!", new, new, "Your current password is not right"),
            (PASSWORD, "qwerty123456", "qwerty123456", "This is one of the most common passwords"),
            (PASSWORD, new, new + "!", "The two new passwords are not the same"),
            (PASSWORD, PASSWORD, PASSWORD, "Choose a password different from your current one")):
        refused = _change(here, current, typed, confirm)
        assert refused.status_code == 200 and message in refused.get_data(as_text=True), message
    assert auth_service.check_password(user.email, PASSWORD, None).status == "ok"  # nothing changed yet

    changed = _change(here, PASSWORD, new)
    assert changed.status_code == 302 and changed.headers["Location"].endswith("/auth/account")
    assert here.get("/").status_code == 200 and elsewhere.get("/").status_code == 302
    assert auth_service.check_password(user.email, PASSWORD, None).status == "wrong"
    assert auth_service.check_password(user.email, new, None).status == "ok"
    events = db.session().scalars(select(AuditEvent.detail).where(AuditEvent.object_type == "user",
                                                                  AuditEvent.object_id == str(user.id))).all()
    assert any('"password-changed"' in (d or "") for d in events)
    assert not any(new in (d or "") or PASSWORD in (d or "") for d in events)


def test_guessing_the_current_password_from_a_borrowed_session_locks_the_account(app):
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    client = app.test_client()
    sign_in(client, user, secret)
    for n in range(auth_service.MAX_ACCOUNT_FAILURES):
        _change(client, f"guess number {n}!", "a fresh passphrase of mine")
    locked = _change(client, PASSWORD, "a fresh passphrase of mine")
    assert "this account is locked" in locked.get_data(as_text=True)
    assert auth_service.check_password(user.email, PASSWORD, None).status == "locked"


def test_someone_signed_in_through_their_provider_has_no_password_to_change(app):
    user, _ = make_user(make_org(OrgKind.school), Role.dsl, password=None)
    assert not password_change.has_password(user)  # the account page offers no change
    errors = password_change.change_password(user, "anything at all", "a fresh passphrase of mine", None)
    assert errors == {"current": "Your organisation's sign-in provider looks after your password: change it there"}


def test_an_administrator_changes_how_someone_signs_in_only_soon_after_signing_in_themselves(app):
    """ASVS V7.5.1: another person's e-mail, a temporary password and a second-factor reset need
    an administrator who signed in within 10 minutes; later (a session left open, a stolen cookie)
    they are refused and nothing changes, while their other edits go on; signing in again opens them."""
    host = make_org(OrgKind.mace_host)
    administrator, admin_secret = make_user(host, Role.hub_admin)
    school = make_org(OrgKind.school)
    person, _ = make_user(school, Role.dsl, email="person@school.example.test")
    client = app.test_client()
    sign_in(client, administrator, admin_secret)
    with db.unit_of_work() as s:
        s.execute(update(UserSession).where(UserSession.user_id == administrator.id)
                  .values(created_at=utcnow() - admin_service.REAUTHENTICATE_WITHIN - timedelta(minutes=1)))
    form = {"name": person.name, "email": person.email, "organisation_id": school.id, "roles": ["dsl"]}
    refused = post_form(client, f"/admin/users/{person.id}", {**form, "email": "someone.else@school.example.test"})
    assert refused.status_code == 200 and "Sign out and sign in again" in refused.get_data(as_text=True)
    assert post_form(client, f"/admin/users/{person.id}", {**form, "name": "A New Name"}).status_code == 302
    for reset in ("reset-password", "reset-two-factor"):
        answer = post_form(client, f"/admin/users/{person.id}/{reset}", {}, form_page=f"/admin/users/{person.id}")
        assert "Sign out and sign in again" in client.get(answer.headers["Location"]).get_data(as_text=True)
    db.session().expire_all()
    kept = db.session().get(User, person.id)
    assert (kept.email, kept.name, kept.totp_confirmed_at is not None) == (person.email, "A New Name", True)
    assert auth_service.check_password(person.email, PASSWORD, None).status == "ok"

    fresh = app.test_client()
    sign_in(fresh, administrator, admin_secret)
    changed = post_form(fresh, f"/admin/users/{person.id}", {**form, "email": "someone.else@school.example.test"})
    assert changed.status_code == 302
    assert post_form(fresh, f"/admin/users/{person.id}/reset-two-factor", {},
                     form_page=f"/admin/users/{person.id}").status_code == 302
    db.session().expire_all()
    assert db.session().get(User, person.id).totp_confirmed_at is None
