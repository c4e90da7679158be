"""Changing retention: an agency's schedule, the review of its records due, and legal holds.
Every change checks permission (hub.permissions), applies the rule and writes its audit event in
the same transaction. The audit events carry classes, periods, dates and ids, never a reason's
text (reasons may name people: they are kept, encrypted, on the rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import User
from hub.models.retention import (
    HoldKind,
    LegalHold,
    RecordClass,
    RetentionRecord,
    RetentionSetting,
    RetentionStatus,
)
from hub.permissions import (
    CHANGE,
    load_or_refuse,
    may_hold_child,
    may_keep_retention,
    refuse,
    visible_clause,
)
from hub.retention import rules
from hub.retention.holds import held

REASON_MAX = 500
#: Statuses a review can still decide: waiting, kept, or approved but not yet destroyed.
UNDECIDED = (RetentionStatus.scheduled, RetentionStatus.kept, RetentionStatus.approved)


def _require_keeper(actor: User, object_type: str, object_id=None) -> None:
    if not may_keep_retention(actor):
        refuse(actor, object_type, object_id, action=CHANGE)


def _reason(text: str | None, field: str, message: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise Invalid({field: message})
    if len(reason) > REASON_MAX:
        raise Invalid({field: f"Keep the reason to {REASON_MAX} characters"})
    return reason


# --- the schedule --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleRow:
    record_class: RecordClass
    default: rules.Default
    #: The agency's own period, when it set one.
    setting: RetentionSetting | None

    @property
    def period(self) -> int:
        return self.setting.period if self.setting else self.default.period

    @property
    def rule(self) -> str:
        return rules.describe(self.record_class, self.period)


def schedule_for(actor: User) -> list[ScheduleRow]:
    """The actor's organisation's schedule: each class it owns, its default and source, its setting."""
    _require_keeper(actor, "retention-schedule")
    classes = rules.CLASSES_FOR_KIND.get(actor.organisation.kind, ())
    settings = {s.record_class: s for s in db.session().scalars(
        select(RetentionSetting).where(RetentionSetting.organisation_id == actor.organisation_id))}
    return [ScheduleRow(c, rules.DEFAULTS[c], settings.get(c)) for c in classes]


def set_period(actor: User, record_class: RecordClass, period: int | None, reason: str | None) -> RetentionSetting:
    """Set the agency's period for a class (records written from now on follow it)."""
    _require_keeper(actor, "retention-setting", record_class.value)
    if record_class not in rules.CLASSES_FOR_KIND.get(actor.organisation.kind, ()):
        raise Invalid({"record_class": "Your organisation keeps no records of this class"})
    basis = rules.DEFAULTS[record_class].basis
    if period is None or not 1 <= period <= rules.MAX_PERIOD[basis]:
        raise Invalid({"period": f"Enter a whole number from 1 to {rules.MAX_PERIOD[basis]}"})
    reason = _reason(reason, "reason", "Say why your organisation keeps these records for this period")
    with unit_of_work() as s:
        setting = s.scalar(select(RetentionSetting).where(RetentionSetting.organisation_id == actor.organisation_id,
                                                          RetentionSetting.record_class == record_class))
        before = setting.period if setting else rules.DEFAULTS[record_class].period
        if setting is None:
            setting = RetentionSetting(organisation_id=actor.organisation_id, record_class=record_class)
            s.add(setting)
        setting.period, setting.reason = period, reason
        setting.changed_by_user_id, setting.changed_at = actor.id, utcnow()
        s.flush()
        audit.record("update", actor=actor, object_type="retention-setting", object_id=record_class.value,
                     detail={"record_class": record_class.value, "period": period, "before": before,
                             "default": rules.DEFAULTS[record_class].period, "basis": basis.value})
    return setting


# --- the review queue ---------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueRow:
    record: RetentionRecord
    held: bool


def due(actor: User, today: date, limit: int = 200) -> tuple[list[QueueRow], int]:
    """The records of the actor's organisation due for review (or approved and waiting for the
    worker), oldest review date first, and how many there are in all."""
    _require_keeper(actor, "retention-queue")
    where = (visible_clause(actor, RetentionRecord), RetentionRecord.status.in_(UNDECIDED),
             RetentionRecord.review_on <= today)
    session = db.session()
    total = session.scalar(select(func.count()).select_from(RetentionRecord).where(*where))
    rows = session.execute(select(RetentionRecord, held()).where(*where)
                           .order_by(RetentionRecord.review_on, RetentionRecord.id).limit(limit)).all()
    return [QueueRow(record, bool(is_held)) for record, is_held in rows], total


def keep(actor: User, retention_id: int, until: date | None, reason: str | None, today: date) -> RetentionRecord:
    """Keep a record until a new review date, with a reason (this also withdraws an approval)."""
    record = load_or_refuse(actor, RetentionRecord, retention_id, action=CHANGE)
    if record.status not in UNDECIDED:
        raise Invalid({"until": "This record has already been destroyed"})
    if until is None or until <= today:
        raise Invalid({"until": "Enter a review date in the future"})
    reason = _reason(reason, "reason", "Say why the record is kept")
    with unit_of_work():
        record.status, record.review_on, record.keep_reason = RetentionStatus.kept, until, reason
        record.decided_by_user_id, record.decided_at = actor.id, utcnow()
        audit.record("update", actor=actor, object_type="retention-record", object_id=record.id,
                     child_id=record.child_id, detail={"decision": "keep", "record_class": record.record_class.value,
                                                      "review_on": until.isoformat()})
    return record


