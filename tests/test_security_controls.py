"""Controls docs/security.md listed as "exist but no test proves": stored markup is escaped on the
page that shows it, a sign-in's `next` never leaves the site, TRACE is refused, no repository
file is served, the security headers name every directive, and a tampered ciphertext is refused."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from hub import create_app, crypto
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, csrf_token, make_child, make_org, make_user, next_code

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_a_childs_stored_name_is_escaped_on_the_page_that_shows_it(app, client):
    authority = make_org(OrgKind.childrens_social_care)
    worker, secret = make_user(authority, Role.social_worker)
    child = make_child(MARKUP, "Escaped", responsible_authority_id=authority.id)
    _sign_in(client, worker, secret)
    body = client.get(f"/children/{child.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in body and "<script>alert(" not in body and "<img src=x" not in body


@pytest.mark.parametrize("target", [
    "https://evil.example.test/", "//evil.example.test/", "/\\evil.example.test", "https:/evil.example.test",
    "javascript:alert(1)", " /children",
])
def test_sign_in_never_sends_anyone_off_the_site(app, client, target):
    school = make_org(OrgKind.school)
    user, secret = make_user(school, Role.dsl)
    response = _sign_in(client, user, secret, next_url=target)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location, location


def test_a_next_with_a_control_character_is_refused_at_the_door(client):
    assert client.get("/auth/sign-in", query_string={"next": "\t//evil.example.test"}).status_code == 400


def test_sign_in_returns_to_the_page_asked_for_on_this_site(app, client):
    school = make_org(OrgKind.school)
    user, secret = make_user(school, Role.dsl)
    assert _sign_in(client, user, secret, next_url="/notifications").headers["Location"] == "/notifications"


def test_trace_is_refused(client):
    assert client.open("/auth/sign-in", method="TRACE").status_code == 405


@pytest.mark.parametrize("path", ["/.git/config", "/.env", "/instance/dev-secrets.json", "/static/../hub/config.py",
                                  "/pyproject.toml"])
def test_no_repository_or_instance_file_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_headers_name_every_directive_docs_security_relies_on(client):
    headers = client.get("/auth/sign-in").headers
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"):
        assert directive in csp, directive
    assert headers["Referrer-Policy"] == "same-origin"
    tls = client.get("/auth/sign-in", base_url="https://localhost").headers["Strict-Transport-Security"]
    assert tls == "max-age=63072000; includeSubDomains"  # two years, every subdomain


def test_a_tampered_ciphertext_is_refused_not_read(app):
    token = crypto.encrypt("Rowan Featherstone")
    assert crypto.decrypt(token) == "Rowan Featherstone"
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(RuntimeError, match="could not be decrypted") as refused:
        crypto.decrypt(tampered)
    assert isinstance(refused.value.__cause__, InvalidToken)


def _sign_in(client, user, secret, next_url: str | None = None):
    query = {"next": next_url} if next_url is not None else {}
    page = client.get("/auth/sign-in", query_string=query)
    response = client.post("/auth/sign-in", query_string=query, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = client.get("/auth/two-factor")
    return client.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                 "code": next_code(user.id, secret)})


def test_a_production_hub_never_runs_the_debugger_whatever_the_environment_says(database_url, monkeypatch):
    """ASVS V13.4.2: FLASK_DEBUG (or a DEBUG setting) left in a production environment changes
    nothing: no debugger, no tracebacks on error pages."""
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.test")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("FLASK_ENV", "development")
    production = create_app({"env": "production"})
    try:
        assert production.debug is False and not production.config.get("DEBUG")
        assert production.config["PROPAGATE_EXCEPTIONS"] in (None, False)
    finally:
        production.extensions["hub_engine"].dispose()
