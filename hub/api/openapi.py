"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

The operations are written here; every body's schema is generated from the pydantic models of
hub/api/schemas.py, which also check the requests and write the responses, so the document and
the API cannot drift apart (tests/api fuzz the API from this document with schemathesis).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from hub.api.schemas import (
    Episode,
    EpisodePatch,
    NewEpisode,
    Problem,
    Token,
    TokenRequest,
    ValidationProblem,
)
from hub.api.service import IDEMPOTENCY_KEY_MAX, SCOPES

REF = "#/components/schemas/{model}"
#: Each model with the side of the exchange it describes (a request is validated, a response written).
MODELS = [(NewEpisode, "validation"), (EpisodePatch, "validation"), (TokenRequest, "validation"),
          (Episode, "serialization"), (Token, "serialization"), (Problem, "serialization"),
          (ValidationProblem, "serialization")]


class _Schema(GenerateJsonSchema):
    """pydantic's JSON Schema without what only clutters an API document: a title on every member,
    and "default": null on members that may be left out (a member left out is not given; where
    null is refused, a null default would say the opposite)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


@cache
def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(MODELS, ref_template=REF, schema_generator=_Schema)
    for schema in top["$defs"].values():
        if "description" in schema:  # a model's docstring, on one line
            schema["description"] = " ".join(schema["description"].split())
    return top["$defs"]


def _ref(model: type) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _problem(description: str, schema: type = Problem) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref(schema)}}}


def _episode_response(description: str, status_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(Episode)}},
        "headers": {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}},
    }
    if status_headers:
        response["headers"].update(status_headers)
    return response


#: hub.web refuses these before any view, on every route (hub.request_text).
CONTROL_CHARACTERS = "a path, query parameter, header or form field holding NUL or another control character"
COMMON_ERRORS = {
    "400": _problem(CONTROL_CHARACTERS[0].upper() + CONTROL_CHARACTERS[1:]),
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}
WRITE_ERRORS = {
    **COMMON_ERRORS,
    "400": _problem("Malformed JSON, a malformed Idempotency-Key, a JSON key or string holding a control "
                    f"character (tab, CR and LF are accepted in strings), or {CONTROL_CHARACTERS}"),
    "415": _problem("The body is not JSON (application/json; PATCH also takes application/merge-patch+json)"),
    "422": _problem("The body is not valid (errors maps each field to its message), or the Idempotency-Key "
                    "was used before for a different request", ValidationProblem),
}


def document() -> dict[str, Any]:
    episode_id = {"name": "episode_id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "example": 1}
    write = [{"oauth2": ["episodes:write"]}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Safeguarding hub API for agency systems", "version": "1.0.0",
            "description": "Missing episodes pushed by police force systems. OAuth2 client credentials "
                           "(POST /api/v1/oauth/token); every error is an RFC 9457 problem.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/oauth/token": {"post": {
                "operationId": "issueToken", "summary": "An access token (client credentials)",
                "description": "Authenticate with HTTP Basic (client_secret_basic) or client_id and client_secret "
                               "in the body (client_secret_post). Tokens last one hour.",
                "security": [{"clientBasic": []}, {}],
                "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                    "schema": _ref(TokenRequest)}}},
                "responses": {
                    "200": {"description": "A bearer token",
                            "content": {"application/json": {"schema": _ref(Token)}}},
                    "400": _problem("Unsupported grant type, a scope the client does not hold, a bad request, "
                                    f"or {CONTROL_CHARACTERS}"),
                    "401": _problem("Client authentication failed"),
                },
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "The OpenAPI document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": _problem(CONTROL_CHARACTERS[0].upper() + CONTROL_CHARACTERS[1:])},
            }},
            "/api/v1/episodes": {"post": {
                "operationId": "createEpisode", "summary": "Report a missing episode",
                "description": "The child's school is notified exactly as when the episode is recorded on the "
                               "hub's pages. Send an Idempotency-Key to make retries safe.",
                "security": write,
                "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref(NewEpisode)}}},
                "responses": {
                    "201": _episode_response("Recorded", {"Location": {
                        "required": True, "schema": {"type": "string"}, "description": "The episode's URL"}}),
                    **WRITE_ERRORS,
                    "409": _problem("The force has already recorded an episode with this police reference"),
                },
            }},
            "/api/v1/episodes/{episode_id}": {
                "parameters": [episode_id],
                "get": {
                    "operationId": "getEpisode", "summary": "An episode your organisation holds",
                    "security": [{"oauth2": ["episodes:read"]}],
                    "responses": {"200": _episode_response("The episode"), **COMMON_ERRORS,
                                  "404": {"$ref": "#/components/responses/NotFound"}},
                },
                "patch": {
                    "operationId": "updateEpisode", "summary": "Change an episode (JSON merge patch)",
                    "description": "Setting found_at notifies the school that the child is found; a higher "
                                   "risk_grade notifies it of the rise, as on the hub's pages.",
                    "security": write,
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {"required": True, "content": {
                        "application/merge-patch+json": {"schema": _ref(EpisodePatch)},
                        "application/json": {"schema": _ref(EpisodePatch)},
                    }},
                    "responses": {"200": _episode_response("Changed"), **WRITE_ERRORS,
                                  "404": {"$ref": "#/components/responses/NotFound"}},
                },
            },
        },
        "components": {
            "securitySchemes": {
                "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": "/api/v1/oauth/token", "scopes": dict(SCOPES)}}},
                "clientBasic": {"type": "http", "scheme": "basic",
                                "description": "client_id and client_secret, for the token endpoint only"},
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Makes a retry safe: the first response to a key is stored and replayed "
                                   "(with Idempotent-Replayed: true) for the same request; the same key with a "
                                   "different request is refused with 422.",
                    "schema": {"type": "string", "pattern": f"^[\\x21-\\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$"},
                },
            },
            "headers": {
                "IdempotentReplayed": {"description": "true when this is the stored response to an earlier "
                                                      "request with the same Idempotency-Key",
                                       "schema": {"type": "string", "enum": ["true"]}},
            },
            "responses": {
                "Unauthorized": _problem("No access token, or it is unknown, expired or revoked"),
                "Forbidden": _problem("The token lacks the scope this needs"),
                "NotFound": _problem("No such episode, or your organisation does not hold it"),
            },
            "schemas": _schemas(),
        },
    }
