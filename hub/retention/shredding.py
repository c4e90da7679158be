"""Crypto-shredding: when a child's last record is destroyed, the child's data key goes, and with it
every copy of the child's fields, backups and replicas included (hub.crypto, envelope encryption).

`shred_child` runs in the caller's transaction (destruction.destroy_record calls it; a batch of
`destroy_approved` calls `shred_children` once for all its children): it does
nothing while anything about the child still stands (a record not yet destroyed, under a hold or
not: a held record keeps its retention row undestroyed; a MACE record about the child, which has no
retention class yet), so it never takes a key a remaining record needs. Otherwise it:

- deletes the child's keyed search indexes (name words, prefixes and sound-alike codes; the date of
  birth's hash; the identifiers and their hashes) and the month of birth kept in clear;
- deletes the child's row and what is only part of it (enrolments, agency involvement, emergency
  access grants, looked-after periods, the Philomena profile, consent records, share drafts); an
  import file's review row forgets the child (import files are a class of their own);
- empties the wrapped data key and dates its destruction: no field under it can be read again,
  wherever a copy of it lies.

The audit log keeps the child's events (they hold ids, never content): the retention rows say when
the child's records were destroyed and under which rule (`destroyed_child`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, inspect, select, union, update

from hub import crypto, db
from hub.db import london_today
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceAction, MaceAgendaChild, MaceAgendaItem, MaceIntelligenceSubject, MaceLink, MaceOutcome
from hub.models.missing import ImportReviewItem, MissingEpisode, PhilomenaProfile
from hub.models.people import (
    AgencyInvolvement,
    BreakGlassGrant,
    Child,
    ChildDataKey,
    ChildHolder,
    ChildIdentifier,
    ChildNameToken,
    Enrolment,
    LookedAfterPeriod,
)
from hub.models.retention import RetentionRecord, RetentionStatus
from hub.models.sharing import ShareDraftRecord, ShareRecord

#: Records about the child that keep the child (and its key) while one stands.
_RECORDS = (ShareRecord, MissingEpisode, MaceLink, MaceAgendaItem, MaceAction, MaceOutcome, MaceIntelligenceSubject,
            MaceAgendaChild)
_CHUNK = 500
#: What is only part of the child's own record: it goes with the child.
_PARTS = (ChildNameToken, ChildIdentifier, Enrolment, AgencyInvolvement, BreakGlassGrant, LookedAfterPeriod,
          PhilomenaProfile, ConsentRecord, ShareDraftRecord, ChildHolder)


def _standing(connection, child_ids: list[int]) -> set[int]:
    """Which of the children a record still stands about: one query (a retention row not
    destroyed, or a record of a kind that keeps the child)."""
    standing = [select(RetentionRecord.child_id).where(RetentionRecord.child_id.in_(child_ids),
                                                       RetentionRecord.status != RetentionStatus.destroyed),
                *(select(model.child_id).where(model.child_id.in_(child_ids)) for model in _RECORDS)]
    return set(connection.scalars(union(*standing)))


def shred_child(child_id: int, now: datetime) -> bool:
    """Destroy the child's data key, search indexes and own row once no record about the child
    stands; True when it did. In the caller's transaction."""
    return shred_children({child_id}, now) == {child_id}


def shred_children(child_ids: set[int], now: datetime) -> set[int]:
    """`shred_child` for many children at once (destruction's batches): set-based statements on
    the caller's connection, so a batch of thousands costs a few statements per 500 children.
    Returns the children it shredded."""
    s = db.session()
    s.flush()  # the caller's changes (the records just destroyed) first
    connection = s.connection()
    shredded: set[int] = set()
    ordered = sorted(child_ids)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start:start + _CHUNK]
        keys = dict(connection.execute(select(Child.id, Child.data_key_id).where(Child.id.in_(chunk))).all())
        gone = sorted(set(keys) - _standing(connection, list(keys)))
        if not gone:
            continue
        connection.execute(update(ImportReviewItem).where(ImportReviewItem.child_id.in_(gone)).values(child_id=None))
        for model in _PARTS:
            connection.execute(delete(model).where(model.child_id.in_(gone)))
        connection.execute(delete(Child).where(Child.id.in_(gone)))
        key_ids = [keys[c] for c in gone if keys[c] is not None]
        connection.execute(update(ChildDataKey).where(ChildDataKey.id.in_(key_ids))
                           .values(wrapped_key=None, destroyed_at=now))
        for key_id in key_ids:
            crypto.forget_key(key_id)
        shredded.update(gone)
    if shredded:
        cached = s.info.get("hub_child_key_ids", {})
        for child_id in shredded:
            cached.pop(child_id, None)
        for stale in list(s.identity_map.values()):  # the deleted rows' objects must not be flushed again
            # Read what is loaded, never the database: a row another destroy step deleted in this
            # unit of work is gone, and loading its columns would raise.
            state = inspect(stale)
            child_id = (state.identity[0] if isinstance(stale, Child)
                        else state.dict.get("child_id") if isinstance(stale, _PARTS) else None)
            if child_id in shredded and stale in s:
                s.expunge(stale)  # (a child's identifiers go with it: `stale in s` skips them after)
    return shredded


@dataclass(frozen=True)
class Destroyed:
    """What the register says of a destroyed child: when its last record went, under which rule."""

    on: datetime
    rule: str


def destroyed_child(child_id: int) -> Destroyed | None:
    """The date and rule of a child's destruction, from the retention register, when the child's
    records were destroyed and its key with them; None otherwise."""
    return destroyed_children({child_id}).get(child_id)


def destroyed_children(child_ids: set[int]) -> dict[int, Destroyed]:
    """`destroyed_child` for many children in two statements, whatever their number (a DPO's page
    of events names many children; asking one by one made its cost grow with them)."""
    if not child_ids:
        return {}
    s = db.session()
    keys_gone = dict(s.execute(select(ChildDataKey.child_id, ChildDataKey.destroyed_at).where(
        ChildDataKey.child_id.in_(child_ids), ChildDataKey.destroyed_at.is_not(None))).all())
    if not keys_gone:
        return {}
    found = {child_id: Destroyed(on, "") for child_id, on in keys_gone.items()}
    # Oldest first, so each child ends with its last record's date and rule.
    for child_id, on, rule in s.execute(
            select(RetentionRecord.child_id, RetentionRecord.destroyed_at, RetentionRecord.rule)
            .where(RetentionRecord.child_id.in_(keys_gone), RetentionRecord.status == RetentionStatus.destroyed)
            .order_by(RetentionRecord.child_id, RetentionRecord.destroyed_at)):
        found[child_id] = Destroyed(on, rule)
    return found


_DESTROYED = "about a record destroyed on "


def destroyed_labels(child_ids: set[int]) -> dict[int, str]:
    """What a page shows for each child among `child_ids` whose records were destroyed (its key
    with them): "about a record destroyed on <date> under <rule>", from the retention register."""
    labels = {}
    for child_id, found in sorted(destroyed_children(child_ids).items()):
        on = london_today(found.on).strftime("%-d %B %Y")
        labels[child_id] = f"{_DESTROYED}{on} under {found.rule}" if found.rule else f"{_DESTROYED}{on}"
    return labels


def is_destroyed_label(text: str) -> bool:
    return text.startswith(_DESTROYED)
