"""Writing each record's review date, when the record is written, in the same transaction.

The services that write records call in here (hub.sharing.service for shares and MACE
intelligence, hub.missing.service for episodes), one statement however many records: the
police download writes thousands of episodes at a time. The rule is the owning agency's period
for the class at that moment (its setting, or the default); a later change of setting applies to
records written after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select

from hub import db
from hub.db import utcnow
from hub.models.auth import Organisation
from hub.models.mace import MaceGroup
from hub.models.missing import MissingEpisode
from hub.models.people import Child, LookedAfterPeriod
from hub.models.retention import RecordClass, RetentionRecord, RetentionSetting, RetentionStatus
from hub.models.sharing import ShareRecord
from hub.retention import rules


@dataclass(frozen=True)
class NewRecord:
    record_class: RecordClass
    record_id: int
    owning_org_id: int
    child_id: int | None
    written_on: date


def schedule(records: Sequence[NewRecord]) -> None:
    """Store the review date of each new record, in the caller's transaction."""
    if not records:
        return
    periods = periods_of({(r.owning_org_id, r.record_class) for r in records})
    births = dates_of_birth({r.child_id for r in records if r.child_id is not None
                             and rules.DEFAULTS[r.record_class].basis == rules.Basis.birthday})
    rows = []
    for r in records:
        period = periods[(r.owning_org_id, r.record_class)]
        facts = rules.RecordFacts(written_on=r.written_on, date_of_birth=births.get(r.child_id))
        rows.append(dict(record_class=r.record_class, record_id=r.record_id, owning_org_id=r.owning_org_id,
                         child_id=r.child_id, written_on=r.written_on, rule=rules.describe(r.record_class, period),
                         review_on=rules.review_date(r.record_class, period, facts),
                         status=RetentionStatus.scheduled))
    db.session().execute(insert(RetentionRecord), rows)


def periods_of(keys: Iterable[tuple[int, RecordClass]]) -> dict[tuple[int, RecordClass], int]:
    """Each (agency, class)'s period: the agency's setting, else the default."""
    keys = set(keys)
    found = {(s.organisation_id, s.record_class): s.period for s in db.session().scalars(
        select(RetentionSetting).where(RetentionSetting.organisation_id.in_({org for org, _ in keys})))}
    return {key: found.get(key, rules.DEFAULTS[key[1]].period) for key in keys}


def dates_of_birth(child_ids: set[int]) -> dict[int, date]:
    """The children's dates of birth (decrypted), where known."""
    if not child_ids:
        return {}
    rows = db.session().execute(select(Child.id, Child.date_of_birth_enc).where(Child.id.in_(child_ids)))
    return {child_id: date.fromisoformat(dob) for child_id, dob in rows if dob}


def schedule_shares(shares: Sequence[ShareRecord]) -> None:
    """Shares (flushed) just written: MACE intelligence belongs to
    its group's host; any other share to its sender, classed by the sender's kind."""
    if not shares:
        return
    kinds = dict(db.session().execute(select(Organisation.id, Organisation.kind).where(
        Organisation.id.in_({s.sender_org_id for s in shares}))).all())
    hosts = dict(db.session().execute(select(MaceGroup.id, MaceGroup.host_organisation_id).where(
        MaceGroup.id.in_({s.mace_group_id for s in shares if s.mace_group_id is not None}))).all())
    records = []
    for share in shares:
        written_on = rules.london_day(share.created_at or utcnow())
        looked_after = share.child_id is not None and looked_after_by(share.child_id, written_on)
        record_class = rules.share_class(kinds[share.sender_org_id], mace_intelligence=share.mace_group_id is not None,
                                         looked_after=looked_after)
        owner = hosts[share.mace_group_id] if share.mace_group_id is not None else share.sender_org_id
        records.append(NewRecord(record_class, share.id, owner, share.child_id, written_on))
    schedule(records)


def schedule_episodes(episodes: Sequence[tuple[int, int, int]], written_at: datetime | None = None) -> None:
    """Missing episodes just written, as (episode id, child id, force id): the force's records."""
    written_on = rules.london_day(written_at or utcnow())
    schedule([NewRecord(RecordClass.police_record, episode_id, force_id, child_id, written_on)
              for episode_id, child_id, force_id in episodes])


def looked_after_by(child_id: int, day: date) -> bool:
    """Whether the child had been looked after by this day (a period begun by then, or looked
    after now): the fact that makes a social care record a looked-after case record."""
    session = db.session()
    if session.scalar(select(Child.looked_after).where(Child.id == child_id)):
        return True
    return session.scalar(select(LookedAfterPeriod.id).where(
        LookedAfterPeriod.child_id == child_id, LookedAfterPeriod.started_on <= day).limit(1)) is not None


def schedule_existing() -> int:
    """Review dates for the shares and episodes written before retention existed (or by a path
    that did not date them), from when each was written. In the caller's transaction."""
    from_table = select(RetentionRecord.record_id)
    session = db.session()
    shares = list(session.scalars(select(ShareRecord).where(ShareRecord.id.not_in(
        from_table.where(RetentionRecord.record_class != RecordClass.police_record)))))
    schedule_shares(shares)
    episodes = session.execute(select(MissingEpisode.id, MissingEpisode.child_id, MissingEpisode.police_org_id,
                                      MissingEpisode.created_at).where(MissingEpisode.id.not_in(
        from_table.where(RetentionRecord.record_class == RecordClass.police_record)))).all()
    for episode_id, child_id, force_id, created_at in episodes:
        schedule_episodes([(episode_id, child_id, force_id)], created_at)
    return len(shares) + len(episodes)