def approve_destruction(actor: User, retention_ids: Sequence[int], today: date) -> int:
    """Approve the destruction of records due; the worker destroys them. Refused whole if any is
    not the actor's organisation's, not due, or under a legal hold. Returns how many."""
    _require_keeper(actor, "retention-record")
    if not retention_ids:
        raise Invalid({"record": "Choose the records to destroy"})
    records = [load_or_refuse(actor, RetentionRecord, i, action=CHANGE) for i in dict.fromkeys(retention_ids)]
    if any(r.status not in UNDECIDED or r.review_on > today for r in records):
        raise Invalid({"record": "Only records due for review can be approved for destruction"})
    held_ids = set(db.session().scalars(select(RetentionRecord.id).where(
        RetentionRecord.id.in_([r.id for r in records]), held())))
    if held_ids:
        verb = "is" if len(held_ids) == 1 else "are"
        raise Invalid({"record": f"{len(held_ids)} of these records {verb} under a legal hold: they cannot be "
                                 "destroyed until it is lifted"})
    with unit_of_work():
        now = utcnow()
        for record in records:
            record.status, record.decided_by_user_id, record.decided_at = RetentionStatus.approved, actor.id, now
        # One act, one event: the records approved, by class, and the children they are about.
        audit.record("update", actor=actor, object_type="retention-record", detail={
            "decision": "destroy", "records": sorted(r.id for r in records),
            "record_classes": sorted({r.record_class.value for r in records})},
            children=[r.child_id for r in records if r.child_id is not None])
    return len(records)


# --- legal holds ---------------------------------------------------------------------------------

@dataclass
class HoldDetails:
    kind: HoldKind
    reason: str
    child_id: int | None = None
    record_class: RecordClass | None = None


def holds_for(actor: User, include_lifted: bool = False) -> list[LegalHold]:
    """The organisation's legal holds, standing first (the page that lists them audits the read)."""
    _require_keeper(actor, "legal-hold")
    query = select(LegalHold).where(visible_clause(actor, LegalHold))
    if not include_lifted:
        query = query.where(LegalHold.lifted_at.is_(None))
    return list(db.session().scalars(query.order_by(LegalHold.lifted_at.is_not(None), LegalHold.id.desc())))


def record_holds_read(actor: User, holds: Sequence[LegalHold]) -> None:
    """The holds page names children: one event for the listing."""
    with unit_of_work():
        audit.record("read", actor=actor, object_type="legal-hold", detail={"count": len(holds)},
                     children=[h.child_id for h in holds if h.child_id is not None])


def set_hold(actor: User, details: HoldDetails) -> LegalHold:
    """A DPO holds their organisation's records (of a child, a class, or all) from destruction."""
    _require_keeper(actor, "legal-hold")
    if details.child_id is not None and not may_hold_child(actor, details.child_id):
        refuse(actor, "child", details.child_id, details.child_id, action=CHANGE)
    if details.record_class is not None and details.record_class not in rules.holdable(actor.organisation.kind):
        raise Invalid({"record_class": "Your organisation keeps no records of this class"})
    reason = _reason(details.reason, "reason", "Say what the hold is for (the inquiry, claim or request)")
    with unit_of_work() as s:
        hold = LegalHold(organisation_id=actor.organisation_id, kind=details.kind, child_id=details.child_id,
                         record_class=details.record_class, reason=reason, set_by_user_id=actor.id)
        s.add(hold)
        s.flush()
        audit.record("create", actor=actor, object_type="legal-hold", object_id=hold.id, child_id=details.child_id,
                     detail={"kind": details.kind.value,
                             "record_class": details.record_class.value if details.record_class else None})
    return hold


def lift_hold(actor: User, hold_id: int, reason: str | None) -> LegalHold:
    """Lift a standing hold, with a reason: what it covered can be destroyed again."""
    hold = load_or_refuse(actor, LegalHold, hold_id, action=CHANGE)
    if hold.lifted_at is not None:
        raise Invalid({"reason": "This hold has already been lifted"})
    reason = _reason(reason, "reason", "Say why the hold is lifted")
    with unit_of_work():
        hold.lifted_at, hold.lifted_by_user_id, hold.lift_reason = utcnow(), actor.id, reason
        audit.record("update", actor=actor, object_type="legal-hold", object_id=hold.id, child_id=hold.child_id,
                     detail={"change": "lifted", "kind": hold.kind.value})
    return hold


def record_for(actor: User, retention_id: int) -> RetentionRecord:
    """One record under retention, for the owning agency's DPO (the keep page: no content)."""
    return load_or_refuse(actor, RetentionRecord, retention_id)


def hold_for(actor: User, hold_id: int) -> LegalHold:
    """One of the organisation's legal holds (the lift page shows its kind and scope, not its reason)."""
    return load_or_refuse(actor, LegalHold, hold_id)
