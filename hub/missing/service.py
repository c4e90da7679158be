"""Missing episodes: the only code that records or changes them.

Three ways in, one set of rules: a practitioner's form (`record_episode`, `update_episode`), the
police daily download and the API (`apply_police_record`, called once per row inside the caller's
unit of work, so a whole file or request commits or rolls back together). Each change writes its
audit event and, when the school must hear of it, its notifications and outbox e-mails in the
same transaction (`hub.notifications.service.notify_episode`): nothing is told that was not
stored, and nothing stored goes untold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from hub import db
from hub.audit import service as audit
from hub.auth.models import Organisation, User
from hub.auth.roles import OrgKind
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing import deadlines, rules
from hub.missing.models import (
    Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade, RiskGradeChange,
)
from hub.people.models import Child, IdentifierKind
from hub.sharing.models import ShareRecord
from hub.permissions import (
    child_access, episode_visible, load_or_refuse, load_profile_child, may_keep_philomena_profile,
    may_read_episodes, may_record_episodes, profile_photo_basis, refuse, share_visible,
)
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


@dataclass
class RowOutcome:
    """What `apply_police_record` did with one row."""

    outcome: str                       # created | updated | unchanged
    episode: MissingEpisode
    changed: list[str] = field(default_factory=list)


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
        from hub.sharing.models import ShareRecord

        share = db.session().get(ShareRecord, changes.return_interview_share_id)
        if share is None or share.child_id != episode.child_id:
            errors["return_interview_share_id"] = "Choose a share about this child"
    for name in ("missing_from_detail", "found_where", "prevention_check_by", "return_interview_by"):
        if len(str(given.get(name) or "")) > FREE_TEXT_MAX:
            errors[name] = f"Keep this under {FREE_TEXT_MAX} characters"
    return errors


# --- writing ------------------------------------------------------------------------------------

def record_episode(actor: User, child_id: int, details: EpisodeDetails,
                   source: EpisodeSource = EpisodeSource.manual) -> MissingEpisode:
    """A practitioner records a new episode for a child they hold; the school is notified."""
    access = _may_record(actor, child_id)
    police_org_id = _police_org(actor, details.police_org_id)
    errors = _check_details(details, utcnow())
    if not errors and _by_reference(police_org_id, details.police_reference.strip()) is not None:
        errors["police_reference"] = "An episode with this police reference is already recorded"
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        episode = _create(actor, child_id, police_org_id, details, source)
        audit.record("create", actor=actor, object_type="missing-episode", object_id=episode.id, child_id=child_id,
                     basis=access.basis, detail={"source": source.value})
    return episode


def _create(actor, child_id: int, police_org_id: int, details: EpisodeDetails,
            source: EpisodeSource) -> MissingEpisode:
    from hub.notifications import service as notifications

    session = db.session()
    episode = MissingEpisode(**_episode_values(actor, child_id, police_org_id, details, source))
    session.add(episode)
    session.flush()
    session.add(RiskGradeChange(**_first_grade_values(actor, episode.id, details, source)))
    # The child's other episodes too: a second episode makes a return interview due for the first.
    deadlines.refresh_children(session, [child_id])
    notifications.notify_episode(episode, _first_notice(details))
    return episode


def _first_notice(details: EpisodeDetails) -> str:
    """What the school is first told. An episode recorded after the child was found (a late
    report, or a download's row of yesterday's episode) is told once, as "found" (its page shows
    since when and when found): one notification to acknowledge, not "missing" and "found" at once."""
    return "found" if details.found_at is not None else "missing"


def _episode_values(actor, child_id: int, police_org_id: int, details: EpisodeDetails,
                    source: EpisodeSource) -> dict[str, object]:
    """A new episode's columns: one rule for `_create` and the bulk path."""
    return dict(
        child_id=child_id, police_org_id=police_org_id, police_reference=details.police_reference.strip(),
        reported_start=details.reported_start, classification=details.classification,
        risk_grade=details.risk_grade, missing_from=details.missing_from,
        missing_from_detail=details.missing_from_detail or None, found_at=details.found_at,
        found_where=details.found_where or None, source=source, created_by_user_id=getattr(actor, "id", None),
    )


