"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

Written by hand as a dict, next to the code it describes: hub/api/schemas.py holds the same rules
(lengths, enumerations, required members, no unknown members). tests/api check that it is a valid
OpenAPI document and fuzz the API from it with schemathesis, so the two cannot drift apart.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from hub.api.schemas import (
    CHILD_FIELDS, IDENTIFIER_MAX, NAME_MAX, PATCH_FIELDS, REFERENCE_MAX, SHORT_TEXT_MAX,
)
from hub.api.service import IDEMPOTENCY_KEY_MAX, SCOPES
from hub.missing import rules
from hub.missing.models import Classification, EpisodeSource, MissingFrom, RiskGrade
from hub.missing.service import FREE_TEXT_MAX

# No control characters: PostgreSQL refuses NUL, and nothing an agency types needs them.
ONE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
MULTI_LINE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
NOT_BLANK = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
DATE_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, with an offset",
             "examples": ["2026-03-01T18:30:00+00:00"]}


def _text(limit: int, multiline: bool = False) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, "pattern": MULTI_LINE if multiline else ONE_LINE}


def _enum(kind) -> dict[str, Any]:
    return {"type": "string", "enum": [m.value for m in kind]}


def _patch_property(kind: str, name: str) -> dict[str, Any]:
    if kind == "datetime":
        return deepcopy(DATE_TIME)
    if kind == "classification":
        return _enum(Classification)
    if kind == "risk_grade":
        return _enum(RiskGrade)
    if kind == "missing_from":
        return _enum(MissingFrom)
    if kind == "text":
        return _text(FREE_TEXT_MAX, multiline=True)
    if kind == "short":
        return _text(SHORT_TEXT_MAX)
    if kind == "bool":
        return {"type": "boolean"}
    return {"type": "array", "uniqueItems": True, "items": {"type": "string", "enum": sorted(rules.FACTOR_LISTS[name])}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    schema = deepcopy(schema)
    schema.pop("pattern", None)
    schema.pop("maxLength", None)
    schema.pop("examples", None)
    schema["type"] = [schema["type"], "null"]
    return schema


def _problem(description: str, schema: str = "Problem") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _schemas() -> dict[str, Any]:
    child_properties = {
        "police_id": _text(IDENTIFIER_MAX), "nhs_number": _text(IDENTIFIER_MAX),
        "given_name": _text(NAME_MAX), "family_name": _text(NAME_MAX),
        "date_of_birth": {"type": "string", "format": "date", "examples": ["2012-03-27"]},
    }
    if set(child_properties) != set(CHILD_FIELDS):  # not an assert: it must hold under python -O too
        raise RuntimeError("the OpenAPI document's child fields differ from the API's")
    patch_properties = {name: _patch_property(kind, name) for name, kind in PATCH_FIELDS.items()}
    episode_properties: dict[str, Any] = {
        "id": {"type": "integer"}, "child_id": {"type": "integer"},
        "police_reference": {"type": "string"}, "source": _enum(EpisodeSource),
    }
    nullable = {"missing_from_detail", "found_at", "found_where", "prevention_check_at", "prevention_check_by",
                "return_interview_offered_at", "return_interview_at", "return_interview_by", "iro_informed_at",
                "strategy_discussion_at", "trigger_plan_at"}
    for name, schema in patch_properties.items():
        episode_properties[name] = _nullable(schema) if name in nullable else _response_copy(schema)
    episode_properties["created_at"] = {"type": "string", "format": "date-time"}
    episode_properties["updated_at"] = {"type": "string", "format": "date-time"}
    return {
        "Problem": {
            "type": "object", "description": "RFC 9457 problem details",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "instance": {"type": "string"},
                "error": {"type": "string", "description": "The OAuth2 error code, on token and bearer errors"},
            },
        },
        "ValidationProblem": {
            "allOf": [{"$ref": "#/components/schemas/Problem"}, {
                "type": "object", "required": ["errors"],
                "properties": {"errors": {
                    "type": "object", "additionalProperties": {"type": "string"},
                    "description": "Field name (dotted for nested members; empty for the whole body) -> message",
                }},
            }],
        },
        "ChildIdentity": {
            "type": "object", "additionalProperties": False, "properties": child_properties,
            "description": "Names a child the hub already holds: by police_id, then nhs_number, then given_name, "
                           "family_name and date_of_birth together. The API never creates a child.",
            "anyOf": [{"required": ["police_id"]}, {"required": ["nhs_number"]},
                      {"required": ["given_name", "family_name", "date_of_birth"]}],
        },
        "NewEpisode": {
            "type": "object", "additionalProperties": False,
            "required": ["child", "police_reference", "reported_start", "classification", "risk_grade",
                         "missing_from"],
            "properties": {
                "child": {"$ref": "#/components/schemas/ChildIdentity"},
                "police_reference": {"type": "string", "minLength": 1, "maxLength": REFERENCE_MAX,
                                     "pattern": NOT_BLANK},
                "reported_start": deepcopy(DATE_TIME),
                "classification": _enum(Classification), "risk_grade": _enum(RiskGrade),
                "missing_from": _enum(MissingFrom),
                "missing_from_detail": _text(FREE_TEXT_MAX, multiline=True),
                "found_at": deepcopy(DATE_TIME),
                "found_where": _text(FREE_TEXT_MAX, multiline=True),
            },
        },
        "EpisodePatch": {
            "type": "object", "additionalProperties": False, "minProperties": 1, "properties": patch_properties,
            "description": "A JSON merge patch (RFC 7396): the members given change. null is refused: the "
                           "hub keeps an episode's history, so values are not removed.",
        },
        "Episode": {
            "type": "object", "required": list(episode_properties), "properties": episode_properties,
            "description": "An episode as the API owns it. The child is named by the hub's internal id only.",
        },
        "Token": {
            "type": "object", "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]},
                           "expires_in": {"type": "integer"}, "scope": {"type": "string"}},
        },
        "TokenRequest": {
            "type": "object", "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                "scope": {"type": "string", "description": "Space-separated; default: every scope the client holds"},
                "client_id": {"type": "string", "description": "client_secret_post only"},
                "client_secret": {"type": "string", "description": "client_secret_post only"},
            },
        },
    }


def _response_copy(schema: dict[str, Any]) -> dict[str, Any]:
    schema = deepcopy(schema)
    for key in ("pattern", "maxLength", "examples"):
        schema.pop(key, None)
    return schema


def _episode_response(description: str, status_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Episode"}}},
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
                    "was used before for a different request", "ValidationProblem"),
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
                    "schema": {"$ref": "#/components/schemas/TokenRequest"}}}},
                "responses": {
                    "200": {"description": "A bearer token",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}},
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
                    "schema": {"$ref": "#/components/schemas/NewEpisode"}}}},
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
                        "application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/EpisodePatch"}},
                        "application/json": {"schema": {"$ref": "#/components/schemas/EpisodePatch"}},
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
