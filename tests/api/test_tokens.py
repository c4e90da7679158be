"""The token endpoint (client credentials, authlib) and bearer-token checks on the resources."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, update

from hub import db
from hub.api import service as api
from hub.db import unit_of_work, utcnow
from hub.models.api import ApiClient, ApiToken
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation
from tests.support.api import basic, bearer, episode_body, get_token

TOKEN_URL = "/api/v1/oauth/token"
GRANT = {"grant_type": "client_credentials"}


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def test_a_token_is_issued_with_basic_auth_and_stored_only_as_its_hash(world, client):
    response = client.post(TOKEN_URL, data=GRANT, headers=basic(world.client.client.client_id, world.client.secret))
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "episodes:read episodes:write"
    assert response.headers["Cache-Control"] == "no-store"
    stored = db.session().scalar(select(ApiToken))
    assert stored.token_hash == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert body["access_token"] not in (stored.token_hash, stored.scopes)
    assert timedelta(minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=1)
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "sign-in"))
    assert event.outcome == "done" and event.auth_method == f"api:{world.client.client.client_id}"
    assert event.actor_org_id == world.police.id and event.actor_user_id is None


def test_a_token_is_issued_with_post_auth(world, client):
    response = client.post(TOKEN_URL, data={**GRANT, "client_id": world.client.client.client_id,
                                            "client_secret": world.client.secret, "scope": "episodes:read"})
    assert response.status_code == 200 and response.json["scope"] == "episodes:read"


def test_the_client_secret_is_kept_as_an_argon2id_hash(world):
    stored = db.session().scalar(select(ApiClient).where(ApiClient.client_id == world.client.client.client_id))
    assert stored.secret_hash.startswith("$argon2id$") and world.client.secret not in stored.secret_hash


def test_a_wrong_secret_an_unknown_client_and_an_inactive_client_are_refused_alike(world, client):
    wrong = client.post(TOKEN_URL, data=GRANT, headers=basic(world.client.client.client_id, "not-the-secret"))
    unknown = client.post(TOKEN_URL, data=GRANT, headers=basic("hub-nobody", "whatever"))
    api.revoke_client(world.reader.client.client_id)
    inactive = client.post(TOKEN_URL, data=GRANT, headers=basic(world.reader.client.client_id, world.reader.secret))
    for response in (wrong, unknown, inactive):
        body = _is_problem(response, 401)
        assert body["error"] == "invalid_client"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.json["detail"] == unknown.json["detail"] == inactive.json["detail"]
    refusals = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "sign-in",
                                                             AuditEvent.outcome == "refused")).all()
    assert len(refusals) == 3 and all("not-the-secret" not in (e.detail or "") for e in refusals)


def test_a_post_auth_failure_is_refused(world, client):
    response = client.post(TOKEN_URL, data={**GRANT, "client_id": world.client.client.client_id,
                                            "client_secret": "wrong"})
    assert _is_problem(response, 401)["error"] == "invalid_client"


def test_only_the_client_credentials_grant_is_supported(world, client):
    headers = basic(world.client.client.client_id, world.client.secret)
    for grant in ("password", "authorization_code", "refresh_token", ""):
        response = client.post(TOKEN_URL, data={"grant_type": grant, "username": "x", "password": "y"},
                               headers=headers)
        assert _is_problem(response, 400)["error"] == "unsupported_grant_type"


def test_a_scope_the_client_does_not_hold_is_refused(world, client):
    headers = basic(world.reader.client.client_id, world.reader.secret)
    for scope in ("episodes:write", "episodes:read episodes:write", "admin"):
        response = client.post(TOKEN_URL, data={**GRANT, "scope": scope}, headers=headers)
        assert _is_problem(response, 400)["error"] == "invalid_scope"


def test_no_token_is_a_401_problem_with_www_authenticate(world, client):
    for method, url in (("POST", "/api/v1/episodes"), ("PATCH", "/api/v1/episodes/1"), ("GET", "/api/v1/episodes/1")):
        response = client.open(url, method=method, json={})
        _is_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_or_malformed_token_is_a_401(world, client):
    for header in ("Bearer not-a-token", "Bearer", "Basic abc", "Token x y"):
        response = client.get("/api/v1/episodes/1", headers={"Authorization": header})
        _is_problem(response, 401)
        assert "WWW-Authenticate" in response.headers


def test_an_expired_token_is_refused(world, client):
    token = get_token(client, world.client)
    with unit_of_work() as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.post("/api/v1/episodes", json=episode_body(), headers=bearer(token))
    assert _is_problem(response, 401)["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoking_a_client_ends_its_tokens_at_once(world, client, runner):
    token = get_token(client, world.client)
    assert client.get("/api/v1/episodes/999", headers=bearer(token)).status_code == 404
    result = runner.invoke(args=["api", "revoke-client", world.client.client.client_id])
    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/episodes/999", headers=bearer(token))
    assert _is_problem(response, 401)["error"] == "invalid_token"


def test_a_revoked_token_is_refused(world, client):
    token = get_token(client, world.client)
    with unit_of_work() as s:
        s.execute(update(ApiToken).values(revoked=True))
    assert _is_problem(client.get("/api/v1/episodes/1", headers=bearer(token)), 401)["error"] == "invalid_token"


def test_a_read_only_client_cannot_write(world, client):
    token = get_token(client, world.reader)
    for method, url in (("POST", "/api/v1/episodes"), ("PATCH", "/api/v1/episodes/1")):
        response = client.open(url, method=method, json=episode_body(), headers=bearer(token))
        assert _is_problem(response, 403)["error"] == "insufficient_scope"
        assert 'scope="episodes:write"' in response.headers["WWW-Authenticate"]


def test_a_session_cookie_is_not_needed_and_csrf_does_not_apply(world, client):
    token = get_token(client, world.client)
    response = client.post("/api/v1/episodes", json=episode_body(), headers=bearer(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert not any(c.key.startswith("hub-session") for c in client._cookies.values())


def test_the_cli_creates_lists_and_revokes_clients(app, runner, world):
    result = runner.invoke(args=["api", "create-client", "--org", world.police.code, "--name", "Case system",
                                 "--scopes", "episodes:read"])
    assert result.exit_code == 0, result.output
    client_id = result.output.split("client_id: ")[1].split()[0]
    secret = result.output.split("client_secret: ")[1].split()[0]
    stored = db.session().scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    assert stored.scopes == "episodes:read" and secret not in stored.secret_hash
    listing = runner.invoke(args=["api", "list-clients"])
    assert client_id in listing.output and secret not in listing.output
    assert runner.invoke(args=["api", "revoke-client", client_id]).exit_code == 0
    listed = runner.invoke(args=["api", "list-clients"]).output
    assert f"{client_id}\t{world.police.code}\tepisodes:read\trevoked" in listed
    bad = runner.invoke(args=["api", "create-client", "--org", world.school.code, "--name", "x"])
    assert bad.exit_code != 0 and "police" in bad.output
    bad = runner.invoke(args=["api", "create-client", "--org", world.police.code, "--name", "x", "--scopes", "root"])
    assert bad.exit_code != 0
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "api-client",
                                                           AuditEvent.action.in_(["create", "revoke"]))).all()
    assert {e.action for e in events} == {"create", "revoke"} and all(e.auth_method == "cli" for e in events
                                                                       if e.object_id == client_id)


def test_a_client_id_no_client_could_have_is_refused_not_an_error(world, client):
    """PostgreSQL refuses NUL in text: such an id must never reach a query or the audit log."""
    for client_id in ("é" * 10, "x" * 65):
        response = client.post(TOKEN_URL, data={**GRANT, "client_id": client_id, "client_secret": "s"})
        assert _is_problem(response, 401)["error"] == "invalid_client"
    # NUL is refused before the token endpoint reads anything (hub.request_text).
    response = client.post(TOKEN_URL, data={**GRANT, "client_id": "a\x00b", "client_secret": "s\x00"})
    assert _is_problem(response, 400)["title"] == "Your request could not be read"


def test_a_token_stops_working_when_its_client_or_organisation_is_deactivated(world, client):
    token = get_token(client, world.client)
    with unit_of_work() as s:
        s.execute(update(ApiClient).where(ApiClient.client_id == world.client.client.client_id).values(active=False))
    assert _is_problem(client.get("/api/v1/episodes/1", headers=bearer(token)), 401)["error"] == "invalid_token"
    other = get_token(client, world.other)
    with unit_of_work() as s:
        s.execute(update(Organisation).where(Organisation.id == world.other_police.id).values(active=False))
    assert _is_problem(client.get("/api/v1/episodes/1", headers=bearer(other)), 401)["error"] == "invalid_token"
