"""The data protection officer's view of the audit log: search, integrity, exports, flags.

Only DPOs search the log. A DPO of the hub's host organisation sees every event; an
organisation's own DPO sees the events of their organisation's users and the events about the
children their organisation held when they happened (hub.permissions.dpo). Administrators see the
integrity panel only. Every search, export and flag review is itself audited.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, insert, or_, select, update

from hub import db
from hub.audit import alarms, signing, witnessing
from hub.audit import flag_rules as rules
from hub.audit import service as audit
from hub.audit.export import build_export
from hub.audit.verification import SavedHead, Verification, verify_log, verify_since
from hub.crypto import blind_index, name_tokens
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.exports import write_xlsx
from hub.models.audit import (
    AuditAlarm,
    AuditEvent,
    AuditEventOrganisation,
    AuditFlag,
    AuditFlagEvent,
    AuditFlagScan,
    AuditVerification,
    Cosignature,
    WitnessState,
)
from hub.models.auth import Organisation, User
from hub.models.people import Child, ChildNameToken
from hub.people.service import ChildSearch, search_clauses
from hub.permissions import (
    audit_event_scope,
    audit_flag_scope,
    audit_person_scope,
    is_hub_dpo,
    may_check_audit_integrity,
    may_review_audit_log,
    visible_child_ids,
)

PAGE_SIZE = 50
FLAG_SCAN_WINDOW = timedelta(days=7)


# --- who may see what ---------------------------------------------------------------------------

def _require(actor: User, may=may_review_audit_log, what: str = "audit-log") -> None:
    """Only DPOs search the log (`may`: hub.permissions' answer for this page)."""
    if not may(actor):
        with unit_of_work():
            audit.record("read", actor=actor, outcome=audit.REFUSED, object_type=what)
        raise Forbidden("Only a data protection officer can see the audit log")


def _scoped(actor: User, query: Select) -> Select:
    """The DPO's tenant scope, part of every query they run: the hub's DPO sees everything; an
    organisation's DPO sees what their organisation's users did, and what was done about the
    children their organisation held at the time (listings that showed them included)."""
    scope = audit_event_scope(actor)
    return query if scope is None else query.where(scope.clause())


#: The order of the DPO's pages (newest first): insertion order, so entries still waiting to be
#: sequenced show too.
NEWEST = AuditEvent.id


#: Entries waiting to be sequenced read at a time by an organisation DPO's page (usually there
#: are none or a handful; an import's backlog is read only as far as the page needs).
WAITING_CHUNK = 500


def _newest_queries(actor: User, query: Select, before: int | None, limit: int) -> list[Select]:
    """The statements of a page of the newest events of `query` within the DPO's scope, older than
    `before` (keyset paging: fast at millions of events, where OFFSET would read every earlier row).

    For an organisation's DPO two short walks, newest first, each stopping at the page however
    large the log or thin the scope: the entries still waiting to be sequenced (whose scope
    `_waiting_in_scope` decides by the integrator's own rule), then their organisation's rows of
    `audit_event_organisation` joined to the log (sequenced entries). In that order an entry
    sequenced between the two reads is seen by both (and shown once), never by neither."""
    scope = audit_event_scope(actor)
    logged = query if before is None else query.where(before > NEWEST)
    if scope is None:
        return [logged.order_by(NEWEST.desc()).limit(limit)]
    # The order and the keyset on both sides of the join: PostgreSQL merges the two primary keys,
    # and with the keyset on the index alone it walked the log from its newest entry down to
    # `before` (554 ms half way down a 1M log).
    indexed = logged.join(AuditEventOrganisation, and_(AuditEventOrganisation.event_id == AuditEvent.id,
                                                       scope.indexed()))
    if before is not None:
        indexed = indexed.where(AuditEventOrganisation.event_id < before)
    return [logged.where(AuditEvent.seq.is_(None)).order_by(NEWEST.desc()).limit(WAITING_CHUNK),
            indexed.order_by(AuditEventOrganisation.event_id.desc()).limit(limit)]


def _newest_events(actor: User, query: Select, before: int | None, limit: int) -> list[AuditEvent]:
    """The events of `_newest_queries`, newest first."""
    statements = _newest_queries(actor, query, before, limit)
    if len(statements) == 1:
        return list(db.session().scalars(statements[0]))
    waiting, indexed = statements
    found = {event.id: event for event in _waiting_in_scope(actor, waiting, limit)}
    found.update((event.id, event) for event in db.session().scalars(indexed))
    return [found[key] for key in sorted(found, reverse=True)[:limit]]


def _waiting_in_scope(actor: User, waiting: Select, limit: int) -> list[AuditEvent]:
    """The newest `limit` entries still waiting to be sequenced that the organisation's DPO sees:
    `event_organisations`, the rule the integrator will apply in a second or so, applied now, to
    chunks read newest first."""
    scope = audit_event_scope(actor)
    found: list[AuditEvent] = []
    statement = waiting
    while len(found) < limit:
        chunk = list(db.session().scalars(statement))
        if not chunk:
            break
        seen = scope.sees(db.session().connection(), chunk)
        found += [event for event in chunk if event.id in seen]
        if len(chunk) < WAITING_CHUNK:
            break
        statement = waiting.where(chunk[-1].id > NEWEST)
    return found[:limit]


# --- search -------------------------------------------------------------------------------------

@dataclass
class EventFilter:
    child_id: int | None = None
    user_id: int | None = None
    organisation_id: int | None = None
    action: str | None = None
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def validate(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise Invalid({"date_to": "The end date must be the same as or after the start date"})

    def as_detail(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if v is not None}

    def apply(self, query: Select) -> Select:
        if self.child_id is not None:
            query = query.where(audit.about_child(self.child_id))
        if self.user_id is not None:
            query = query.where(AuditEvent.actor_user_id == self.user_id)
        if self.organisation_id is not None:
            query = query.where(AuditEvent.actor_org_id == self.organisation_id)
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.date_from:
            query = query.where(AuditEvent.occurred_at >= datetime.combine(self.date_from, time.min, UTC))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, UTC)
            query = query.where(AuditEvent.occurred_at < end)
        return query


@dataclass
class EventPage:
    events: list[AuditEvent]
    #: Keyset paging: pass `before=next_before` for the next (older) page. Stays fast at millions
    #: of events, where OFFSET would read and discard every earlier row.
    next_before: int | None
    users: dict[int, User] = field(default_factory=dict)
    organisations: dict[int, Organisation] = field(default_factory=dict)
    #: Names of the children the page shows that the DPO may see (hub.permissions: the list rule
    #: of children); a child outside it is shown by number only.
    children: dict[int, str] = field(default_factory=dict)


#: Children shown by name in a listing event's row; the rest are counted.
LISTED_SHOWN = 5


def _children_shown(events: list[AuditEvent]) -> set[int]:
    """The children the page's rows name: each event's child and the first of each listing's."""
    shown = {e.child_id for e in events if e.child_id}
    for event in events:
        if not event.child_id and event.detail and '"children"' in event.detail:
            shown.update((detail(event).get("children") or [])[:LISTED_SHOWN])
    return shown


def search(actor: User, filters: EventFilter, before: int | None = None, purpose: str = "audit review") -> EventPage:
    _require(actor)
    filters.validate()
    rows = _newest_events(actor, filters.apply(select(AuditEvent)), before, PAGE_SIZE + 1)
    events, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    children = _child_names(actor, _children_shown(events) | ({filters.child_id} if filters.child_id else set()))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="audit-log", child_id=filters.child_id,
                     basis="role:dpo", purpose=purpose, detail={"filters": filters.as_detail(), "shown": len(events),
                                                                "children_named": sorted(children)})
    return EventPage(events, events[-1].id if more else None, *_names(events), children=children)


