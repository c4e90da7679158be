"""Writing each record's review date, when the record is written, in the same transaction.

The services that write records call in here (hub.sharing.service for shares and MACE
intelligence, hub.missing.service for episodes, hub.consent.service for consent records,
hub.mace.operations for meetings' minutes, agenda items, actions and outcomes,
hub.missing.profiles for Philomena profiles), one statement however many records: the
police download writes thousands of episodes at a time. The rule is the owning agency's period
for the class at that moment (its setting, or the default); a later change of setting applies to
records written after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select, update

from hub import db
from hub.db import utcnow
from hub.models.auth import Organisation
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceAction, MaceAgendaItem, MaceGroup, MaceMeeting, MaceOutcome
from hub.models.missing import MissingEpisode, PhilomenaProfile
from hub.models.people import Child, LookedAfterPeriod
from hub.models.retention import RecordClass, RetentionRecord, RetentionSetting, RetentionStatus
from hub.models.sharing import ShareRecord
from hub.retention import rules

#: The classes a share record can be (hub.retention.rules.share_class).
SHARE_CLASSES = (RecordClass.looked_after_case_record, RecordClass.social_care_record,
                 RecordClass.school_child_protection, RecordClass.health_record, RecordClass.police_share,
                 RecordClass.partner_record, RecordClass.mace_intelligence)


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


def _written_on(moment: datetime | None) -> date:
    return rules.london_day(moment or utcnow())


def _unscheduled(records: Sequence[NewRecord]) -> list[NewRecord]:
    """Those of `records` with no retention row yet (a record saved again is dated once)."""
    if not records:
        return []
    have = set(db.session().execute(select(RetentionRecord.record_class, RetentionRecord.record_id).where(
        RetentionRecord.record_class.in_({r.record_class for r in records}),
        RetentionRecord.record_id.in_({r.record_id for r in records}))).all())
    return [r for r in records if (r.record_class, r.record_id) not in have]


def group_host(group_id: int) -> int:
    """A MACE group's host organisation: it owns the group's minutes, items and actions."""
    return db.session().scalar(select(MaceGroup.host_organisation_id).where(MaceGroup.id == group_id))


def schedule_consent(consent: ConsentRecord) -> None:
    """A consent record (flushed): the recording organisation's, about its child."""
    schedule([NewRecord(RecordClass.consent_record, consent.id, consent.recorded_by_org_id, consent.child_id,
                        _written_on(consent.created_at))])


def schedule_meeting(meeting: MaceMeeting) -> None:
    """A MACE meeting (flushed): its minutes (notes, attendance) are the group's host's. A meeting
    names no one child, so its rule counts from the day it was written (the stated fallback)."""
    schedule([NewRecord(RecordClass.mace_minutes, meeting.id, group_host(meeting.group_id), None,
                        _written_on(meeting.created_at))])


def schedule_agenda_items(items: Sequence[MaceAgendaItem], group_id: int) -> None:
    """Agenda items (flushed) of one group's meeting: the host's, dated by the child each is about
    (a place or a person: the no-date-of-birth fallback)."""
    if items:
        host = group_host(group_id)
        schedule([NewRecord(RecordClass.mace_agenda_item, i.id, host, i.child_id, _written_on(i.created_at))
                  for i in items])


def schedule_action(action: MaceAction) -> None:
    """A MACE action (flushed): the group's host's, dated by the child it protects, if any."""
    schedule([NewRecord(RecordClass.mace_action, action.id, group_host(action.group_id), action.child_id,
                        _written_on(action.created_at))])


def schedule_outcome(outcome: MaceOutcome) -> None:
    """An agency's MACE outcome (flushed): that agency's. Confirmed again, it keeps its first date."""
    schedule(_unscheduled([NewRecord(RecordClass.mace_outcome, outcome.id, outcome.organisation_id,
                                     outcome.child_id, _written_on(outcome.created_at))]))


def profile_keeper(child_id: int) -> int | None:
    """The authority keeping a child's Philomena profile now: placing authority, else home."""
    return db.session().scalar(select(func.coalesce(Child.placing_authority_id, Child.responsible_authority_id))
                               .where(Child.id == child_id))