def _first_grade_values(actor, episode_id: int, details: EpisodeDetails, source: EpisodeSource) -> dict[str, object]:
    """The first entry of a new episode's risk history."""
    return dict(episode_id=episode_id, grade=details.risk_grade, changed_by_user_id=getattr(actor, "id", None),
                source=source)


def _police_created_entry(episode_id: int, child_id: int, source: EpisodeSource) -> audit.Entry:
    return audit.Entry("create", object_type="missing-episode", object_id=episode_id, child_id=child_id,
                       basis="police-report", detail={"source": source.value})


def update_episode(actor: User, episode_id: int, changes: EpisodeChanges,
                   source: EpisodeSource = EpisodeSource.manual) -> MissingEpisode:
    """Change an episode; the school hears when the child is found or the risk grade rises."""
    episode, access = _episode_for(actor, episode_id, action="update")
    errors = _check_changes(episode, changes, utcnow())
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        changed = _apply(actor, episode, changes, source)
        if changed:
            audit.record("update", actor=actor, object_type="missing-episode", object_id=episode.id,
                         child_id=episode.child_id, basis=access.basis,
                         detail={"changed": sorted(changed), "source": source.value})
    return episode


def _apply(actor, episode: MissingEpisode, changes: EpisodeChanges, source: EpisodeSource) -> list[str]:
    """Apply the changes that differ; notify the school of a finding or a rise in risk."""
    from hub.notifications import service as notifications

    was_found = episode.found_at is not None
    old_grade = episode.risk_grade
    changed = []
    for name, value in changes.given().items():
        if name in rules.FACTOR_LISTS:
            value = ",".join(sorted(value))
        if getattr(episode, name) != value:
            setattr(episode, name, value)
            changed.append(name)
    if not changed:
        return []
    if "risk_grade" in changed:
        db.session().add(RiskGradeChange(episode_id=episode.id, grade=episode.risk_grade,
                                         changed_by_user_id=getattr(actor, "id", None), source=source))
    deadlines.refresh_children(db.session(), [episode.child_id])  # flushes the changes first
    if not was_found and episode.found_at is not None:
        notifications.notify_episode(episode, "found")
    elif episode.found_at is None and episode.risk_grade.rank > old_grade.rank:
        notifications.notify_episode(episode, "risk_raised")
    return changed


# --- the police download and the API -------------------------------------------------------------

def match_child(police_id: str | None, nhs_number: str | None, given_name: str | None,
                family_name: str | None, date_of_birth) -> int | None:
    """The one child a row names: by police id, then NHS number, then name and date of birth.
    None when nothing matches or the name and date of birth match more than one child."""
    from hub.people import service as people

    for kind, value in ((IdentifierKind.police_id, police_id), (IdentifierKind.nhs_number, nhs_number)):
        if value and value.strip():
            found = people.child_ids_by_identifier(kind, value.strip())
            if found:
                return found[0]
    if given_name and family_name and date_of_birth:
        found = people.child_ids_by_name(given_name, family_name, date_of_birth)
        if len(found) == 1:
            return found[0]
    return None


def apply_police_record(actor, police_org_id: int, child_id: int, details: EpisodeDetails,
                        source: EpisodeSource) -> RowOutcome:
    """One row of the force's own record, inside the caller's unit of work: create the episode,
    or bring it up to date. The download is authoritative for the start; applying the same row
    again changes nothing. Raises Invalid for a bad row (the caller reports it by row number)."""
    errors = _check_details(details, utcnow())
    if errors:
        raise Invalid(errors)
    reference = details.police_reference.strip()
    episode = _by_reference(police_org_id, reference)
    if episode is None:
        if db.session().get(Child, child_id) is None:
            raise Invalid({"child": "No such child"})
        episode = _create(actor, child_id, police_org_id, details, source)
        audit.record_many(actor, [_police_created_entry(episode.id, child_id, source)])
        return RowOutcome("created", episode)
    if episode.child_id != child_id:
        raise Invalid({"police_reference": "This police reference is recorded for a different child"})
    changes = EpisodeChanges(reported_start=details.reported_start, classification=details.classification,
                             risk_grade=details.risk_grade, found_at=details.found_at,
                             found_where=details.found_where or None)
    more = _check_changes(episode, changes, utcnow())
    if more:
        raise Invalid(more)
    changed = _apply(actor, episode, changes, source)
    if not changed:
        return RowOutcome("unchanged", episode)
    audit.record("update", actor=actor, object_type="missing-episode", object_id=episode.id,
                 child_id=episode.child_id, basis="police-report",
                 detail={"changed": sorted(changed), "source": source.value})
    return RowOutcome("updated", episode, changed)


