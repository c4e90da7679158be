"""The API's JSON bodies: strict parsing into the services' own dataclasses, and back to JSON.

Everything an agency system sends is checked here before a service sees it: types, lengths,
RFC 3339 times with an offset, enumerations, and no unknown members. Each problem is reported
against its field (`Invalid.errors`), which the views turn into a 422 problem's "errors" member.
hub/api/openapi.py describes exactly these rules; the schemathesis test holds the two together.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from hub import request_text
from hub.errors import Invalid
from hub.missing import rules
from hub.missing.models import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.missing.service import FREE_TEXT_MAX, EpisodeChanges, EpisodeDetails

REFERENCE_MAX = 40
IDENTIFIER_MAX = 40
NAME_MAX = 100
SHORT_TEXT_MAX = 200   # prevention_check_by, return_interview_by: String(200) columns
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)

CHILD_FIELDS = ("police_id", "nhs_number", "given_name", "family_name", "date_of_birth")
CREATE_FIELDS = ("child", "police_reference", "reported_start", "classification", "risk_grade", "missing_from",
                 "missing_from_detail", "found_at", "found_where")
#: What a PATCH may change, and how each member is read. Authority ids and the interview's share
#: are internal ids of other records: left to the pages until the API can name them safely.
PATCH_FIELDS: dict[str, str] = {
    "reported_start": "datetime", "classification": "classification", "risk_grade": "risk_grade",
    "missing_from": "missing_from", "missing_from_detail": "text", "found_at": "datetime", "found_where": "text",
    "prevention_check_at": "datetime", "prevention_check_by": "short", "return_interview_offered_at": "datetime",
    "return_interview_at": "datetime", "return_interview_by": "short", "return_interview_declined": "bool",
    "iro_informed_at": "datetime", "strategy_discussion_at": "datetime", "trigger_plan_at": "datetime",
    "police_requested_meeting": "bool", "risk_factors": "factors", "push_factors": "factors",
    "pull_factors": "factors",
}
ENUMS: dict[str, type[enum.Enum]] = {
    "classification": Classification, "risk_grade": RiskGrade, "missing_from": MissingFrom,
}


@dataclass
class ChildIdentity:
    police_id: str | None = None
    nhs_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None


@dataclass
class NewEpisode:
    child: ChildIdentity
    details: EpisodeDetails


# --- reading members ----------------------------------------------------------------------------

def _text(errors: dict[str, str], name: str, value: Any, limit: int, multiline: bool = False) -> str | None:
    """A string that the database and the field encryption can store: UTF-8, no control
    characters (PostgreSQL refuses NUL), within its length."""
    if not isinstance(value, str):
        errors[name] = "Must be a string"
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors[name] = "Must be valid Unicode text"
        return None
    # The rule hub.api.views has already applied to the whole body, kept here for callers of the
    # parser that come another way; a single-line field refuses tab, CR and LF as well.
    if (request_text.MULTI_LINE_REFUSED if multiline else request_text.SINGLE_LINE_REFUSED).search(value):
        errors[name] = "Must not contain control characters"
        return None
    if len(value) > limit:
        errors[name] = f"Must be {limit} characters or fewer"
        return None
    return value


def _datetime(errors: dict[str, str], name: str, value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset, as aware UTC."""
    if not isinstance(value, str) or "T" not in value.upper() or len(value) > 40:
        errors[name] = "Must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T18:30:00+00:00"
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        errors[name] = "Must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T18:30:00+00:00"
        return None
    if moment < EARLIEST:
        errors[name] = "Must be after 1900"
        return None
    return moment


def _date(errors: dict[str, str], name: str, value: Any) -> date | None:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Must be a date, e.g. 2012-03-27"
        return None


def _enum(errors: dict[str, str], name: str, value: Any):
    kind = ENUMS[name]
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    errors[name] = "Must be one of: " + ", ".join(m.value for m in kind)
    return None


def _factors(errors: dict[str, str], name: str, value: Any) -> set[str] | None:
    known = rules.FACTOR_LISTS[name]
    if not isinstance(value, list) or not all(isinstance(v, str) and v in known for v in value):
        errors[name] = "Must be a list of codes from the OpenAPI document's enumeration"
        return None
    if len(set(value)) != len(value):
        errors[name] = "List each code once"
        return None
    return set(value)


