"""The JSON API for agency systems (a thin blueprint: every rule is in service.py).

Authentication is the bearer token (`@api_auth`), never the session cookie, so the blueprint
is exempt from CSRF (hub/app.py) and its views are skipped by hub.web's sign-in check. Every
error under /api/v1 is an RFC 9457 problem (hub.api.problems).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from hub import request_text
from hub.api import service
from hub.api.oauth import api_auth, current_actor, token_response
from hub.api.openapi import document
from hub.api.problems import ApiProblem, problem
from hub.audit.context import Origin, set_origin
from hub.errors import HubError, Invalid
from hub.web import client_address, public, refuse_request_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")

EPISODE_ID = "<int:episode_id>"  # the range is checked by the service (a 404 either way)
#: Visible ASCII, no spaces: what an agency system's generated key (a UUID, say) looks like.
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{service.IDEMPOTENCY_KEY_MAX}}}")
JSON_TYPES = {"POST": {"application/json"}, "PATCH": {"application/merge-patch+json", "application/json"}}


@bp.before_request
def _api_origin() -> None:
    # The audit log records that this came through the API (the client is named by the actor).
    set_origin(Origin(request_id=g.get("request_id", ""), client_address=client_address(),
                      user_agent=request.headers.get("User-Agent"), channel="api"))


# --- errors: problem details, never a page ---------------------------------------------------------

@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem) -> Response:
    return exc.response()


@bp.errorhandler(HubError)
def _hub_error(exc: HubError) -> Response:
    if isinstance(exc, Invalid):
        return problem(422, "The request is not valid", "; ".join(exc.errors.values())[:1000], errors=exc.errors)
    if exc.status == 404:
        return problem(404, "Not found", "No such record, or your organisation does not hold it")
    if isinstance(exc, service.Conflict):
        return problem(409, "Already recorded", str(exc))
    titles = {403: "Forbidden", 422: "The request cannot be processed"}
    return problem(exc.status, titles.get(exc.status, "There is a problem"), str(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    response = problem(exc.code or 500, exc.name, exc.description)
    allow = dict(exc.get_headers()).get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Logged with the request id only: the body may hold a child's details.
    current_app.logger.exception("unexpected API error in request %s", g.get("request_id"))
    return problem(500, "Internal error", f"Nothing you sent has been saved. Reference: {g.get('request_id', '')}")


# --- reading the request ------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_body() -> Any:
    """The body as JSON: 415 for another media type, 400 for anything JSON cannot read."""
    if request.mimetype not in JSON_TYPES[request.method]:
        raise ApiProblem(415, "Unsupported media type",
                         "Send the body as " + " or ".join(sorted(JSON_TYPES[request.method])))
    try:
        body = json.loads(request.get_data(cache=True), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiProblem(400, "Malformed JSON", "The request body is not well-formed JSON") from None
    pointer = request_text.json_refused(body)
    if pointer is not None:
        # As hub.web refuses them in forms, queries and headers: audited, the value never kept.
        refuse_request_text(current_actor())
        raise ApiProblem(400, "Control characters are not accepted",
                         "A key or string in the body holds NUL or another control character (tab, CR and LF "
                         "are accepted in string values), or a lone surrogate", pointer=pointer)
    return body


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiProblem(400, "Bad Idempotency-Key",
                         f"An Idempotency-Key is 1 to {service.IDEMPOTENCY_KEY_MAX} visible ASCII characters")
    return key


def _result(result: service.ApiResult, location: str | None = None) -> Response:
    response = jsonify(result.body)
    response.status_code = result.status
    if location:
        response.headers["Location"] = location
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- endpoints ----------------------------------------------------------------------------------

@bp.post("/oauth/token")
@public
def token() -> Response:
    """OAuth2 token endpoint: client credentials only (authlib)."""
    return token_response()


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    return jsonify(document())


@bp.post("/episodes")
@api_auth("episodes:write")
def create_episode() -> Response:
    body = _json_body()
    key = _idempotency_key()
    result = service.post_episode(current_actor(), body, key, service.request_hash("POST", request.path, body))
    return _result(result, f"{bp.url_prefix}/episodes/{result.body['id']}")


@bp.patch(f"/episodes/{EPISODE_ID}")
@api_auth("episodes:write")
def update_episode(episode_id: int) -> Response:
    body = _json_body()
    key = _idempotency_key()
    result = service.patch_episode(current_actor(), episode_id, body, key,
                                   service.request_hash("PATCH", request.path, body))
    return _result(result)


@bp.get(f"/episodes/{EPISODE_ID}")
@api_auth("episodes:read")
def read_episode(episode_id: int) -> Response:
    return jsonify(service.read_episode(current_actor(), episode_id))