def schedule_profile(profile: PhilomenaProfile, fallback_org_id: int) -> None:
    """A Philomena profile written or saved again (flushed). It is dated once, when first written.
    Unlike other records it moves with the child (whoever places the child keeps it), so a save
    after the child moved authority hands its retention row, date unchanged, to the new keeper."""
    keeper = profile_keeper(profile.child_id) or fallback_org_id
    new = _unscheduled([NewRecord(RecordClass.philomena_profile, profile.id, keeper, profile.child_id,
                                  _written_on(profile.updated_at))])
    if new:
        schedule(new)
        return
    db.session().execute(update(RetentionRecord).where(
        RetentionRecord.record_class == RecordClass.philomena_profile, RetentionRecord.record_id == profile.id,
        RetentionRecord.owning_org_id != keeper).values(owning_org_id=keeper))


def schedule_existing() -> int:
    """Review dates for the shares and episodes written before retention existed (or by a path
    that did not date them), from when each was written. In the caller's transaction."""
    from_table = select(RetentionRecord.record_id)
    session = db.session()
    shares = list(session.scalars(select(ShareRecord).where(ShareRecord.id.not_in(
        from_table.where(RetentionRecord.record_class.in_(SHARE_CLASSES))))))
    schedule_shares(shares)
    episodes = session.execute(select(MissingEpisode.id, MissingEpisode.child_id, MissingEpisode.police_org_id,
                                      MissingEpisode.created_at).where(MissingEpisode.id.not_in(
        from_table.where(RetentionRecord.record_class == RecordClass.police_record)))).all()
    for episode_id, child_id, force_id, created_at in episodes:
        schedule_episodes([(episode_id, child_id, force_id)], created_at)
    return len(shares) + len(episodes) + _schedule_existing_others()


def _schedule_existing_others() -> int:
    """The consent records, MACE minutes, items, actions and outcomes and Philomena profiles
    written before their classes were scheduled (or loaded by the demo straight into tables)."""
    session = db.session()

    def missing(record_class: RecordClass, model) -> list:
        return list(session.scalars(select(model).where(model.id.not_in(select(RetentionRecord.record_id).where(
            RetentionRecord.record_class == record_class)))))

    consents = missing(RecordClass.consent_record, ConsentRecord)
    meetings = missing(RecordClass.mace_minutes, MaceMeeting)
    items = missing(RecordClass.mace_agenda_item, MaceAgendaItem)
    actions = missing(RecordClass.mace_action, MaceAction)
    outcomes = missing(RecordClass.mace_outcome, MaceOutcome)
    profiles = missing(RecordClass.philomena_profile, PhilomenaProfile)
    groups = {m.id: m.group_id for m in session.scalars(select(MaceMeeting).where(
        MaceMeeting.id.in_({i.meeting_id for i in items})))}
    hosts = {g: group_host(g) for g in {*groups.values(), *(m.group_id for m in meetings),
                                        *(a.group_id for a in actions)}}
    records = [NewRecord(RecordClass.consent_record, c.id, c.recorded_by_org_id, c.child_id,
                         _written_on(c.created_at)) for c in consents]
    records += [NewRecord(RecordClass.mace_minutes, m.id, hosts[m.group_id], None, _written_on(m.created_at))
                for m in meetings]
    records += [NewRecord(RecordClass.mace_agenda_item, i.id, hosts[groups[i.meeting_id]], i.child_id,
                          _written_on(i.created_at)) for i in items]
    records += [NewRecord(RecordClass.mace_action, a.id, hosts[a.group_id], a.child_id, _written_on(a.created_at))
                for a in actions]
    records += [NewRecord(RecordClass.mace_outcome, o.id, o.organisation_id, o.child_id, _written_on(o.created_at))
                for o in outcomes]
    records += [NewRecord(RecordClass.philomena_profile, p.id, keeper, p.child_id, _written_on(p.updated_at))
                for p in profiles if (keeper := profile_keeper(p.child_id)) is not None]
    schedule(records)
    return len(records)
