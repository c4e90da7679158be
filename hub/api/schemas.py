"""The API's JSON bodies as pydantic models: one source for checking what an agency system sends,
for writing what the hub answers, and for the schemas of the OpenAPI document (hub/api/openapi.py).

Everything an agency system sends is checked here before a service sees it: types, lengths,
RFC 3339 times with an offset, enumerations, and no unknown members. Each problem is reported
against its field (`Invalid.errors`, in the hub's words), which the views turn into a 422
problem's "errors" member.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from hub import request_text
from hub.errors import Invalid
from hub.missing import rules
from hub.missing.details import FREE_TEXT_MAX, EpisodeChanges, EpisodeDetails
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade

REFERENCE_MAX = 40
IDENTIFIER_MAX = 40
NAME_MAX = 100
SHORT_TEXT_MAX = 200   # prevention_check_by, return_interview_by: String(200) columns
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)

# No control characters: PostgreSQL refuses NUL, and nothing an agency types needs them
# (hub.request_text holds the same rule for forms and the whole body).
ONE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
MULTI_LINE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
NOT_BLANK = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
DATE_TIME_ERROR = "Must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T18:30:00+00:00"
FACTORS_ERROR = "Must be a list of codes from the OpenAPI document's enumeration"


# --- the members' types -------------------------------------------------------------------------

def _rfc3339(value: Any) -> datetime:
    """An RFC 3339 date-time with an offset, as aware UTC (stricter than pydantic's own: an offset
    is required, and nothing before 1900)."""
    if not isinstance(value, str) or "T" not in value.upper() or len(value) > 40:
        raise PydanticCustomError("rfc3339", DATE_TIME_ERROR)
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PydanticCustomError("rfc3339", DATE_TIME_ERROR) from None
    if moment < EARLIEST:
        raise PydanticCustomError("rfc3339", "Must be after 1900")
    return moment


def _iso_date(value: Any) -> date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date", "Must be a date, e.g. 2012-03-27") from None


def _each_once(codes: list[str]) -> list[str]:
    if len(set(codes)) != len(codes):
        raise PydanticCustomError("unique", "List each code once")
    return codes


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(limit: int, pattern: str = ONE_LINE) -> Any:
    return Annotated[str, StringConstraints(max_length=limit, pattern=pattern)]


def _factors(name: str) -> Any:
    code = Literal[tuple(sorted(rules.FACTOR_LISTS[name]))]  # type: ignore[valid-type]
    return Annotated[list[code], AfterValidator(_each_once), Field(json_schema_extra={"uniqueItems": True})]


def _choice(kind: type) -> Any:
    """An enumeration given by its value (JSON has no other way to send it)."""
    return Annotated[kind, Field(strict=False)]


Moment = Annotated[datetime, PlainValidator(_rfc3339), WithJsonSchema(
    {"type": "string", "format": "date-time", "description": "RFC 3339, with an offset",
     "examples": ["2026-03-01T18:30:00+00:00"]}, mode="validation")]
Day = Annotated[date, PlainValidator(_iso_date), WithJsonSchema(
    {"type": "string", "format": "date", "examples": ["2012-03-27"]}, mode="validation")]
Stamp = Annotated[datetime, PlainSerializer(_time), WithJsonSchema(
    {"type": "string", "format": "date-time"}, mode="serialization")]
Identifier = _text(IDENTIFIER_MAX)
Name = _text(NAME_MAX)
ShortText = _text(SHORT_TEXT_MAX)
FreeText = _text(FREE_TEXT_MAX, MULTI_LINE)
Reference = Annotated[str, StringConstraints(min_length=1, max_length=REFERENCE_MAX, pattern=NOT_BLANK)]
RiskFactors, PushFactors, PullFactors = _factors("risk_factors"), _factors("push_factors"), _factors("pull_factors")


class _Request(BaseModel):
    # strict: JSON's types as they are (1 is not true, "1" is not 1); no member the hub does not know.
    model_config = ConfigDict(extra="forbid", strict=True)


# --- requests -----------------------------------------------------------------------------------

class ChildIdentity(_Request):
    """Names a child the hub already holds: by police_id, then nhs_number, then given_name,
    family_name and date_of_birth together. The API never creates a child."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["police_id"]}, {"required": ["nhs_number"]},
        {"required": ["given_name", "family_name", "date_of_birth"]}]})

    police_id: Identifier | None = None
    nhs_number: Identifier | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: Day | None = None

    @model_validator(mode="after")
    def _named(self) -> ChildIdentity:
        if not (self.police_id or self.nhs_number or (self.given_name and self.family_name and self.date_of_birth)):
            raise PydanticCustomError(
                "unnamed", "Name the child by police_id, nhs_number, or given_name, family_name and date_of_birth")
        return self


class NewEpisode(_Request):
    """A missing episode the force's system reports."""

    child: ChildIdentity
    police_reference: Reference
    reported_start: Moment
    classification: _choice(Classification)
    risk_grade: _choice(RiskGrade)
    missing_from: _choice(MissingFrom)
    missing_from_detail: FreeText | None = None
    found_at: Moment | None = None
    found_where: FreeText | None = None

    def details(self) -> EpisodeDetails:
        given = self.model_dump(exclude={"child"}, exclude_none=True)
        return EpisodeDetails(**{**given, "police_reference": self.police_reference.strip()})