#: How many matches a DPO's search for a child or a person lists to choose from.
MATCHES_SHOWN = 20


def find_children(actor: User, text: str) -> list[Child]:
    """The children a DPO may review that match what they typed, found by the search everyone
    uses (part of a name, a sound-alike, a date of birth, an identifier: hub.people.service)."""
    _require(actor)
    clauses = search_clauses(ChildSearch(name=text))
    if not clauses:
        return []
    return list(db.session().scalars(select(Child).where(Child.id.in_(visible_child_ids(actor)), *clauses)
                                     .order_by(Child.id).limit(MATCHES_SHOWN + 1)))


def find_people(actor: User, text: str) -> list[User]:
    """The people a DPO may review (hub.permissions.audit_person_scope) whose name holds what they
    typed, or whose e-mail address it is."""
    _require(actor)
    text = (text or "").strip().lower()
    if len(text) < 2:
        return []
    query = select(User).where(or_(func.lower(User.name).contains(text, autoescape=True),
                                   func.lower(User.email) == text))
    scope = audit_person_scope(actor)
    if scope is not None:
        query = query.where(scope)
    return list(db.session().scalars(query.order_by(User.name, User.id).limit(MATCHES_SHOWN + 1)))


def child_name(actor: User, child_id: int) -> str | None:
    """The child's name for a DPO's page title, when the DPO may see the child (else None)."""
    _require(actor)
    return _child_names(actor, {child_id}).get(child_id)


