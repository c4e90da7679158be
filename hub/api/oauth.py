"""OAuth2 client credentials with authlib: the token endpoint and the bearer-token check.

authlib does the protocol (grant type, client authentication by client_secret_basic or
client_secret_post, scope rules, bearer header parsing); hub.api.service does the storage
(Argon2id client secrets, SHA-256 tokens, audit). Every refusal is an RFC 9457 problem that
also carries the OAuth2 `error` member, so both kinds of client library understand it.
"""

from __future__ import annotations

import secrets
from functools import wraps
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from flask import Flask, Response, current_app, g, request

from hub.api import service
from hub.api.problems import ApiProblem, problem
from hub.models.api import ApiClient, ApiToken

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
REALM = "hub-api"


class OAuthClient(ClientMixin):
    """authlib's view of an ApiClient. An unknown id gets a stand-in that fails the secret
    check after the same Argon2 work, so "unknown" and "wrong secret" look the same."""

    def __init__(self, client: ApiClient | None, client_id: str):
        self.api_client = client
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return service.allowed_scope(self.api_client, scope) if self.api_client else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self.api_client is None:
            service.burn_a_hash(client_secret)
            return False
        return service.check_secret(self.api_client, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in TOKEN_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS


class HubAuthorizationServer(AuthorizationServer):
    def handle_response(self, status_code: int, payload: Any, headers: list) -> Response:
        if status_code < 400 or not isinstance(payload, (dict, list)):
            return super().handle_response(status_code, payload, headers)
        body = dict(payload)
        error = body.get("error", "invalid_request")
        service.refuse_token(_presented_client_id(), error)
        extra_headers = {k: v for k, v in headers if k.lower() == "www-authenticate"}
        if status_code == 401 and not extra_headers:
            extra_headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        return problem(status_code, _TOKEN_TITLES.get(error, "The token request was refused"),
                       body.get("error_description") or error, error=error, headers=extra_headers)


_TOKEN_TITLES = {
    "invalid_client": "Client authentication failed",
    "unsupported_grant_type": "Only the client_credentials grant is supported",
    "invalid_scope": "The client does not hold the scope asked for",
    "invalid_request": "The token request is not valid",
    "unauthorized_client": "The client may not use this grant",
}


def _presented_client_id() -> str | None:
    if request.authorization and request.authorization.username:
        return request.authorization.username
    return request.form.get("client_id")


def _query_client(client_id: str) -> OAuthClient:
    return OAuthClient(service.find_client(client_id), client_id)


def _save_token(token: dict, oauth_request) -> None:
    service.issue_token(oauth_request.client.api_client, token["access_token"], token.get("scope", ""))


def init_app(app: Flask) -> None:
    """One authorization server per application (authlib keeps its settings on it)."""
    server = HubAuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    server.scopes_supported = list(service.SCOPES)
    server.register_token_generator("default", BearerTokenGenerator(
        access_token_generator=lambda **_: secrets.token_urlsafe(32),
        expires_generator=lambda client, grant_type: int(service.TOKEN_LIFETIME.total_seconds()),
    ))
    server.register_grant(ClientCredentials)
    app.extensions["hub_oauth2"] = server


def token_response() -> Response:
    return current_app.extensions["hub_oauth2"].create_token_response()


# --- the resource endpoints -------------------------------------------------------------------------

class BearerToken(TokenMixin):
    """authlib's view of a stored token. "Expired" also covers a client or organisation that is
    no longer active: authlib refuses both the same way (401 invalid_token)."""

    def __init__(self, token: ApiToken):
        self.token = token

    def check_client(self, client) -> bool:
        return client.client_id == self.token.client.client_id

    def get_scope(self) -> str:
        return self.token.scopes

    def get_expires_in(self) -> int:
        return int(service.TOKEN_LIFETIME.total_seconds())

    def is_expired(self) -> bool:
        return not service.token_usable(self.token)

    def is_revoked(self) -> bool:
        return self.token.revoked


class HubBearerTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> BearerToken | None:
        token = service.token_by_value(token_string)
        return BearerToken(token) if token is not None else None


class HubResourceProtector(ResourceProtector):
    def raise_error_response(self, error: OAuth2Error):
        raise _bearer_problem(error)


def _bearer_problem(error: OAuth2Error) -> ApiProblem:
    if error.error == "insufficient_scope":
        needed = " ".join(g.get("hub_api_scope_needed", []))
        return ApiProblem(403, "The token does not have the scope this needs",
                          f"This needs the scope {needed}", error="insufficient_scope",
                          headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                                                       f'scope="{needed}"'})
    if error.error in ("missing_authorization", "unsupported_token_type"):
        return ApiProblem(401, "Authentication required",
                          "Send an access token from /api/v1/oauth/token: Authorization: Bearer <token>",
                          headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    return ApiProblem(401, "The access token is not valid",
                      "The token is unknown, expired or revoked, or its client is no longer active",
                      error="invalid_token",
                      headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})


require_oauth = HubResourceProtector()
require_oauth.register_token_validator(HubBearerTokenValidator(realm=REALM))


def api_auth(scope: str):
    """Mark and guard a resource endpoint: a bearer token with `scope` is required. The mark
    (`hub_api_auth`) lets hub.web skip the session sign-in check, and tests/test_security.py
    proves every marked route refuses a request without a token."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            g.hub_api_scope_needed = [scope]
            try:
                token = require_oauth.acquire_token([scope])
            except OAuth2Error as error:
                raise _bearer_problem(error) from None
            g.hub_api_actor = service.actor_for(token.token.client, token.get_scope())
            return view(*args, **kwargs)

        wrapped.hub_api_auth = True
        return wrapped

    return decorator


def current_actor() -> service.ApiActor:
    return g.hub_api_actor