def _by_reference(police_org_id: int, reference: str) -> MissingEpisode | None:
    return db.session().scalar(select(MissingEpisode).where(MissingEpisode.police_org_id == police_org_id,
                                                            MissingEpisode.police_reference == reference))


# --- the police download: many new episodes at once -------------------------------------------------
# apply_police_record's "create" branch for a chunk of rows whose references the force has not
# recorded: the same checks, columns, risk history, notifications and audit events, written with
# a fixed number of statements per chunk instead of about 26 per row (bench/README.md).

#: What create_police_episodes says of a row it did not create: already recorded (or repeated in
#: the same call), so the caller applies it with apply_police_record, which updates it.
NOT_NEW = None


def create_police_episodes(actor, police_org_id: int, rows: Sequence[tuple[int, EpisodeDetails]],
                           source: EpisodeSource) -> list[int | Invalid | None]:
    """New episodes from (child id, details) rows, inside the caller's unit of work. Per row, in
    order: the new episode's id, the Invalid that apply_police_record would raise for it, or
    NOT_NEW. The caller should run it in a savepoint: a database error leaves the savepoint to be
    rolled back, and the rows can then go one by one through apply_police_record."""
    from hub.notifications import service as notifications

    now = utcnow()
    results: list[int | Invalid | None] = [NOT_NEW] * len(rows)
    good = _new_rows(police_org_id, rows, now, results)
    if not good:
        return results
    connection = db.session().connection()
    table = MissingEpisode.__table__
    # Core inserts against the Table: the column types still apply (EncryptedText encrypts, UTC
    # timestamps are checked) and Python-side defaults still fill created_at and the rest.
    connection.execute(insert(table), [_episode_values(actor, child_id, police_org_id, details, source)
                                       for _, child_id, details in good])
    # The ids are read back by the force's references, which are unique: not RETURNING, because a
    # batched INSERT ... RETURNING cost PostgreSQL 2 to 5 times a plain executemany per row.
    references = [details.police_reference.strip() for _, _, details in good]
    by_reference = dict(connection.execute(select(table.c.police_reference, table.c.id).where(
        table.c.police_org_id == police_org_id, table.c.police_reference.in_(references))).all())
    ids = [by_reference[reference] for reference in references]
    connection.execute(insert(RiskGradeChange.__table__), [
        _first_grade_values(actor, episode_id, details, source)
        for episode_id, (_, _, details) in zip(ids, good, strict=True)])
    deadlines.refresh_children(db.session(), {child_id for _, child_id, _ in good})
    refs = [notifications.EpisodeRef(episode_id, child_id)
            for episode_id, (_, child_id, _) in zip(ids, good, strict=True)]
    # Routes and deadlines are worked out once for both kinds: same children, same `now`.
    shared = dict(record=False, deadlines={}, routes={})
    first = [_first_notice(details) for _, _, details in good]
    by_notice = list(zip(refs, first, strict=True))
    missing = notifications.notify_episodes([r for r, k in by_notice if k == "missing"], "missing", now, **shared)
    found = notifications.notify_episodes([r for r, k in by_notice if k == "found"], "found", now, **shared)
    # Each episode's events in apply_police_record's order: its notifications (the hub's own),
    # then the officer's "create"; one append, so one take of the log's head lock.
    entries: list[tuple[object, audit.Entry]] = []
    for ref in refs:
        entries += [(None, e) for e in missing.entries.get(ref.id, []) + found.entries.get(ref.id, [])]
        entries.append((actor, _police_created_entry(ref.id, ref.child_id, source)))
    audit.record_many_as(entries)
    for episode_id, (index, _, _) in zip(ids, good, strict=True):
        results[index] = episode_id
    return results


