"""Secure by default, proven: every route needs sign-in unless it is on the short public list;
every page carries strict security headers; bad input never shows a stack trace."""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from importlib.metadata import version

import pytest
from flask import Flask, g
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub import db, home
from hub.config import ConfigurationError, load_settings
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, enrol, make_child, make_org, make_user, sign_in
from tests.support.routes import sample_url

PUBLIC_ENDPOINTS = {
    "static", "core.health", "auth.sign_in", "auth.second_factor", "auth.enrol", "auth.sign_out",
    "sso.start", "sso.callback", "audit.public_key", "audit.checkpoint",
    "api.token", "api.openapi",  # the OAuth2 token endpoint authenticates the client itself
}


def test_only_the_known_public_endpoints_are_marked_public(app):
    public = {name for name, view in app.view_functions.items() if getattr(view, "hub_public", False)}
    assert public | {"static"} == PUBLIC_ENDPOINTS


def test_every_other_route_answers_only_after_sign_in(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = sample_url(app, rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method)
            assert response.status_code in (302, 401), f"{method} {url} answered {response.status_code} unsigned"
            if response.status_code == 302:
                assert "/auth/sign-in" in response.headers["Location"]
            checked += 1
    assert checked >= 10


def test_every_api_route_demands_a_bearer_token_instead_of_a_session(app, client):
    """The API's own authentication (`@api_auth`) is the only other exception to sign-in, and
    only under /api/v1: each such route refuses a request without a valid token."""
    api_auth = {name for name, view in app.view_functions.items() if getattr(view, "hub_api_auth", False)}
    checked = 0
    for rule in app.url_map.iter_rules():
        under_api = rule.rule.startswith("/api/")
        assert (rule.endpoint in api_auth) == (under_api and rule.endpoint not in PUBLIC_ENDPOINTS), rule.rule
        if rule.endpoint not in api_auth:
            continue
        url = sample_url(app, rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
                response = client.open(url, method=method, json={}, headers=headers)
                assert response.status_code == 401, f"{method} {url} answered {response.status_code} without a token"
                assert response.mimetype == "application/problem+json"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                checked += 1
    assert checked >= 6


def test_health_answers_without_sign_in(client):
    assert client.get("/health").json == {"status": "ok"}


def test_every_page_has_strict_security_headers(client):
    response = client.get("/auth/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # plain http in tests


def test_hsts_is_sent_over_tls(client):
    response = client.get("/auth/sign-in", base_url="https://localhost")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_pages_have_no_inline_script(client):
    html = client.get("/auth/sign-in").get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, f"inline script: {tag}"


def test_an_oversized_request_is_refused(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/auth/sign-in", data={"email": "x" * 5000})
    assert response.status_code == 413


def test_an_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_unexpected_error_shows_a_reference_not_a_stack_trace(app):
    @app.route("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    client = app.test_client()
    school = make_org(OrgKind.school)
    user, secret = make_user(school, Role.dsl)
    sign_in(client, user, secret)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in body and "Traceback" not in body
    assert "Reference" in body


def _signed_in_dsl(app):
    client = app.test_client()
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    sign_in(client, user, secret)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return client


def test_a_connection_lost_mid_request_shows_the_hub_s_error_page_with_its_menu(app):
    """A database restarted or a connection ended under a request (proof.faults) leaves the
    session's transaction unusable: the error page's menu still reads, on a fresh connection."""
    @app.route("/lost-connection-for-test")
    def lost():
        db.session().execute(select(1))
        db.session().connection().invalidate()  # what the server ending the connection does
        db.session().execute(select(1))

    response = _signed_in_dsl(app).get("/lost-connection-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in body and "Traceback" not in body
    assert 'data-testid="signed-in-as"' in body


def test_the_error_page_shows_without_its_menu_when_the_database_cannot_be_read(app, monkeypatch):
    @app.route("/database-gone-for-test")
    def gone():
        raise RuntimeError("the database is restarting")

    def unreadable(_user):
        raise RuntimeError("the menu's counts cannot be read")

    client = _signed_in_dsl(app)
    monkeypatch.setattr(home, "work_for", unreadable)
    response = client.get("/database-gone-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in body and "Reference" in body
    assert "Traceback" not in body and 'data-testid="signed-in-as"' not in body


def test_the_error_page_shows_when_even_the_signed_in_user_cannot_be_read(app, monkeypatch):
    @app.route("/user-unreadable-for-test")
    def unreadable_user():
        g.pop("_login_user", None)  # as when the first query of the request, the user's, failed
        raise RuntimeError("the database is restarting")

    def gone(*_args):
        raise RuntimeError("the database is restarting")

    client = _signed_in_dsl(app)
    monkeypatch.setattr(app.login_manager, "_user_callback", gone)
    monkeypatch.setattr(app.login_manager, "_request_callback", gone)
    monkeypatch.setattr(home, "work_for", gone)
    response = client.get("/user-unreadable-for-test")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in body and "Traceback" not in body


def test_a_connection_lost_as_a_request_ends_does_not_spoil_its_answer(app, monkeypatch):
    @app.route("/ends-without-its-connection-for-test")
    def ends():
        db.session().execute(select(1))
        return "done"

    client = _signed_in_dsl(app)
    close = Session.close

    def dead(self):
        monkeypatch.setattr(Session, "close", close)
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Session, "close", dead)
    response = client.get("/ends-without-its-connection-for-test")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "done")


@pytest.mark.parametrize("package", ["flask", "werkzeug", "authlib", "cryptography"])
def test_installed_security_sensitive_packages_have_the_known_fixes(package):
    minimum = {
        "flask": (3, 1, 1),        # 3.1.1: signing key rotation fallback used the wrong key
        "werkzeug": (3, 1, 4),     # 3.1.4/3.1.5: safe_join on Windows device names, multipart limits
        # 1.6.4-1.6.11: JWS crit-header forgery, oversized JOSE tokens, state bound to session (GHSA-jj8c-mmj3-mmgv)
        "authlib": (1, 6, 11),
        "cryptography": (44, 0, 1),  # bundled OpenSSL fixes
    }[package]
    installed = tuple(int(p) for p in re.findall(r"\d+", version(package))[:3])
    assert installed >= minimum, f"{package} {installed} is older than {minimum}"


def test_every_page_title_is_plain_text(app):
    """A title is text only: markup there means a template edit went into the wrong block."""
    host, school = make_org(OrgKind.mace_host), make_org(OrgKind.school)
    user, secret = make_user(host, Role.dpo, Role.hub_admin)
    child = make_child("Title", "Check")
    enrol(child, school)
    client = app.test_client()
    sign_in(client, user, secret)
    for url in ("/", "/children", f"/children/{child.id}", "/admin", "/admin/users", "/audit", "/audit/integrity",
                "/audit/flags", "/sharing", "/sharing/register", "/auth/account"):
        html = client.get(url).get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert "<" not in title and title.strip().endswith("Safeguarding hub"), (url, title[:200])


def _trust(app, *proxies):
    app.config["HUB"] = dataclasses.replace(app.config["HUB"], trusted_proxies=frozenset(proxies))


def _last_event():
    return db.session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


def test_a_request_id_sent_by_a_client_is_neither_echoed_nor_written_to_the_audit_log(app, client):
    response = post_sign_in_form(client, headers={"X-Request-Id": "forged-by-client"})
    assert response.headers["X-Request-Id"] != "forged-by-client"
    assert _last_event().request_id == response.headers["X-Request-Id"]


def test_a_request_id_from_a_configured_trusted_proxy_is_kept(app, client):
    _trust(app, "10.0.0.7")
    response = post_sign_in_form(client, headers={"X-Request-Id": "lb-1234"}, remote="10.0.0.7")
    assert response.headers["X-Request-Id"] == "lb-1234"
    assert _last_event().request_id == "lb-1234"
    other = post_sign_in_form(client, headers={"X-Request-Id": "lb-1234"}, remote="10.0.0.8")
    assert other.headers["X-Request-Id"] != "lb-1234"


def test_behind_a_trusted_proxy_the_clients_own_address_is_recorded(app, client):
    _trust(app, "10.0.0.7")
    post_sign_in_form(client, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}, remote="10.0.0.7")
    assert _last_event().client_address == "203.0.113.9"  # the left entry is the client's own say
    post_sign_in_form(client, headers={"X-Forwarded-For": "203.0.113.9"}, remote="198.51.100.1")
    assert _last_event().client_address == "198.51.100.1"  # no trusted proxy: the header is ignored


def test_trusted_proxies_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "10.0.0.7, ::1")
    assert load_settings(tmp_path).trusted_proxies == {"10.0.0.7", "::1"}
    monkeypatch.delenv("HUB_TRUSTED_PROXIES")
    assert load_settings(tmp_path).trusted_proxies == frozenset()
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ConfigurationError):
        load_settings(tmp_path)


def post_sign_in_form(client, headers=None, remote="127.0.0.1"):
    """A wrong password: a request that writes an audit event with the request's origin."""
    environ = {"REMOTE_ADDR": remote}
    token = csrf_token(client.get("/auth/sign-in").get_data(as_text=True))
    return client.post("/auth/sign-in", data={"csrf_token": token, "email": "nobody@example.test",
                                               "password": "not the password"},
                       headers=headers or {}, environ_base=environ)


def test_a_refused_csrf_token_is_audited_without_what_the_form_carried(app, client):
    user, secret = make_user(make_org(OrgKind.school), Role.dsl)
    sign_in(client, user, secret)
    response = client.post("/auth/account", data={"csrf_token": "forged", "note": "Child A said ..."})
    assert response.status_code == 400
    event = _last_event()
    assert (event.outcome, event.object_type, event.object_id, event.actor_user_id) == (
        "refused", "csrf", "auth.account", user.id)
    assert "Child A" not in (event.detail or "")


def test_a_refused_csrf_token_before_sign_in_is_audited_too(app, client):
    response = client.post("/auth/sign-in", data={"email": "x@example.test", "password": "x"})
    assert response.status_code == 400
    event = _last_event()
    assert (event.outcome, event.object_type, event.actor_user_id) == ("refused", "csrf", None)


def test_wsgi_py_gives_any_wsgi_server_the_app(monkeypatch, database_url):
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    try:
        assert isinstance(wsgi.app, Flask)
        assert wsgi.app.test_client().get("/health").json == {"status": "ok"}
    finally:
        wsgi.app.extensions["hub_engine"].dispose()
        sys.modules.pop("wsgi", None)
