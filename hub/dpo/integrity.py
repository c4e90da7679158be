"""The audit log's integrity: the panel (tree head, witnesses, alarms) and verification runs,
queued by a DPO or nightly and claimed by a worker, whose outcome is kept, alarmed and, when the
log verified, followed by a newly signed tree head."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, or_, select, update

from hub import db
from hub.audit import alarms, signing, witnessing
from hub.audit import flag_rules as rules
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.verification import SavedHead, Verification, verify_log, verify_since
from hub.db import unit_of_work, utcnow
from hub.dpo.scope import _require
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditAlarm, AuditVerification, Cosignature, WitnessState
from hub.models.auth import User
from hub.permissions import may_check_audit_integrity

# --- integrity ---------------------------------------------------------------------------------

@dataclass
class WitnessRow:
    name: str
    url: str
    state: WitnessState | None
    #: Whether it cosigned the latest signed tree head.
    cosigned_latest: bool


@dataclass
class Integrity:
    tree_size: int
    latest_head: object | None
    #: The latest finished full check and the latest finished incremental one, each on its own.
    last_full: AuditVerification | None
    last_incremental: AuditVerification | None
    running: AuditVerification | None
    #: Entries waiting to be sequenced; `late` when any has waited past the alarm limit.
    pending: audit.Pending
    late: bool
    alarms: list[AuditAlarm] = field(default_factory=list)
    witnesses: list[WitnessRow] = field(default_factory=list)
    quorum: int = 0
    #: The latest head is cosigned by the quorum.
    published: bool = False


def integrity(actor: User) -> Integrity:
    _require(actor, may_check_audit_integrity, what="audit-integrity")
    waiting = audit.pending()
    head = audit_tree_heads.latest_tree_head()
    config = witnessing.settings()
    cosigned = set(db.session().scalars(select(Cosignature.witness).where(Cosignature.tree_head_id == head.id))) \
        if head is not None else set()
    states = {w.name: w for w in db.session().scalars(select(WitnessState).execution_options(populate_existing=True))}
    rows = [WitnessRow(w.name, w.url, states.get(w.name), w.name in cosigned) for w in config.witnesses]
    return Integrity(audit_tree_heads.tree_size(), head, _last_finished("full"), _last_finished("incremental"),
                     _unfinished(), waiting, waiting.late(audit.PENDING_ALARM), alarms.open_alarms(), rows,
                     config.quorum, bool(config.witnesses) and len(cosigned) >= config.quorum)


def _last_finished(kind: str) -> AuditVerification | None:
    """The check of this kind that finished last (not the one with the highest id: a long full
    check queued first can finish after a quick incremental one)."""
    return db.session().scalar(
        select(AuditVerification).where(AuditVerification.status == DONE, AuditVerification.kind == kind)
        .order_by(AuditVerification.finished_at.desc().nulls_last(), AuditVerification.id.desc()).limit(1)
        .execution_options(populate_existing=True))


QUEUED, RUNNING, DONE = "queued", "running", "done"


def _unfinished() -> AuditVerification | None:
    return db.session().scalar(select(AuditVerification).where(AuditVerification.status.in_([QUEUED, RUNNING]))
                               .order_by(AuditVerification.id).limit(1).execution_options(populate_existing=True))


def progress_text(row: AuditVerification) -> str:
    """What the integrity page says of a check while it runs (numbers only)."""
    kind = "Full check" if row.kind == "full" else "Check of new entries"
    if row.status == QUEUED:
        return f"{kind}: waiting for the worker to start it."
    if row.status == RUNNING:
        return f"{kind}: {row.checked:,} of {row.total:,} entries checked." if row.total else f"{kind}: starting."
    return f"{kind}: finished, {'verified' if row.ok else 'did NOT verify'}."


def get_verification(actor: User, verification_id: int) -> AuditVerification:
    _require(actor, may_check_audit_integrity, what="audit-integrity")
    row = db.session().get(AuditVerification, verification_id)
    if row is None:
        raise NotFound("No such verification")
    return row


def verify_now(actor: User, kind: str = "full") -> AuditVerification:
    """Queue a check for the worker (never run inside the request: a full check of millions of
    entries takes longer than a request may). One at a time: while one is queued or running,
    pressing again returns it."""
    _require(actor, may_check_audit_integrity, what="audit-integrity")
    if kind not in ("incremental", "full"):
        raise Invalid({"kind": "Choose a full or an incremental check"})
    with unit_of_work() as s:
        row = _unfinished()
        if row is None:
            row = AuditVerification(by_user_id=actor.id, kind=kind, status=QUEUED)
            s.add(row)
            audit.record("verify-request", actor=actor, object_type="audit-log", detail={"kind": kind})
    return row


#: The nightly full check runs on the first worker cycle after this London time each day.
NIGHTLY_AT = time(2, 0)


def nightly_check_due(now: datetime | None = None) -> bool:
    """No full check has finished (or is waiting) since the latest 02:00 London time."""
    now = now or utcnow()
    local = now.astimezone(rules.LONDON)
    last_night = datetime.combine(local.date(), NIGHTLY_AT, rules.LONDON)
    if local < last_night:
        last_night -= timedelta(days=1)
    since = last_night.astimezone(UTC)
    recent = db.session().scalar(select(func.count()).select_from(AuditVerification).where(
        AuditVerification.kind == "full",
        or_(AuditVerification.status.in_([QUEUED, RUNNING]), AuditVerification.finished_at >= since)))
    return not recent


def queue_nightly_check(now: datetime | None = None) -> int:
    """The worker's "nightly check" duty: queue a full check once a night (the queued-checks duty
    runs it, with its progress on the panel). The number queued (0 or 1)."""
    if not nightly_check_due(now):
        return 0
    with unit_of_work() as s:
        if _unfinished() is not None:
            return 0
        s.add(AuditVerification(kind="full", status=QUEUED))
    return 1


def run_queued_verifications() -> int:
    """Run the checks the DPOs queued, each claimed by one worker; the number run."""
    ran = 0
    while (job := _claim_verification()) is not None:
        run_verification(job.kind, by_user_id=job.by_user_id, job_id=job.id)
        ran += 1
    return ran


def _claim_verification() -> AuditVerification | None:
    with unit_of_work() as s:
        first = s.scalar(select(AuditVerification.id).where(AuditVerification.status == QUEUED)
                         .order_by(AuditVerification.id).limit(1))
        if first is None:
            return None
        claimed = s.execute(update(AuditVerification).where(AuditVerification.id == first,
                                                            AuditVerification.status == QUEUED)
                            .values(status=RUNNING).returning(AuditVerification.id)).scalar()
        # Another worker may have claimed it between the two statements: then there is none to run.
        return s.get(AuditVerification, claimed) if claimed else None


def run_verification(kind: str, by_user_id: int | None = None, job_id: int | None = None,
                     against: SavedHead | None = None, fast: bool = False) -> Verification:
    """One check, full or incremental (from the last verified tree; full when there is none),
    against every signed head, every verified root and what each witness cosigned; keeping its
    outcome, raising or clearing its alarms and, when the log verified, signing a new tree head."""
    key = audit_keys.trusted_keys()
    progress = _progress_writer(job_id) if job_id is not None else None
    # Entries that waited too long are reported (no integrator was running), then sequenced, so
    # the check covers everything committed before it started.
    waiting = audit.pending()
    integration_failed = _integrate_for_check()
    cosigned, unreachable = witnessing.latest_cosigned(signing.origin(), audit_keys.log_verifier_keys(signing.origin()))
    anchors = witnessing.anchors(cosigned)
    start = _last_verified() if kind == "incremental" and against is None else None
    if start is not None and start.tree_size > 0:
        result = verify_since(key, start.tree_size, start.root_hash, fast=fast, progress=progress, waiting=waiting,
                              anchors=anchors)
    else:
        result = verify_log(key, against=against, fast=fast, progress=progress, waiting=waiting, anchors=anchors)
    if integration_failed:
        result.alarms.append(integration_failed)
    result.alarms += unreachable
    record_verification(result, by_user_id, job_id)
    _sound_alarms(result)
    if result.ok:
        try:
            signing.sign_and_publish()
        except audit_tree_heads.SigningRefused as refused:  # alarmed by signing; the check's verdict stands
            result.alarms.append("the hub refused to sign a tree head: " + "; ".join(refused.problems))
    return result


def _integrate_for_check() -> str | None:
    """Sequence what is committed before checking; a damaged tail can make the integrator fail,
    which the check itself then explains (the failure is an alarm, not a traceback)."""
    try:
        audit_integrator.integrate_all()
    except Exception as exc:  # noqa: BLE001 - the check below says what is wrong with the log
        db.session.remove()
        return f"the integrator cannot sequence new entries ({type(exc).__name__})"
    return None


def _sound_alarms(result: Verification) -> None:
    if not result.ok:
        alarms.raise_alarm("log-damaged", f"a {result.kind} check failed: {result.problems[0]}"
                           + (f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""))
    elif result.kind == "full":
        alarms.clear("log-damaged")  # only a full check re-reads everything an alarm may be about
    if result.late_pending:
        alarms.raise_alarm("integrator-late", result.alarms[0])
    else:
        alarms.clear("integrator-late")


def _last_verified() -> AuditVerification | None:
    return db.session().scalar(select(AuditVerification).where(
        AuditVerification.status == DONE, AuditVerification.ok.is_(True), AuditVerification.root_hash.is_not(None))
        .order_by(AuditVerification.tree_size.desc(), AuditVerification.id.desc()).limit(1))


def _progress_writer(job_id: int):
    """Progress goes through its own short transactions on another connection: the check's own
    connection is streaming the log and must not commit under its cursor."""
    engine = db.session().get_bind()
    table = AuditVerification.__table__

    def write(checked: int, total: int) -> None:
        with engine.begin() as connection:
            connection.execute(update(table).where(table.c.id == job_id).values(checked=checked, total=total))

    return write


def record_verification(result: Verification, by_user_id: int | None, job_id: int | None = None) -> AuditVerification:
    """Keep the outcome, and record the verification in the log itself when the log can take a
    new entry: a log that ends before its head (entries removed from the end) cannot be
    extended until it is restored, and the outcome row says so."""
    values = dict(kind=result.kind, status=DONE, ok=result.ok, tree_size=result.tree_size,
                  root_hash=result.root, heads_checked=result.heads_checked,
                  first_bad_entry=result.first_bad_entry, summary="\n".join(result.problems[:10]) or None,
                  checked=result.tree_size - result.start, total=result.tree_size - result.start,
                  finished_at=utcnow())
    with unit_of_work() as s:
        row = s.get(AuditVerification, job_id) if job_id is not None else None
        if row is None:
            row = AuditVerification(by_user_id=by_user_id)
            s.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        if result.appendable:
            audit.record("verify", actor=s.get(User, by_user_id) if by_user_id else None, object_type="audit-log",
                         detail={"ok": result.ok, "kind": result.kind, "tree_size": result.tree_size,
                                 "first_bad_entry": result.first_bad_entry})
    return row