def _new_rows(police_org_id: int, rows: Sequence[tuple[int, EpisodeDetails]], now: datetime,
              results: list[int | Invalid | None]) -> list[tuple[int, int, EpisodeDetails]]:
    """(index, child id, details) of the rows to create; the others' results are set."""
    references = [(details.police_reference or "").strip() for _, details in rows]
    recorded = set(db.session().scalars(select(MissingEpisode.police_reference).where(
        MissingEpisode.police_org_id == police_org_id, MissingEpisode.police_reference.in_(set(references) - {""}))))
    children = set(db.session().scalars(select(Child.id).where(Child.id.in_({c for c, _ in rows}))))
    seen: set[str] = set()
    good = []
    for index, ((child_id, details), reference) in enumerate(zip(rows, references, strict=True)):
        errors = _check_details(details, now)
        if errors:
            results[index] = Invalid(errors)
        elif reference in recorded or reference in seen:
            results[index] = NOT_NEW
        elif child_id not in children:
            results[index] = Invalid({"child": "No such child"})
        else:
            seen.add(reference)
            good.append((index, child_id, details))
    return good


# --- reading ------------------------------------------------------------------------------------

def _episode_for(actor: User, episode_id: int, action: str = "read"):
    """The episode and the actor's basis, or a 404 (audited) without saying whether it exists."""
    episode = load_or_refuse(actor, MissingEpisode, episode_id, action=action)
    return episode, child_access(actor, episode.child_id)


def get_episode(actor: User, episode_id: int) -> MissingEpisode:
    episode, access = _episode_for(actor, episode_id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="missing-episode", object_id=episode.id,
                     child_id=episode.child_id, basis=access.basis)
    return episode


def episodes_of(actor: User, child_id: int) -> list[MissingEpisode]:
    """A child's episodes, newest first, for a reader who may see episodes (else empty). The
    caller has already audited reading the child's page."""
    if not may_read_episodes(actor) or not child_access(actor, child_id):
        return []
    return list(db.session().scalars(select(MissingEpisode).where(MissingEpisode.child_id == child_id)
                                     .order_by(MissingEpisode.reported_start.desc())))


def assess(episode: MissingEpisode, now: datetime | None = None) -> rules.Assessment:
    """The computed picture of one episode: criteria met, meeting triggers, duties due."""
    child = db.session().get(Child, episode.child_id)
    starts = list(db.session().scalars(select(MissingEpisode.reported_start)
                                       .where(MissingEpisode.child_id == episode.child_id)))
    return rules.assess(episode, child.looked_after, starts, now or utcnow())


def police_forces() -> list[Organisation]:
    return list(db.session().scalars(select(Organisation).where(Organisation.kind == OrgKind.police,
                                                                Organisation.active.is_(True))
                                     .order_by(Organisation.name)))


# --- Philomena protocol profiles ---------------------------------------------------------------------

#: The protocol's form, in its order. Part 1 is kept ahead with the carers (the photo is kept
#: beside it: `PhilomenaProfile.photo`); part 2 is filled when the child goes missing.
PROFILE_PART_1 = {
    "physical_description": "Description",
    "friends_and_associates": "Friends and associates",
    "addresses_and_places": "Places frequented",
    "phone_numbers": "Phone numbers",
    "medical_needs": "Medical needs and medication",
    "money": "Money",
    "social_media": "Social media",
    "transport": "Transport",
}
PROFILE_PART_2 = {
    "clothing": "Clothing",
    "last_seen": "Where last seen",
}
#: Every text part of the profile (the subject access pack lists these).
PROFILE_FIELDS = {**PROFILE_PART_1, **PROFILE_PART_2}
PROFILE_HINTS = {
    "physical_description": "Height, build, hair, eyes, distinguishing marks, how they usually dress and present",
    "friends_and_associates": "Friends, family and adults they may go to; anyone of concern",
    "addresses_and_places": "Addresses, areas, shops, parks or towns they go to",
    "phone_numbers": "The child's phone numbers and those of people they may contact",
    "medical_needs": "Conditions, medication, dose and what happens without it",
    "money": "Where they get money, bank cards, how much they may have",
    "social_media": "Accounts and user names (not passwords)",
    "transport": "How they travel: bus or train passes, bikes, who drives them",
    "clothing": "What they were wearing when last seen",
    "last_seen": "Where, when and with whom they were last seen",
}
PROFILE_PARTS = {"Part 1: kept ahead": PROFILE_PART_1, "Part 2: when the child goes missing": PROFILE_PART_2}
PHOTO_LABEL = "Photo"
PROFILE_TEXT_MAX = 4000


def _child_for_profile(actor: User, child_id: int, action: str, object_type: str = "philomena-profile"):
    """The hub's DPO reads the profile for subject access; only its keepers write or release it."""
    return load_profile_child(actor, child_id, action, object_type)