def person(actor: User, user_id: int) -> User | None:
    """The person a "what has this user done" page is about, when the DPO may find them
    (hub.permissions.audit_person_scope; else None, and the page names nobody)."""
    _require(actor)
    query = select(User).where(User.id == user_id)
    scope = audit_person_scope(actor)
    return db.session().scalar(query if scope is None else query.where(scope))


def _names(events: list[AuditEvent]) -> tuple[dict[int, User], dict[int, Organisation]]:
    """Staff names and organisations for the page, in two queries (no N+1)."""
    user_ids = {e.actor_user_id for e in events if e.actor_user_id}
    org_ids = {e.actor_org_id for e in events if e.actor_org_id}
    s = db.session()
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    orgs = {o.id: o for o in s.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))} if org_ids else {}
    return users, orgs


def detail(event: AuditEvent) -> dict:
    return json.loads(event.detail) if event.detail else {}


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

    @property
    def last_verification(self) -> AuditVerification | None:
        """The latest finished check of either kind."""
        done = [v for v in (self.last_full, self.last_incremental) if v is not None]
        return max(done, key=lambda v: (v.finished_at or v.at, v.id), default=None)


def integrity(actor: User) -> Integrity:
    _require(actor, may_check_audit_integrity, what="audit-integrity")
    waiting = audit.pending()
    head = audit.latest_tree_head()
    config = witnessing.settings()
    cosigned = set(db.session().scalars(select(Cosignature.witness).where(Cosignature.tree_head_id == head.id))) \
        if head is not None else set()
    states = {w.name: w for w in db.session().scalars(select(WitnessState).execution_options(populate_existing=True))}
    rows = [WitnessRow(w.name, w.url, states.get(w.name), w.name in cosigned) for w in config.witnesses]
    return Integrity(audit.tree_size(), head, _last_finished("full"), _last_finished("incremental"), _unfinished(),
                     waiting, waiting.late(audit.PENDING_ALARM), alarms.open_alarms(), rows, config.quorum,
                     bool(config.witnesses) and len(cosigned) >= config.quorum)


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
    key = audit.trusted_keys()
    progress = _progress_writer(job_id) if job_id is not None else None
    # Entries that waited too long are reported (no integrator was running), then sequenced, so
    # the check covers everything committed before it started.
    waiting = audit.pending()
    integration_failed = _integrate_for_check()
    cosigned, unreachable = witnessing.latest_cosigned(signing.origin(), audit.log_verifier_keys(signing.origin()))
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
        except audit.SigningRefused as refused:  # alarmed by signing; the check's verdict stands
            result.alarms.append("the hub refused to sign a tree head: " + "; ".join(refused.problems))
    return result


def _integrate_for_check() -> str | None:
    """Sequence what is committed before checking; a damaged tail can make the integrator fail,
    which the check itself then explains (the failure is an alarm, not a traceback)."""
    try:
        audit.integrate_all()
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


# --- exports ------------------------------------------------------------------------------------

def export_json(actor: User | None, prove_from: int | None = None, **filters) -> dict:
    """Signed JSON export; from the command line (actor None) or by a DPO (scoped to what they see).
    Invalid, naming what is wrong, when the log does not verify well enough to be signed."""
    seqs = None
    if (failed := _integrate_for_check()) is not None:  # the export holds sequenced entries only
        raise Invalid({"": f"The audit log cannot be exported now: {failed}"})
    if actor is not None:
        _require(actor)
        if not is_hub_dpo(actor) or filters.get("user_id") or filters.get("organisation_id") or \
                filters.get("action") or filters.get("outcome"):
            query = _scoped(actor, EventFilter(**filters).apply(select(AuditEvent.seq)))
            seqs = list(db.session().scalars(query))
    try:
        data = build_export(child_id=filters.get("child_id"), date_from=filters.get("date_from"),
                            date_to=filters.get("date_to"), seqs=seqs, prove_from=prove_from)
    except audit.SigningRefused as refused:
        raise Invalid({"": "The audit log cannot be exported: the hub will not sign it, because "
                           + "; ".join(refused.problems)}) from refused
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.get("child_id"),
                     basis="role:dpo" if actor else "operator", detail={
                         "format": "json", "entries": len(data["entries"]),
                         "filters": EventFilter(**filters).as_detail()})
    return data


