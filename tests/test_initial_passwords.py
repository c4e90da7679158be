"""Initial passwords (ASVS V6.4.1; docs/security.md, "Password rules"): the hub generates them, an
administrator sees each once and never types one, only the hash is kept, they expire after
`initial_passwords.LIFETIME`, and the first sign-in with one reaches nothing but choosing one's own."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from hub import db
from hub.admin import service as admin_service
from hub.auth import initial_passwords, passwords
from hub.auth import service as auth_service
from hub.auth import sessions as auth_sessions
from hub.auth.views import OPEN_BEFORE_OWN_PASSWORD
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, initial_password_shown, make_org, make_user, post_form, sign_in
from tests.support.routes import sample_url

CHOOSE = "/auth/account/password"


@pytest.fixture
def administrator(app):
    user, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, user, secret)
    return client, user


def _new_user_form(school, email: str) -> dict:
    return {"name": "Nia Newcomer", "email": email, "organisation_id": school.id, "roles": ["dsl"]}


def _password_step(client, email: str, password: str):
    page = client.get("/auth/sign-in")
    return client.post("/auth/sign-in", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                              "email": email, "password": password})


def _enrol(client) -> None:
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    answer = client.post("/auth/two-factor/set-up", data={"csrf_token": csrf_token(page),
                                                          "code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200  # the recovery codes


def _choose(client, current: str, new: str):
    page = client.get(CHOOSE)
    return client.post(CHOOSE, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                     "current": current, "new": new, "confirm": new})


def _issued(school, email: str) -> admin_service.IssuedPassword:
    """An account with an initial password, issued as an administrator issues it."""
    administrator = make_user(make_org(OrgKind.mace_host), Role.hub_admin)[0]
    return admin_service.create_user_with_initial_password(administrator, admin_service.UserDetails(
        email=email, name="Nia Newcomer", organisation_id=school.id, roles={Role.dsl}))


def test_the_generated_password_is_shown_once_kept_only_as_its_hash_and_works(app, administrator):
    client, actor = administrator
    school = make_org(OrgKind.school)
    before = utcnow()
    shown = post_form(client, "/admin/users/new", _new_user_form(school, "nia@school.example.test"))
    password = initial_password_shown(shown)
    other = initial_password_shown(post_form(client, "/admin/users/new",
                                             _new_user_form(school, "noor@school.example.test")))
    assert password != other and len(password) >= passwords.MIN_LENGTH
    assert passwords.problem(password, passwords.context_words("nia@school.example.test")) is None

    user = db.session().scalar(select(User).where(User.email == "nia@school.example.test"))
    assert user.password_hash.startswith("$argon2id$") and password not in user.password_hash
    lifetime = initial_passwords.LIFETIME
    assert before + lifetime <= user.initial_password_expires_at.replace(tzinfo=before.tzinfo) <= utcnow() + lifetime
    for page in ("/admin/users", f"/admin/users/{user.id}"):  # never shown again
        assert password not in client.get(page).get_data(as_text=True)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "user",
                                                           AuditEvent.object_id == str(user.id))).all()
    assert any('"initial-password-issued"' in (e.detail or "") and e.actor_user_id == actor.id for e in events)
    assert not any(password in (e.detail or "") for e in events)

    theirs = app.test_client()
    step = _password_step(theirs, "nia@school.example.test", password)
    assert step.status_code == 302 and step.headers["Location"].endswith("/auth/two-factor/set-up")
    _enrol(theirs)
    assert theirs.get("/").headers["Location"].endswith(CHOOSE)
    chosen = _choose(theirs, password, "my own long passphrase now")
    assert chosen.status_code == 302 and theirs.get("/").status_code == 200
    db.session().expire_all()
    assert db.session().get(User, user.id).initial_password_expires_at is None
    assert auth_service.check_password("nia@school.example.test", password, None).status == "wrong"
    changed = db.session().scalars(select(AuditEvent.detail).where(AuditEvent.object_type == "user",
                                                                   AuditEvent.object_id == str(user.id))).all()
    assert any('"replaced":"initial-password"' in (d or "") for d in changed)
    assert not any("my own long passphrase now" in (d or "") for d in changed)


def test_until_they_choose_their_own_password_every_other_page_sends_them_to_choose_it(app):
    issued = _issued(make_org(OrgKind.school), "walker@school.example.test")
    client = app.test_client()
    _password_step(client, "walker@school.example.test", issued.password)
    _enrol(client)
    page = client.get(CHOOSE)
    assert page.status_code == 200 and "Choose your own password" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_BEFORE_OWN_PASSWORD or rule.rule.startswith("/api/"):
            continue
        url = sample_url(app, rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            answer = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert answer.status_code == 302 and answer.headers["Location"].endswith(CHOOSE), f"{method} {url}"
            checked += 1
    assert checked >= 100
    assert client.get("/auth/sign-out").status_code == 200  # they may still leave


def _expire(user_id: int) -> None:
    # No service moves time on: the moment the password was issued, LIFETIME and a minute ago.
    with unit_of_work() as s:
        s.execute(update(User).where(User.id == user_id)
                  .values(initial_password_expires_at=utcnow() - timedelta(minutes=1)))


def test_an_expired_initial_password_is_refused_with_a_clear_message(app):
    issued = _issued(make_org(OrgKind.school), "late@school.example.test")
    _expire(issued.user.id)
    client = app.test_client()
    refused = _password_step(client, "late@school.example.test", issued.password)
    assert refused.status_code == 200
    assert "ask your administrator for a new one" in refused.get_data(as_text=True)
    assert client.get("/auth/two-factor/set-up").headers["Location"].endswith("/auth/sign-in")  # no step further
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_id == str(issued.user.id),
                                                          AuditEvent.outcome == "refused")).all()[-1]
    assert '"initial-password-expired"' in event.detail and issued.password not in event.detail


def test_an_initial_password_that_expires_while_signed_in_cannot_be_replaced(app):
    issued = _issued(make_org(OrgKind.school), "slow@school.example.test")
    client = app.test_client()
    _password_step(client, "slow@school.example.test", issued.password)
    _enrol(client)
    _expire(issued.user.id)
    refused = _choose(client, issued.password, "my own long passphrase now")
    assert refused.status_code == 200
    assert "ask your administrator for a new one" in refused.get_data(as_text=True)
    db.session().expire_all()
    assert auth_service.check_password("slow@school.example.test", "my own long passphrase now", None).status \
        == "wrong"


def test_the_administrator_never_types_a_password(app, administrator):
    client, actor = administrator
    school = make_org(OrgKind.school)
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert 'type="password"' not in form
    typed = "a password I made up myself"
    shown = post_form(client, "/admin/users/new", {**_new_user_form(school, "typed@school.example.test"),
                                                   "password": typed})
    assert auth_service.check_password("typed@school.example.test", typed, None).status == "wrong"
    assert auth_service.check_password("typed@school.example.test", initial_password_shown(shown), None).status \
        == "ok"
    details = admin_service.UserDetails(email="other@school.example.test", name="Other", organisation_id=school.id,
                                        roles={Role.dsl}, password=typed)
    for call in (lambda: admin_service.create_user(actor, details),
                 lambda: admin_service.create_user_with_initial_password(actor, details),
                 lambda: admin_service.update_user(actor, actor.id, details)):
        with pytest.raises(Invalid) as refused:
            call()
        assert refused.value.errors == {"password": admin_service.GENERATED_NOT_TYPED}
    assert db.session().scalar(select(User).where(User.email == "other@school.example.test")) is None


def test_only_an_administrator_resets_a_password_and_the_refusal_is_audited(app):
    school = make_org(OrgKind.school)
    person, _ = make_user(school, Role.dsl)
    colleague, secret = make_user(school, Role.dsl)
    client = app.test_client()
    sign_in(client, colleague, secret)
    token = csrf_token(client.get("/auth/account").get_data(as_text=True))
    assert client.post(f"/admin/users/{person.id}/reset-password", data={"csrf_token": token}).status_code == 403
    with pytest.raises(Forbidden):
        admin_service.reset_password(colleague, person.id)
    refusals = db.session().scalars(select(AuditEvent).where(AuditEvent.actor_user_id == colleague.id,
                                                             AuditEvent.outcome == "refused")).all()
    assert {(e.object_type, e.object_id) for e in refusals} == {("page", "admin.reset_password"),
                                                                ("user", str(person.id))}
    db.session().expire_all()
    assert auth_service.check_password(person.email, PASSWORD, None).status == "ok"
    assert db.session().get(User, person.id).initial_password_expires_at is None


def test_a_session_through_single_sign_on_is_not_held_up_by_an_initial_password(app):
    issued = _issued(make_org(OrgKind.school), "both@school.example.test")
    user, _ = auth_sessions.start_session(issued.user.id, "sso")
    assert not initial_passwords.must_choose(user)
    user, _ = auth_sessions.start_session(issued.user.id, "password+totp")
    assert initial_passwords.must_choose(user)