def _profile_of(child_id: int):
    from hub.missing.models import PhilomenaProfile

    return db.session().scalar(select(PhilomenaProfile).where(PhilomenaProfile.child_id == child_id))


def get_profile(actor: User, child_id: int):
    """The child's profile (None if not yet written), for the authority that keeps it."""
    _child, access = _child_for_profile(actor, child_id, "read")
    with unit_of_work():
        profile = _profile_of(child_id)
        audit.record("read", actor=actor, object_type="philomena-profile", object_id=profile.id if profile else None,
                     child_id=child_id, basis=access.basis)
    return profile


@dataclass
class PhotoChange:
    """What the form did to the photo: a new upload (bytes as sent), removal, or nothing."""

    upload: bytes | None = None
    remove: bool = False


def _clean_values(values: dict[str, str | None], photo: PhotoChange) -> tuple[dict[str, str | None], bytes | None]:
    from hub.missing import photos

    cleaned = {name: (values.get(name) or "").strip() or None for name in PROFILE_FIELDS}
    errors = {name: f"Keep this under {PROFILE_TEXT_MAX} characters"
              for name, value in cleaned.items() if value and len(value) > PROFILE_TEXT_MAX}
    jpeg = None
    if photo.upload is not None:
        try:
            jpeg = photos.clean_photo(photo.upload)
        except photos.PhotoRefused as exc:
            errors["photo"] = str(exc)
    if errors:
        raise Invalid(errors)
    return cleaned, jpeg


def save_profile(actor: User, child_id: int, values: dict[str, str | None], photo: PhotoChange | None = None):
    """Write the profile: part 1 ahead of any episode, part 2 when the child goes missing (one per
    child, kept by the child's authority). A photo is stored only re-encoded and encrypted."""
    from hub.missing.models import PhilomenaProfile

    photo = photo or PhotoChange()
    _child, access = _child_for_profile(actor, child_id, "update")
    cleaned, jpeg = _clean_values(values, photo)
    current = _profile_of(child_id)
    if not any(cleaned.values()) and jpeg is None and (current is None or current.photo is None or photo.remove):
        raise Invalid({"": "Fill in at least one part of the profile"})
    with unit_of_work() as s:
        profile = current
        created = profile is None
        if created:
            profile = PhilomenaProfile(child_id=child_id)
            s.add(profile)
        for name, value in cleaned.items():
            setattr(profile, name, value)
        photo_changed = _set_photo(profile, jpeg, photo.remove)
        profile.updated_by_user_id = actor.id
        s.flush()
        audit.record("create" if created else "update", actor=actor, object_type="philomena-profile",
                     object_id=profile.id, child_id=child_id, basis=access.basis,
                     detail={"photo": photo_changed} if photo_changed else None)
    return profile


def _set_photo(profile, jpeg: bytes | None, remove: bool) -> str | None:
    """The change made to the photo ("replaced", "removed"), for the audit event."""
    if jpeg is not None:
        profile.photo, profile.photo_updated_at = jpeg, utcnow()
        return "replaced"
    if remove and profile.photo is not None:
        profile.photo, profile.photo_updated_at = None, None
        return "removed"
    return None


def get_profile_photo(actor: User, child_id: int) -> bytes | None:
    """The profile's photo (None when none is kept), for those who may see the profile: its keepers,
    the hub's DPO, and a force it was released to while the release stands. Every read is audited;
    anyone else gets the same 404 as for a child without a profile, audited."""
    basis = profile_photo_basis(actor, child_id)
    with unit_of_work():
        profile = _profile_of(child_id)
        audit.record("read", actor=actor, object_type="philomena-photo", object_id=profile.id if profile else None,
                     child_id=child_id, basis=basis)
    return profile.photo if profile is not None else None


def release_content(profile) -> str:
    """The share's content: the protocol's parts and sections, each named even when empty."""
    from hub.missing import profile_content as pc

    parts = []
    for title, labels in PROFILE_PARTS.items():
        sections = [pc.Section(label, getattr(profile, name) or "") for name, label in labels.items()]
        if labels is PROFILE_PART_1:
            sections.insert(1, pc.Section(PHOTO_LABEL, pc.PHOTO_HELD if profile.photo else pc.NO_PHOTO))
        parts.append(pc.Part(title, sections))
    return pc.render(parts)


