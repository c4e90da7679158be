"""Missing episodes: the only code that records or changes them.

Three ways in, one set of rules: a practitioner's form (`record_episode`, `update_episode`), the
police daily download and the API (`apply_police_record`, called once per row inside the caller's
unit of work, so a whole file or request commits or rolls back together). Every new episode, one
or a chunk of the download's, is written by `create_episodes` (one is a list of one). Each change
writes its audit event and, when the school must hear of it, its notifications and outbox e-mails
in the same transaction (`hub.notifications.issuing.notify_episodes`): nothing is told that was
not stored, and nothing stored goes untold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing import deadlines, rules
from hub.models.auth import Organisation, User
from hub.models.missing import (
    Classification,
    EpisodeSource,
    MissingEpisode,
    MissingFrom,
    RiskGrade,
    RiskGradeChange,
)
from hub.models.people import Child, IdentifierKind
from hub.models.roles import OrgKind
from hub.models.sharing import ShareRecord
from hub.notifications import counts as notification_counts
from hub.notifications import issuing
from hub.notifications.counts import EpisodeTold, Told
from hub.people import service as people
from hub.permissions import (
    child_access,
    episode_visible,
    load_or_refuse,
    may_read_episodes,
    may_record_episodes,
    refuse,
)
from hub.retention import scheduling as retention

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
    with unit_of_work():
        [made] = create_episodes(actor, police_org_id, [(child_id, details)], source, basis=access.basis)
        if isinstance(made, Invalid):
            raise made
        if made is NOT_NEW:
            raise Invalid({"police_reference": "An episode with this police reference is already recorded"})
        return db.session().get(MissingEpisode, made)


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
        _add_risk_history(actor, [(episode.id, episode.risk_grade)], source)
    deadlines.refresh_children(db.session(), [episode.child_id])  # flushes the changes first
    if not was_found and episode.found_at is not None:
        issuing.notify_episodes([episode], "found")
    elif episode.found_at is None and episode.risk_grade.rank > old_grade.rank:
        issuing.notify_episodes([episode], "risk_raised")
    return changed


# --- the police download and the API -------------------------------------------------------------

def match_child(police_id: str | None, nhs_number: str | None, given_name: str | None,
                family_name: str | None, date_of_birth) -> int | None:
    """The one child a row names: by police id, then NHS number, then name and date of birth.
    None when nothing matches or the name and date of birth match more than one child."""
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
        [made] = create_episodes(actor, police_org_id, [(child_id, details)], source)
        if isinstance(made, Invalid):
            raise made
        if made is NOT_NEW:  # recorded by another transaction since the look-up above
            raise Invalid({"police_reference": "An episode with this police reference is already recorded"})
        return RowOutcome("created", db.session().get(MissingEpisode, made))
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


# --- creating episodes: one path for one and for many ------------------------------------------------
# A practitioner's form, the API and the police download all create episodes here, so what a new
# episode writes (columns, risk history, stored deadlines, the school's notifications and e-mails,
# audit events) is one rule; a download's chunk is written with a fixed number of statements
# instead of about 26 per row (bench/README.md).

#: What create_episodes says of a row it did not create: already recorded (or repeated in the
#: same call), so a caller from the download applies it with apply_police_record, which updates it.
NOT_NEW = None


def create_episodes(actor, police_org_id: int, rows: Sequence[tuple[int, EpisodeDetails]], source: EpisodeSource,
                    basis: str = "police-report") -> list[int | Invalid | None]:
    """New episodes from (child id, details) rows, inside the caller's unit of work: the one
    writer of episodes (tests/test_one_write_path.py). Per row, in order: the new episode's id,
    the Invalid its details earn, or NOT_NEW. `basis` is the creator's access basis, for the audit
    event (the police's own record by default). A caller of many rows should run it in a
    savepoint: a database error leaves the savepoint to be rolled back, and the rows can then go
    one by one."""
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
    new = list(zip(ids, good, strict=True))
    _add_risk_history(actor, [(episode_id, details.risk_grade) for episode_id, (_, _, details) in new], source)
    retention.schedule_episodes([(episode_id, child_id, police_org_id)
                                 for episode_id, (_, child_id, _) in new], now)
    # The children's other episodes too: a second episode makes a return interview due for the first.
    deadlines.refresh_children(db.session(), {child_id for _, child_id, _ in good})
    refs = [issuing.EpisodeRef(episode_id, child_id) for episode_id, (_, child_id, _) in new]
    # Routes and deadlines are worked out once for both kinds: same children, same `now`.
    shared = dict(record=False, deadlines={}, routes={})
    first = [_first_notice(details) for _, _, details in good]
    missing = issuing.notify_episodes([r for r, k in zip(refs, first, strict=True) if k == "missing"], "missing", now,
                                            **shared)
    found = issuing.notify_episodes([r for r, k in zip(refs, first, strict=True) if k == "found"], "found", now,
                                    **shared)
    # Each episode's events in order: its notifications (the hub's own), then its creator's
    # "create"; one append, so one take of the log's head lock.
    entries: list[tuple[object, audit.Entry]] = []
    for ref in refs:
        entries += [(None, e) for e in missing.entries.get(ref.id, []) + found.entries.get(ref.id, [])]
        entries.append((actor, _created_entry(ref.id, ref.child_id, source, basis)))
    audit.record_many_as(entries)
    for episode_id, (index, _, _) in zip(ids, good, strict=True):
        results[index] = episode_id
    return results


def _episode_values(actor, child_id: int, police_org_id: int, details: EpisodeDetails,
                    source: EpisodeSource) -> dict[str, object]:
    """A new episode's columns."""
    return dict(
        child_id=child_id, police_org_id=police_org_id, police_reference=details.police_reference.strip(),
        reported_start=details.reported_start, classification=details.classification,
        risk_grade=details.risk_grade, missing_from=details.missing_from,
        missing_from_detail=details.missing_from_detail or None, found_at=details.found_at,
        found_where=details.found_where or None, source=source, created_by_user_id=getattr(actor, "id", None),
    )


def _add_risk_history(actor, grades: list[tuple[int, RiskGrade]], source: EpisodeSource) -> None:
    """Entries of the episodes' risk history (episode id, grade): a new episode's first grade, or
    a change of grade. One statement however many."""
    db.session().connection().execute(insert(RiskGradeChange.__table__), [
        dict(episode_id=episode_id, grade=grade, changed_by_user_id=getattr(actor, "id", None), source=source)
        for episode_id, grade in grades])


def _first_notice(details: EpisodeDetails) -> str:
    """What the school is first told. An episode recorded after the child was found (a late
    report, or a download's row of yesterday's episode) is told once, as "found" (its page shows
    since when and when found): one notification to acknowledge, not "missing" and "found" at once."""
    return "found" if details.found_at is not None else "missing"


def _created_entry(episode_id: int, child_id: int, source: EpisodeSource, basis: str) -> audit.Entry:
    return audit.Entry("create", object_type="missing-episode", object_id=episode_id, child_id=child_id,
                       basis=basis, detail={"source": source.value})


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


def childrens_services() -> list[Organisation]:
    """The children's social care authorities an episode may name as home or receiving authority."""
    return list(db.session().scalars(select(Organisation).where(Organisation.kind == OrgKind.childrens_social_care)
                                     .order_by(Organisation.name)))


# --- the missing team's list -----------------------------------------------------------------------

RECENTLY_FOUND = timedelta(days=14)


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


def dashboard(actor: User, now: datetime | None = None, limit: int = 200) -> list[DashboardRow]:
    """Open episodes, and those found in the last two weeks, of children the actor may see: with
    what is overdue and whether the schools acknowledged. Audited as one read per child shown.

    Open ones first, then the found, each newest first: two queries that each walk the index on
    (found_at, reported_start) and stop at the page's length, so the page reads what it shows
    whatever the number of open episodes; what is overdue is read from the stored due times."""
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
    told = notification_counts.told_of_episodes([e.id for e, _ in rows], now)
    seen = notification_counts.seen_at_school([e.id for e, _ in rows if e.found_at is None])
    result = []
    for episode, child in rows:
        schools = told.get(episode.id, EpisodeTold())
        result.append(DashboardRow(
            episode, child, deadlines.overdue(episode, now), schools.sent, schools.acknowledged, schools.overdue,
            seen.get(episode.id), schools.kinds))
    with unit_of_work():
        # One event for the page, naming every child it shows (who-has-seen finds each).
        audit.record("read", actor=actor, object_type="missing-dashboard", purpose="missing dashboard",
                     children=sorted(child_ids), detail={"shown": len(child_ids)})
    return result