XLSX_HEADERS = ["Sequence", "Time (UTC)", "Outcome", "Action", "User id", "User", "Organisation", "Roles",
                "Signed in with", "Object type", "Object id", "Child id", "Child", "Basis of access", "Purpose",
                "Legal basis", "Request id", "Client address", "Detail"]


def export_xlsx(actor: User, filters: EventFilter) -> bytes:
    _require(actor)
    filters.validate()
    query = _scoped(actor, filters.apply(select(AuditEvent))).order_by(AuditEvent.id)
    events = list(db.session().scalars(query))
    users, orgs = _names(events)
    children = _child_names(actor, {e.child_id for e in events if e.child_id})  # named where the DPO may see
    rows = ([e.seq, e.occurred_at, e.outcome, e.action, e.actor_user_id,
             users[e.actor_user_id].name if e.actor_user_id in users else "",
             orgs[e.actor_org_id].name if e.actor_org_id in orgs else "", e.actor_roles, e.auth_method,
             e.object_type, e.object_id, e.child_id, children.get(e.child_id, ""), e.access_basis, e.purpose,
             e.legal_basis, e.request_id,
             e.client_address, e.detail] for e in events)
    content = write_xlsx("Audit log", XLSX_HEADERS, rows)
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.child_id, basis="role:dpo",
                     detail={"format": "xlsx", "rows": len(events), "filters": filters.as_detail()})
    return content


# --- flags --------------------------------------------------------------------------------------
#
# Flags are derived from the log (the log itself never changes): the rules in flag_rules look at
# each event once, after the scan mark, and an event that raises a flag joins the open group of
# its user, rule and London day, or opens one.

def raise_flags(now: datetime | None = None) -> int:
    """Look at the events since the last look (within the scan window) and add each one that a
    rule flags to its group. Returns how many events were added; re-running adds nothing twice."""
    now = now or utcnow()
    _integrate_for_check()  # the rules look at sequenced entries; a failing integrator is alarmed elsewhere
    with unit_of_work() as s:
        mark = s.execute(update(AuditFlagScan).where(AuditFlagScan.id == 1)  # taken first: one raiser at a time
                         .values(scanned_to_seq=AuditFlagScan.scanned_to_seq)
                         .returning(AuditFlagScan.scanned_to_seq)).scalar()
        if mark is None:
            s.add(AuditFlagScan(id=1, scanned_to_seq=0))
            mark = 0
        # populate_existing: an event this session loaded while it was pending has its number now.
        events = list(s.scalars(select(AuditEvent).where(
            AuditEvent.seq > mark, AuditEvent.occurred_at >= now - FLAG_SCAN_WINDOW).order_by(AuditEvent.seq)
            .execution_options(populate_existing=True)))
        if not events:
            return 0
        earlier = _counted_before(events, mark)
        detector = rules.Detector(_working_hours({e.actor_org_id for e in events}), _same_surname(events))
        for event in earlier:
            detector.feed(event, raising=False)
        found = [f for event in events for f in detector.feed(event)]
        s.execute(update(AuditFlagScan).where(AuditFlagScan.id == 1).values(scanned_to_seq=events[-1].seq))
        return _store_flags(found)


def _counted_before(events: list[AuditEvent], mark: int) -> list[AuditEvent]:
    """Events before the mark that the counting rules (views in a day, failed sign-ins in an
    hour) need, for the users the new events concern."""
    users = {e.actor_user_id for e in events if rules.is_child_read(e) or rules.is_failed_sign_in(e)}
    if not users or mark == 0:
        return []
    since = rules.context_start(events[0].occurred_at)
    return list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id.in_(users), AuditEvent.seq <= mark, AuditEvent.occurred_at >= since,
        AuditEvent.action.in_(["read", "sign-in"])).order_by(AuditEvent.seq)))


def _working_hours(org_ids: set[int | None]) -> dict[int, rules.WorkingHours]:
    rows = db.session().execute(select(
        Organisation.id, Organisation.working_hours_start, Organisation.working_hours_end).where(
        Organisation.id.in_(org_ids - {None})))
    return {org_id: rules.WorkingHours(start, end) for org_id, start, end in rows}