class EpisodePatch(_Request):
    """A JSON merge patch (RFC 7396): the members given change. null is refused: the hub keeps an
    episode's history, so values are not removed."""

    # Authority ids and the interview's share are internal ids of other records: left to the
    # pages until the API can name them safely.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    reported_start: Moment = None
    classification: _choice(Classification) = None
    risk_grade: _choice(RiskGrade) = None
    missing_from: _choice(MissingFrom) = None
    missing_from_detail: FreeText = None
    found_at: Moment = None
    found_where: FreeText = None
    prevention_check_at: Moment = None
    prevention_check_by: ShortText = None
    return_interview_offered_at: Moment = None
    return_interview_at: Moment = None
    return_interview_by: ShortText = None
    return_interview_declined: bool = None
    iro_informed_at: Moment = None
    strategy_discussion_at: Moment = None
    trigger_plan_at: Moment = None
    police_requested_meeting: bool = None
    risk_factors: RiskFactors = None
    push_factors: PushFactors = None
    pull_factors: PullFactors = None

    @model_validator(mode="after")
    def _something(self) -> EpisodePatch:
        if not self.model_fields_set:
            raise PydanticCustomError("empty", "Send at least one field to change")
        return self

    def changes(self) -> EpisodeChanges:
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return EpisodeChanges(**{name: set(value) if name.endswith("_factors") else value
                                 for name, value in given.items()})


class TokenRequest(BaseModel):
    """The token endpoint's form (authlib reads it)."""

    grant_type: Literal["client_credentials"]
    scope: str = Field(None, description="Space-separated; default: every scope the client holds")
    client_id: str = Field(None, description="client_secret_post only")
    client_secret: str = Field(None, description="client_secret_post only")


# --- responses ----------------------------------------------------------------------------------

class Episode(BaseModel):
    """An episode as the API owns it. The child is named by the hub's internal id only."""

    id: int
    child_id: int
    police_reference: str
    source: EpisodeSource
    reported_start: Stamp
    classification: Classification
    risk_grade: RiskGrade
    missing_from: MissingFrom
    missing_from_detail: str | None
    found_at: Stamp | None
    found_where: str | None
    prevention_check_at: Stamp | None
    prevention_check_by: str | None
    return_interview_offered_at: Stamp | None
    return_interview_at: Stamp | None
    return_interview_by: str | None
    return_interview_declined: bool
    iro_informed_at: Stamp | None
    strategy_discussion_at: Stamp | None
    trigger_plan_at: Stamp | None
    police_requested_meeting: bool
    risk_factors: RiskFactors
    push_factors: PushFactors
    pull_factors: PullFactors
    created_at: Stamp
    updated_at: Stamp


class Token(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class Problem(BaseModel):
    """RFC 9457 problem details"""

    type: str
    title: str
    status: int
    detail: str = None
    instance: str = None
    error: str = Field(None, description="The OAuth2 error code, on token and bearer errors")


class ValidationProblem(Problem):
    errors: dict[str, str] = Field(
        description="Field name (dotted for nested members; empty for the whole body) -> message")


# --- reading a body -----------------------------------------------------------------------------

def parse_new_episode(body: Any) -> NewEpisode:
    try:
        return NewEpisode.model_validate(body)
    except ValidationError as exc:
        raise Invalid(_errors(exc, null="This field is required")) from None


def parse_changes(body: Any) -> EpisodeChanges:
    try:
        return EpisodePatch.model_validate(body).changes()
    except ValidationError as exc:
        raise Invalid(_errors(exc, null="A value cannot be removed through the API")) from None


def _errors(exc: ValidationError, null: str) -> dict[str, str]:
    """Each problem against its member (dotted for the child's; "" for the whole body), the first
    one where a member has several. `null`: what a null given for a member that takes none means."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        where = ".".join(str(part)[:60] for part in error["loc"] if isinstance(part, str))
        given_null = error["input"] is None and len(error["loc"]) == 1 and error["type"] != "missing"
        errors.setdefault(where, null if given_null else _message(error))
    return errors


MESSAGES = {
    "extra_forbidden": "Unknown field",
    "missing": "This field is required",
    "string_type": "Must be a string",
    "string_too_short": "Must not be blank",
    "bool_type": "Must be true or false",
    "list_type": FACTORS_ERROR,
    "literal_error": FACTORS_ERROR,  # the factor codes are the requests' only literals
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in MESSAGES:
        return MESSAGES[kind]
    if kind == "string_too_long":
        return f"Must be {error['ctx']['max_length']} characters or fewer"
    if kind == "string_pattern_mismatch":
        refused = request_text.SINGLE_LINE_REFUSED.search(error["input"])
        return "Must not contain control characters" if refused else "Must not be blank"
    if kind == "enum":
        return "Must be one of: " + error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
    if kind == "model_type":
        return ("Must be an object naming the child: police_id, nhs_number, or names and date_of_birth"
                if error["loc"] else "Must be a JSON object")
    return error["msg"]  # the hub's own words already (PydanticCustomError)


# --- writing a body -----------------------------------------------------------------------------

def episode_json(episode: MissingEpisode) -> dict[str, Any]:
    """What the API owns of an episode: the child by internal id only, never by name."""
    values = {name: getattr(episode, name) for name in Episode.model_fields}
    values.update({name: sorted(episode.codes(name)) for name in rules.FACTOR_LISTS})
    values.update({name: bool(values[name]) for name in ("return_interview_declined", "police_requested_meeting")})
    return Episode.model_validate(values).model_dump(mode="json")