def _bool(errors: dict[str, str], name: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        errors[name] = "Must be true or false"
        return None
    return value


def _object(body: Any, where: str = "") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid({where: "Must be a JSON object"})
    return body


def _unknown(errors: dict[str, str], body: dict[str, Any], known: tuple[str, ...] | dict, prefix: str = "") -> None:
    for name in body:
        if name not in known:
            errors[f"{prefix}{str(name)[:60]}"] = "Unknown field"


# --- requests -----------------------------------------------------------------------------------

def parse_child(body: Any, errors: dict[str, str]) -> ChildIdentity:
    if not isinstance(body, dict):
        errors["child"] = "Must be an object naming the child: police_id, nhs_number, or names and date_of_birth"
        return ChildIdentity()
    _unknown(errors, body, CHILD_FIELDS, "child.")
    child = ChildIdentity()
    for name, limit in (("police_id", IDENTIFIER_MAX), ("nhs_number", IDENTIFIER_MAX),
                        ("given_name", NAME_MAX), ("family_name", NAME_MAX)):
        if body.get(name) is not None:
            setattr(child, name, _text(errors, f"child.{name}", body[name], limit))
    if body.get("date_of_birth") is not None:
        child.date_of_birth = _date(errors, "child.date_of_birth", body["date_of_birth"])
    named = child.given_name and child.family_name and child.date_of_birth
    if not any(e.startswith("child") for e in errors) and not (child.police_id or child.nhs_number or named):
        errors["child"] = "Name the child by police_id, nhs_number, or given_name, family_name and date_of_birth"
    return child


def parse_new_episode(body: Any) -> NewEpisode:
    body = _object(body)
    errors: dict[str, str] = {}
    _unknown(errors, body, CREATE_FIELDS)
    for name in ("child", "police_reference", "reported_start", "classification", "risk_grade", "missing_from"):
        if body.get(name) is None:
            errors[name] = "This field is required"
    child = parse_child(body["child"], errors) if body.get("child") is not None else ChildIdentity()
    values: dict[str, Any] = {}
    if body.get("police_reference") is not None:
        reference = _text(errors, "police_reference", body["police_reference"], REFERENCE_MAX)
        if reference is not None and not reference.strip():
            errors["police_reference"] = "Must not be blank"
        values["police_reference"] = (reference or "").strip()
    for name in ("reported_start", "found_at"):
        if body.get(name) is not None:
            values[name] = _datetime(errors, name, body[name])
    for name in ENUMS:
        if body.get(name) is not None:
            values[name] = _enum(errors, name, body[name])
    for name in ("missing_from_detail", "found_where"):
        if body.get(name) is not None:
            values[name] = _text(errors, name, body[name], FREE_TEXT_MAX, multiline=True)
    if errors:
        raise Invalid(errors)
    return NewEpisode(child, EpisodeDetails(**values))


def parse_changes(body: Any) -> EpisodeChanges:
    """A JSON merge patch (RFC 7396) of the episode: the members given change. A null would
    remove a value, which the hub's record never does (history is kept), so it is refused."""
    body = _object(body)
    errors: dict[str, str] = {}
    _unknown(errors, body, PATCH_FIELDS)
    values: dict[str, Any] = {}
    for name, kind in PATCH_FIELDS.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            errors[name] = "A value cannot be removed through the API"
        elif kind == "datetime":
            values[name] = _datetime(errors, name, value)
        elif kind in ENUMS:
            values[name] = _enum(errors, name, value)
        elif kind == "text":
            values[name] = _text(errors, name, value, FREE_TEXT_MAX, multiline=True)
        elif kind == "short":
            values[name] = _text(errors, name, value, SHORT_TEXT_MAX)
        elif kind == "bool":
            values[name] = _bool(errors, name, value)
        else:
            values[name] = _factors(errors, name, value)
    if not body and not errors:
        errors[""] = "Send at least one field to change"
    if errors:
        raise Invalid(errors)
    return EpisodeChanges(**values)


# --- responses ----------------------------------------------------------------------------------

def _time(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value is not None else None


def episode_json(episode: MissingEpisode) -> dict[str, Any]:
    """What the API owns of an episode: the child by internal id only, never by name."""
    out: dict[str, Any] = {
        "id": episode.id,
        "child_id": episode.child_id,
        "police_reference": episode.police_reference,
        "source": episode.source.value,
    }
    for name, kind in PATCH_FIELDS.items():
        value = getattr(episode, name)
        if kind == "datetime":
            value = _time(value)
        elif kind in ENUMS:
            value = value.value
        elif kind == "factors":
            value = sorted(episode.codes(name))
        elif kind == "bool":
            value = bool(value)
        out[name] = value
    out["created_at"] = _time(episode.created_at)
    out["updated_at"] = _time(episode.updated_at)
    return out
