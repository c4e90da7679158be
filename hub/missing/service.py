"""Missing episodes: the only code that records or changes them.

Three ways in, one set of rules: a practitioner's form (`record_episode`, `update_episode`), the
police daily download and the API (`apply_police_record`, called once per row inside the caller's
unit of work, so a whole file or request commits or rolls back together). Every new episode, one
or a chunk of the download's, is written by `create_episodes` (one is a list of one). Each change
writes its audit event and, when the school must hear of it, its notifications and outbox e-mails
in the same transaction (`hub.notifications.issuing.notify_episodes`): nothing is told that was
not stored, and nothing stored goes untold. What an episode says and the checks on it are
hub/missing/details.py; reading episodes hub/missing/reading.py; the team's list
hub/missing/dashboard.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select

from hub import db
from hub.audit import service as audit
from hub.crypto import scoped
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing import deadlines, rules
from hub.missing.details import EpisodeChanges, EpisodeDetails, _check_changes, _check_details, _may_record, _police_org
from hub.missing.reading import _episode_for
from hub.models.auth import User
from hub.models.child_keys import key_for_child
from hub.models.missing import EpisodeSource, MissingEpisode, RiskGrade, RiskGradeChange
from hub.models.people import Child, IdentifierKind
from hub.notifications import issuing
from hub.people import service as people
from hub.retention import scheduling as retention


@dataclass
class RowOutcome:
    """What `apply_police_record` did with one row."""

    outcome: str                       # created | updated | unchanged
    episode: MissingEpisode
    changed: list[str] = field(default_factory=list)


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
    key = key_for_child(db.session().connection(), child_id)
    return dict(
        child_id=child_id, police_org_id=police_org_id, police_reference=details.police_reference.strip(),
        reported_start=details.reported_start, classification=details.classification,
        risk_grade=details.risk_grade, missing_from=details.missing_from,
        # A Core insert passes no ORM hook: the episode's notes are scoped to the child's key here.
        missing_from_detail=scoped(details.missing_from_detail or None, key), found_at=details.found_at,
        found_where=scoped(details.found_where or None, key), source=source,
        created_by_user_id=getattr(actor, "id", None),
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