def _same_surname(events: list[AuditEvent]) -> set[tuple[int, int]]:
    """The (user, child) pairs among these reads where the child shares the user's surname, in
    two queries (keyed hashes of name tokens, as search stores them)."""
    pairs = {(e.actor_user_id, child) for e in events for child in rules.children_read(e)}
    if not pairs:
        return set()
    surnames = {}
    for user in db.session().scalars(select(User).where(User.id.in_({user for user, _ in pairs}))):
        tokens = sorted(name_tokens(user.name.split()[-1])) if user.name.split() else []
        if tokens:
            surnames[user.id] = blind_index("name", tokens[-1])
    if not surnames:
        return set()
    held = set(db.session().execute(select(ChildNameToken.child_id, ChildNameToken.token_hash).where(
        ChildNameToken.child_id.in_({child for _, child in pairs}),
        ChildNameToken.token_hash.in_(set(surnames.values())))).all())
    return {(user, child) for user, child in pairs if user in surnames and (child, surnames[user]) in held}


def _store_flags(found: list[rules.Found]) -> int:
    if not found:
        return 0
    s = db.session()
    already = set(s.execute(select(AuditFlagEvent.kind, AuditFlagEvent.event_seq).where(
        AuditFlagEvent.event_seq.in_({f.event.seq for f in found}))).all())
    groups = _open_groups(found)
    behind: list[tuple[AuditFlag, rules.Found]] = []
    for f in found:
        if (f.kind, f.event.seq) in already:
            continue
        already.add((f.kind, f.event.seq))
        key = (f.kind, f.event.actor_user_id, rules.london_day(f.event.occurred_at))
        group = groups.get(key)
        if group is None:
            group = groups[key] = AuditFlag(
                kind=f.kind, event_seq=f.event.seq, actor_user_id=f.event.actor_user_id,
                actor_org_id=f.event.actor_org_id, day=key[2], event_count=0, first_event_at=f.event.occurred_at,
                reason=f.reason)
            s.add(group)
        group.event_count += 1
        group.last_event_seq, group.last_event_at = f.event.seq, f.event.occurred_at
        behind.append((group, f))
    s.flush()
    if behind:
        s.execute(insert(AuditFlagEvent), [dict(kind=f.kind, event_seq=f.event.seq, flag_id=group.id,
                                                child_id=f.child_id) for group, f in behind])
    return len(behind)


def _open_groups(found: list[rules.Found]) -> dict[tuple, AuditFlag]:
    """The open groups these events would join, locked (a DPO closing one waits, and a closed
    one is not joined)."""
    days = {rules.london_day(f.event.occurred_at) for f in found}
    users = {f.event.actor_user_id for f in found}
    query = select(AuditFlag).where(
        AuditFlag.status == "open", AuditFlag.kind.in_({f.kind for f in found}), AuditFlag.day.in_(days),
        or_(AuditFlag.actor_user_id.in_(users - {None}), AuditFlag.actor_user_id.is_(None))).with_for_update()
    return {(g.kind, g.actor_user_id, g.day): g for g in db.session().scalars(query)}


# --- the DPO's queue ----------------------------------------------------------------------------

FLAG_PAGE_SIZE = 50
CHILDREN_SHOWN = 5  # per flag; the rest are counted


@dataclass
class FlagChild:
    id: int
    #: None when the DPO may not see the child's name (not a child their organisation holds).
    name: str | None


@dataclass
class FlagRow:
    flag: AuditFlag
    user: User | None
    organisation: Organisation | None
    children: list[FlagChild]
    #: How many children are behind the flag in all.
    child_count: int


@dataclass
class FlagPage:
    rows: list[FlagRow]
    #: Every flag of this status the DPO may see (not only this page).
    total: int
    next_before: int | None


def _flag_scope(actor: User, query: Select) -> Select:
    """An organisation's DPO reviews their own users' flags; the hub's DPO every flag."""
    scope = audit_flag_scope(actor)
    return query if scope is None else query.where(scope)


def open_flag_count(actor: User) -> int:
    """Open flags the DPO may see (for a count in the navigation or on the home page)."""
    return db.session().scalar(_flag_scope(actor, select(func.count()).select_from(AuditFlag).where(
        AuditFlag.status == "open")))


