"""Controls of docs/security.md that need a whole app: sign-out on every signed-in page (ASVS
V7.4.4), what the browser holds (V14.3.3), a repeated parameter (V15.3.7) and where the hub's
logs go (V16.2.3)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pyotp

from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, make_org, make_user, next_code, sign_in
from tests.support.routes import sample_url

REPO = Path(__file__).resolve().parents[1]
SIGN_OUT = 'href="/auth/sign-out"'
#: What the signed session cookie may hold once signed in: flask-login's session token (`_user_id`,
#: the hub's opaque session token, looked up in `user_session`), its freshness and identifier
#: hash, the CSRF token of the forms, and a path to return to after sign-in (never a name).
SESSION_KEYS = {"_user_id", "_fresh", "_id", "csrf_token", "next"}


def _session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value) if cookie else {}


def test_every_signed_in_page_offers_sign_out(app):
    """Every page a GET reaches, signed in as someone with wide reach (the hub's administrator
    and DPO), including the error pages, carries the sign-out link in its frame."""
    host = make_org(OrgKind.mace_host)
    user, secret = make_user(host, Role.hub_admin, Role.dpo)
    client = app.test_client()
    sign_in(client, user, secret)
    pages, without = 0, []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        url = sample_url(app, rule)
        if url.startswith("/auth/sign-out"):
            continue
        response = client.get(url)
        if response.mimetype != "text/html" or response.status_code in (301, 302, 303):
            continue
        pages += 1
        if SIGN_OUT not in response.get_data(as_text=True):
            without.append(f"{url} ({response.status_code})")
        assert _session(app, client).get("_user_id"), f"{url} signed the user out"
    assert without == [], "pages with no sign-out link: " + ", ".join(without)
    assert pages >= 30


def test_the_browser_holds_only_the_session_token_and_no_script_uses_browser_storage(app):
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    client = app.test_client()
    sign_in(client, user, secret)
    client.get("/auth/sign-out-everywhere")  # a page with a form: the CSRF token joins the session
    held = _session(app, client)
    assert set(held) <= SESSION_KEYS and "_user_id" in held, sorted(held)
    cookies = {c.key for c in client._cookies.values()}
    assert cookies == {app.config["SESSION_COOKIE_NAME"]}
    assert user.name not in str(held) and user.email not in str(held)
    # The hub's own scripts (GOV.UK Frontend's remembers only a component's open state).
    for script in (REPO / "hub" / "static").glob("*.js"):
        assert not re.search(r"localStorage|sessionStorage|indexedDB|document\.cookie", script.read_text()), script


def test_a_repeated_parameter_is_read_once_the_first_and_never_joined(app):
    """Flask keeps the query and the form apart, and a field read from either takes its first
    value: a doubled password is the first one typed, never both joined or the last."""
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    for first, second, signed in (("wrong password!!", PASSWORD, False), (PASSWORD, "wrong password!!", True)):
        client = app.test_client()
        token = csrf_token(client.get("/auth/sign-in").get_data(as_text=True))
        response = client.post("/auth/sign-in", data={"csrf_token": token, "email": [user.email, "x@example.test"],
                                                      "password": [first, second]})
        assert (response.status_code == 302) is signed, (first, response.status_code)
    # The query string repeats a filter; and a form field in the query does not reach the form.
    dpo, dpo_secret = make_user(make_org(OrgKind.mace_host), Role.dpo)
    client = app.test_client()
    sign_in(client, dpo, dpo_secret)
    assert client.get("/audit?action=read&action=export&action=").status_code == 200
    client = app.test_client()
    token = csrf_token(client.get("/auth/sign-in").get_data(as_text=True))
    response = client.post(f"/auth/sign-in?password={PASSWORD}", data={"csrf_token": token, "email": user.email})
    assert response.status_code == 200 and "Enter your password" in response.get_data(as_text=True)
    assert next_code(user.id, secret)  # the account is untouched by the attempts above (no lock)


def test_the_hub_logs_only_to_standard_error_and_gunicorn_to_standard_output(app):
    """The documented destinations: Python logging to standard error (collected by the process
    manager), gunicorn's access log to standard output; no file, socket, syslog, e-mail or HTTP
    handler anywhere."""
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in logging.Logger.manager.loggerDict]
    handlers = {h for logger in loggers for h in getattr(logger, "handlers", [])}
    ours = {h for h in handlers if not type(h).__module__.startswith("_pytest")}
    for handler in ours:
        assert type(handler) in (logging.StreamHandler, logging.NullHandler), handler
        assert isinstance(handler, logging.NullHandler) or handler.stream.name in ("<stderr>", "<stdout>"), handler
    settings = (REPO / "gunicorn.conf.py").read_text()
    assert re.search(r'^accesslog = "-"$', settings, re.M) and "errorlog" not in settings
    assert "logconfig" not in settings


def test_a_new_authenticator_seed_waits_in_the_cookie_only_encrypted(app):
    """ASVS V14.3.3: between the set-up page and the first code, the session cookie (signed, not
    encrypted) holds the new seed encrypted with the field keys; the same seed is shown again on
    a reload, and a code from it completes enrolment."""
    user, _ = make_user(make_org(OrgKind.school), Role.dsl, totp=False)
    client = app.test_client()
    token = csrf_token(client.get("/auth/sign-in").get_data(as_text=True))
    client.post("/auth/sign-in", data={"csrf_token": token, "email": user.email, "password": PASSWORD})
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    held = _session(app, client)
    assert held["enrol_secret"] and secret not in str(held)
    again = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    assert f'data-testid="totp-secret">{secret}<' in again
    done = client.post("/auth/two-factor/set-up", data={"csrf_token": csrf_token(again),
                                                         "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and client.get("/").status_code == 200