def released_sections(content: str) -> list:
    """The parts and sections of a released profile's text (hub.missing.profile_content.Part)."""
    from hub.missing import profile_content as pc

    known = {title: [*labels.values(), PHOTO_LABEL] for title, labels in PROFILE_PARTS.items()}
    return pc.parse(content, known)


def release_profile(actor: User, episode_id: int):
    """Release the profile to the force that holds the missing report, in one action: a share
    record with its basis (the police need it to find the child: risk of significant harm)."""
    from hub.missing.models import ProfileRelease
    from hub.sharing import legal_bases
    from hub.sharing import service as sharing
    from hub.sharing.models import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind

    episode = db.session().get(MissingEpisode, episode_id)
    if episode is None:
        refuse(actor, "missing-episode", episode_id, action="share")
    child_id = episode.child_id
    _child_for_profile(actor, child_id, "share")
    profile = _profile_of(child_id)
    if profile is None:
        raise Invalid({"": "There is no profile to release: write it first"})
    if db.session().scalar(select(ProfileRelease.id).where(ProfileRelease.profile_id == profile.id,
                                                           ProfileRelease.episode_id == episode.id)):
        raise Invalid({"": "The profile was already released for this episode"})
    with unit_of_work() as s:
        share = sharing.create_share(actor, sharing.ShareDraft(
            child_id=child_id, category=Category.missing_episode,
            summary=f"Philomena protocol profile for missing report {episode.police_reference}",
            content=release_content(profile), purpose="To help the police find a missing child (Philomena protocol)",
            recipient_org_ids=[episode.police_org_id], source_kind=SourceKind.organisation,
            source_description="The child's carers and placing authority (Philomena protocol profile)",
            obtained_how=ObtainedHow.other, obtained_on=(profile.updated_at or utcnow()).date(),
            bases=legal_bases.BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA2004-s11"),
            special_category=bool(profile.medical_needs), consent_position=ConsentPosition.not_needed,
            no_consent_reason=NoConsentReason.significant_harm,
            rationale="The child is missing; the profile was prepared with the carers for exactly this purpose",
            authorised_by_user_id=actor.id, family_told=False,
            family_not_told_reason="The carers prepared the profile for release when the child goes missing; "
                                   "the child is told on return"))
        s.add(ProfileRelease(profile_id=profile.id, episode_id=episode.id, share_id=share.id,
                             released_by_user_id=actor.id))
        audit.record("share", actor=actor, object_type="philomena-profile", object_id=profile.id, child_id=child_id,
                     detail={"episode": episode.id, "share": share.id, "to": episode.police_org_id})
    return share


def released_profile(actor: User, episode_id: int):
    """The profile as released for an episode, for the force it went to (and its sender): the
    share, read through the sharing service (its own check and audit), or None when nothing was
    released for the episode that the actor may see."""
    from hub.missing.models import ProfileRelease
    from hub.sharing import service as sharing

    get_episode(actor, episode_id)
    share_ids = db.session().scalars(select(ProfileRelease.share_id).where(ProfileRelease.episode_id == episode_id)
                                     .order_by(ProfileRelease.id.desc()))
    visible = db.session().scalar(select(ShareRecord.id).where(ShareRecord.id.in_(list(share_ids)),
                                                               share_visible(actor)).limit(1))
    return sharing.get_share(actor, visible) if visible is not None else None


def releases(episode_id: int) -> list:
    """The profile releases made for an episode (the caller checked access)."""
    from hub.missing.models import ProfileRelease

    return list(db.session().scalars(select(ProfileRelease).where(ProfileRelease.episode_id == episode_id)
                                     .order_by(ProfileRelease.id)))


def may_keep_profile(actor: User, child: Child) -> bool:
    """The police see the profile only when it is released (hub.permissions)."""
    return may_keep_philomena_profile(actor, child)


# --- the missing team's list -----------------------------------------------------------------------

RECENTLY_FOUND = timedelta(days=14)


@dataclass
class Told:
    """What the schools were told of an episode, one kind of notification ("Reported missing",
    "Found", ...) at a time, so the list says which one it speaks of."""

    kind: str                    # the notification's kind, as people read it
    sent: int                    # notification groups of this kind (one per school and sending)
    acknowledged: int
    overdue: int                 # not acknowledged by the deadline

    @property
    def status(self) -> str:
        if self.overdue:
            return "not acknowledged: overdue"
        return "acknowledged" if self.acknowledged == self.sent else "waiting"