def flag_queue(actor: User, status: str = "open", before: int | None = None) -> FlagPage:
    """A page of flags, newest first, each with its user's and organisation's names and the
    children behind it, named where the DPO may see them. A fixed number of queries per page."""
    _require(actor)
    raise_flags()
    s = db.session()
    total = s.scalar(_flag_scope(actor, select(func.count()).select_from(AuditFlag).where(AuditFlag.status == status)))
    query = _flag_scope(actor, select(AuditFlag).where(AuditFlag.status == status))
    if before is not None:
        query = query.where(AuditFlag.id < before)
    found = list(s.scalars(query.order_by(AuditFlag.id.desc()).limit(FLAG_PAGE_SIZE + 1)))
    flags, more = found[:FLAG_PAGE_SIZE], len(found) > FLAG_PAGE_SIZE
    children, counts = _children_behind([f.id for f in flags])
    names = _child_names(actor, {c for ids in children.values() for c in ids})
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_({f.actor_user_id for f in flags} - {None})))}
    orgs = {o.id: o for o in s.scalars(select(Organisation).where(
        Organisation.id.in_({f.actor_org_id for f in flags} - {None})))}
    rows = [FlagRow(f, users.get(f.actor_user_id), orgs.get(f.actor_org_id),
                    [FlagChild(c, names.get(c)) for c in children.get(f.id, [])], counts.get(f.id, 0)) for f in flags]
    with unit_of_work():
        audit.record("read", actor=actor, object_type="audit-flags", basis="role:dpo", detail={
            "status": status, "shown": len(rows), "children_named": sorted(names)})
    return FlagPage(rows, total, flags[-1].id if more else None)


def _children_behind(flag_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, int]]:
    """The first CHILDREN_SHOWN children of each flag, and how many there are, in one query."""
    if not flag_ids:
        return {}, {}
    distinct = (select(AuditFlagEvent.flag_id, AuditFlagEvent.child_id)
                .where(AuditFlagEvent.flag_id.in_(flag_ids), AuditFlagEvent.child_id.is_not(None))
                .distinct().subquery())
    ranked = select(distinct.c.flag_id, distinct.c.child_id,
                    func.row_number().over(partition_by=distinct.c.flag_id, order_by=distinct.c.child_id).label("n"),
                    func.count().over(partition_by=distinct.c.flag_id).label("total")).subquery()
    children: dict[int, list[int]] = defaultdict(list)
    counts: dict[int, int] = {}
    for flag_id, child_id, _, total in db.session().execute(
            select(ranked).where(ranked.c.n <= CHILDREN_SHOWN).order_by(ranked.c.flag_id, ranked.c.n)):
        children[flag_id].append(child_id)
        counts[flag_id] = total
    return children, counts


def _child_names(actor: User, child_ids: set[int]) -> dict[int, str]:
    """Names of the children the DPO may see (every child for the hub's DPO, the children their
    organisation holds for an organisation's DPO): the list rule of children."""
    if not child_ids:
        return {}
    query = select(Child).where(Child.id.in_(child_ids), Child.id.in_(visible_child_ids(actor)))
    return {c.id: c.full_name for c in db.session().scalars(query)}


def close_flags(actor: User, flag_ids: list[int], note: str) -> list[AuditFlag]:
    """Close several flags with one note, as one audited change naming them."""
    _require(actor)
    ids = sorted(set(flag_ids or []))
    errors = {}
    if not ids:
        errors["flag_id"] = "Select the flags to close"
    if not (note or "").strip():
        errors["note"] = "Write what you found and why the flags can be closed"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        flags = list(s.scalars(_flag_scope(actor, select(AuditFlag).where(AuditFlag.id.in_(ids))).with_for_update()))
        if len(flags) != len(ids):
            raise NotFound("flag not found")
        if closed := [f.id for f in flags if f.status == "closed"]:
            raise Invalid({"flag_id": f"Already closed: flag {', '.join(map(str, closed))}"})
        now = utcnow()
        for flag in flags:
            flag.status, flag.closed_by_user_id, flag.closed_at, flag.note = "closed", actor.id, now, note.strip()
        audit.record("update", actor=actor, object_type="audit-flag", object_id=str(ids[0]) if len(ids) == 1 else None,
                     basis="role:dpo", detail={"change": "closed", "flag_ids": ids,
                                               "kinds": sorted({f.kind for f in flags})})
    return flags
