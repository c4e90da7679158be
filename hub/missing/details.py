"""What a missing episode says (EpisodeDetails for a new one, EpisodeChanges for a change), and the
checks every way in applies before hub.missing.service writes it: who may record, for which force,
and the times and free text."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from hub import db
from hub.errors import Invalid
from hub.missing import rules
from hub.models.auth import Organisation, User
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.roles import OrgKind
from hub.models.sharing import ShareRecord
from hub.permissions import child_access, may_record_episodes, refuse

#: An episode's start may be at most this far in the future (clock skew of agency systems).
CLOCK_SKEW = timedelta(minutes=5)


FREE_TEXT_MAX = 2000


@dataclass
class EpisodeDetails:
    """What a new episode says. Times are aware datetimes."""

    police_reference: str
    reported_start: datetime
    classification: Classification
    risk_grade: RiskGrade
    missing_from: MissingFrom
    police_org_id: int | None = None          # the actor's force when the actor is police
    missing_from_detail: str | None = None
    found_at: datetime | None = None
    found_where: str | None = None


@dataclass
class EpisodeChanges:
    """A change to an episode: only the fields given (not None) change. `risk_factors` etc. are
    sets of codes from `hub.missing.rules`."""

    reported_start: datetime | None = None
    classification: Classification | None = None
    risk_grade: RiskGrade | None = None
    missing_from: MissingFrom | None = None
    missing_from_detail: str | None = None
    found_at: datetime | None = None
    found_where: str | None = None
    prevention_check_at: datetime | None = None
    prevention_check_by: str | None = None
    return_interview_offered_at: datetime | None = None
    return_interview_at: datetime | None = None
    return_interview_by: str | None = None
    return_interview_declined: bool | None = None
    return_interview_share_id: int | None = None
    iro_informed_at: datetime | None = None
    home_authority_id: int | None = None
    receiving_authority_id: int | None = None
    strategy_discussion_at: datetime | None = None
    trigger_plan_at: datetime | None = None
    police_requested_meeting: bool | None = None
    risk_factors: set[str] | None = None
    push_factors: set[str] | None = None
    pull_factors: set[str] | None = None

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


# --- checks -------------------------------------------------------------------------------------

def _may_record(actor: User, child_id: int):
    access = child_access(actor, child_id)
    if not access or not may_record_episodes(actor):
        refuse(actor, "child", child_id, child_id, action="create")
    return access


def _police_org(actor: User, police_org_id: int | None) -> int:
    if actor.organisation.kind == OrgKind.police:
        return actor.organisation_id
    force = db.session().get(Organisation, police_org_id) if police_org_id else None
    if force is None or force.kind != OrgKind.police:
        raise Invalid({"police_org_id": "Choose the police force that holds the missing report"})
    return force.id


def _check_times(errors: dict[str, str], now: datetime, **times: datetime | None) -> None:
    for name, value in times.items():
        if value is not None and value > now + CLOCK_SKEW:
            errors[name] = "This time is in the future: enter when it happened"


def _check_details(details: EpisodeDetails, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    reference = (details.police_reference or "").strip()
    if not reference:
        errors["police_reference"] = "Enter the police reference of the missing report"
    elif len(reference) > 40:
        errors["police_reference"] = "The police reference must be 40 characters or fewer"
    if details.reported_start is None:
        errors["reported_start"] = "Enter when the child was reported missing"
    _check_times(errors, now, reported_start=details.reported_start, found_at=details.found_at)
    if details.found_at and details.reported_start and details.found_at < details.reported_start:
        errors["found_at"] = "The child cannot be found before they were reported missing"
    for name in ("missing_from_detail", "found_where"):
        if len(getattr(details, name) or "") > FREE_TEXT_MAX:
            errors[name] = f"Keep this under {FREE_TEXT_MAX} characters"
    return errors


def _check_changes(episode: MissingEpisode, changes: EpisodeChanges, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    given = changes.given()
    _check_times(errors, now, **{k: v for k, v in given.items() if isinstance(v, datetime)})
    start = changes.reported_start or episode.reported_start
    found = changes.found_at or episode.found_at
    if found is not None and found < start:
        errors["found_at"] = "The child cannot be found before they were reported missing"
    for name, codes in (("risk_factors", changes.risk_factors), ("push_factors", changes.push_factors),
                        ("pull_factors", changes.pull_factors)):
        unknown = (codes or set()) - rules.FACTOR_LISTS[name].keys()
        if unknown:
            errors[name] = "Choose factors from the list"
    for name in ("home_authority_id", "receiving_authority_id"):
        org_id = given.get(name)
        if org_id is not None:
            org = db.session().get(Organisation, org_id)
            if org is None or org.kind != OrgKind.childrens_social_care:
                errors[name] = "Choose a children's social care authority"
    if changes.return_interview_share_id is not None:
        share = db.session().get(ShareRecord, changes.return_interview_share_id)
        if share is None or share.child_id != episode.child_id:
            errors["return_interview_share_id"] = "Choose a share about this child"
    for name in ("missing_from_detail", "found_where", "prevention_check_by", "return_interview_by"):
        if len(str(given.get(name) or "")) > FREE_TEXT_MAX:
            errors[name] = f"Keep this under {FREE_TEXT_MAX} characters"
    return errors