@dataclass
class DashboardRow:
    episode: MissingEpisode
    child: Child
    #: What is overdue (`rules.Due.what`), earliest first, from the due times stored by the rules.
    overdue: list[str]
    schools_told: int            # notification groups sent
    schools_acknowledged: int    # of which acknowledged
    schools_overdue: int         # not acknowledged by the deadline
    #: The latest time a school told the force the child is at school, while still missing.
    seen_at_school: datetime | None = None
    #: Each kind of notification sent, in the order first sent.
    told: list[Told] = field(default_factory=list)


def _seen_at_school(episode_ids: list[int]) -> dict[int, datetime]:
    """Episode id -> the latest "the child is at school now" reply (one query for the page): the
    missing team and the police see at a glance where a missing child has turned up."""
    from sqlalchemy import func

    from hub.notifications.models import NotificationReply, ReplyKind

    if not episode_ids:
        return {}
    return dict(db.session().execute(
        select(NotificationReply.episode_id, func.max(NotificationReply.seen_at))
        .where(NotificationReply.episode_id.in_(episode_ids), NotificationReply.kind == ReplyKind.seen_at_school)
        .group_by(NotificationReply.episode_id)).all())


def dashboard(actor: User, now: datetime | None = None, limit: int = 200) -> list[DashboardRow]:
    """Open episodes, and those found in the last two weeks, of children the actor may see: with
    what is overdue and whether the schools acknowledged. Audited as one read per child shown.

    Open ones first, then the found, each newest first: two queries that each walk the index on
    (found_at, reported_start) and stop at the page's length, so the page reads what it shows
    whatever the number of open episodes; what is overdue is read from the stored due times."""
    from sqlalchemy import func

    from hub.notifications.models import Notification, NotificationKind

    if not may_read_episodes(actor):
        return []
    now = now or utcnow()
    session = db.session()
    shown = (select(MissingEpisode, Child).join(Child, Child.id == MissingEpisode.child_id)
             .where(episode_visible(actor)).order_by(MissingEpisode.reported_start.desc()))
    rows = session.execute(shown.where(MissingEpisode.found_at.is_(None)).limit(limit)).all()
    rows += session.execute(shown.where(MissingEpisode.found_at >= now - RECENTLY_FOUND)
                            .limit(limit - len(rows))).all()
    if not rows:
        return []
    child_ids = {c.id for _, c in rows}
    groups: dict[int, dict[str, tuple[bool, bool]]] = {}
    kinds: dict[int, dict[NotificationKind, Told]] = {}
    for episode_id, kind, group, acked, deadline, _first in session.execute(
            select(Notification.episode_id, Notification.kind, Notification.group_key,
                   func.max(Notification.acknowledged_at), func.min(Notification.deadline_at),
                   func.min(Notification.id))
            .where(Notification.episode_id.in_([e.id for e, _ in rows]))
            .group_by(Notification.episode_id, Notification.kind, Notification.group_key)
            .order_by(func.min(Notification.id))):
        deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=now.tzinfo)
        answered, overdue = acked is not None, acked is None and deadline <= now
        groups.setdefault(episode_id, {})[group] = (answered, overdue)
        told = kinds.setdefault(episode_id, {}).setdefault(kind, Told(kind.label, 0, 0, 0))
        told.sent, told.acknowledged, told.overdue = (told.sent + 1, told.acknowledged + answered,
                                                      told.overdue + overdue)
    seen = _seen_at_school([e.id for e, _ in rows if e.found_at is None])
    result = []
    for episode, child in rows:
        told = groups.get(episode.id, {})
        result.append(DashboardRow(
            episode, child, deadlines.overdue(episode, now),
            len(told), sum(1 for a, _ in told.values() if a), sum(1 for _, o in told.values() if o),
            seen.get(episode.id), list(kinds.get(episode.id, {}).values())))
    with unit_of_work():
        # One event for the page, naming every child it shows (who-has-seen finds each).
        audit.record("read", actor=actor, object_type="missing-dashboard", purpose="missing dashboard",
                     children=sorted(child_ids), detail={"shown": len(child_ids)})
    return result
