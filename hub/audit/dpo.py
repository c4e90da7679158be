"""The data protection officer's view of the audit log: search, integrity, exports, flags.

Only DPOs search the log. A DPO of the hub's host organisation sees every event; an
organisation's own DPO sees the events of their organisation's users. Administrators see the
integrity panel only. Every search, export and flag review is itself audited.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select

from hub import db
from hub.audit import service as audit
from hub.audit.models import AuditEvent, AuditFlag, AuditVerification
from hub.auth.models import Organisation, User
from hub.auth.roles import Role
from hub.crypto import blind_index, name_tokens
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.permissions import is_hub_dpo, organisation_child_ids

PAGE_SIZE = 50
LONDON = ZoneInfo("Europe/London")
WORKING_HOURS = (time(7, 0), time(19, 0))
VOLUME_THRESHOLD = 50  # child record views by one user in one day
FAILED_SIGN_IN_THRESHOLD = 5  # refused sign-ins for one account in one hour
BULK_EXPORT_THRESHOLD = 100  # entries or rows in one export
FLAG_SCAN_WINDOW = timedelta(days=7)


# --- who may see what ---------------------------------------------------------------------------

def _require(actor: User, *roles: Role, what: str = "audit-log") -> None:
    if actor is None or not actor.is_active or not actor.roles & set(roles):
        with unit_of_work():
            audit.record("read", actor=actor, outcome=audit.REFUSED, object_type=what)
        raise Forbidden("Only a data protection officer can see the audit log")


def _scoped(actor: User, query: Select) -> Select:
    """The DPO's tenant scope, part of every query they run: the hub's DPO sees everything; an
    organisation's DPO sees what their organisation's users did, and what was done to the
    records of the children their organisation holds."""
    if is_hub_dpo(actor):
        return query
    return query.where(or_(AuditEvent.actor_org_id == actor.organisation_id,
                           AuditEvent.child_id.in_(organisation_child_ids(actor.organisation_id))))


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
            query = query.where(AuditEvent.child_id == self.child_id)
        if self.user_id is not None:
            query = query.where(AuditEvent.actor_user_id == self.user_id)
        if self.organisation_id is not None:
            query = query.where(AuditEvent.actor_org_id == self.organisation_id)
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.date_from:
            query = query.where(AuditEvent.occurred_at >= datetime.combine(self.date_from, time.min, timezone.utc))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, timezone.utc)
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


def search(actor: User, filters: EventFilter, before: int | None = None, purpose: str = "audit review") -> EventPage:
    _require(actor, Role.dpo)
    filters.validate()
    query = _scoped(actor, filters.apply(select(AuditEvent)))
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    rows = list(db.session().scalars(query.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)))
    events, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    with unit_of_work():
        audit.record("read", actor=actor, object_type="audit-log", child_id=filters.child_id,
                     basis="role:dpo", purpose=purpose, detail={"filters": filters.as_detail(), "shown": len(events)})
    return EventPage(events, events[-1].seq if more else None, *_names(events))


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


# --- integrity ----------------------------------------------------------------------------------

@dataclass
class Integrity:
    tree_size: int
    latest_head: object | None
    last_verification: AuditVerification | None


def integrity(actor: User) -> Integrity:
    _require(actor, Role.dpo, Role.hub_admin, what="audit-integrity")
    last = db.session().scalar(select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1))
    return Integrity(audit.tree_size(), audit.latest_tree_head(), last)


def verify_now(actor: User) -> AuditVerification:
    from hub.audit.verification import verify_log

    _require(actor, Role.dpo, Role.hub_admin, what="audit-integrity")
    # Verify first: a head signed before the check would put the key's signature on whatever the
    # log holds now, tampered or not.
    result = verify_log(audit.signing_key().public_key())
    row = record_verification(result, by=actor)
    if result.ok:
        audit.sign_tree_head()
    return row


def record_verification(result, by: User | None) -> AuditVerification:
    """Keep the outcome, and record the verification in the log itself when the log can take a
    new entry: a log that ends before its head (entries removed from the end) cannot be
    extended until it is restored, and the outcome row says so."""
    with unit_of_work() as s:
        row = AuditVerification(by_user_id=by.id if by else None, ok=result.ok, tree_size=result.tree_size,
                                heads_checked=result.heads_checked, first_bad_entry=result.first_bad_entry,
                                summary="\n".join(result.problems[:10]) or None)
        s.add(row)
        if result.appendable:
            audit.record("verify", actor=by, object_type="audit-log", detail={
                "ok": result.ok, "tree_size": result.tree_size, "first_bad_entry": result.first_bad_entry})
    return row


# --- exports ------------------------------------------------------------------------------------

def export_json(actor: User | None, **filters) -> dict:
    """Signed JSON export; from the command line (actor None) or by a DPO (scoped to what they see)."""
    from hub.audit.export import build_export

    seqs = None
    if actor is not None:
        _require(actor, Role.dpo)
        if not is_hub_dpo(actor) or filters.get("user_id") or filters.get("organisation_id") or \
                filters.get("action") or filters.get("outcome"):
            query = _scoped(actor, EventFilter(**filters).apply(select(AuditEvent.seq)))
            seqs = list(db.session().scalars(query))
    data = build_export(child_id=filters.get("child_id"), date_from=filters.get("date_from"),
                        date_to=filters.get("date_to"), seqs=seqs)
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.get("child_id"),
                     basis="role:dpo" if actor else "operator", detail={
                         "format": "json", "entries": len(data["entries"]),
                         "filters": EventFilter(**filters).as_detail()})
    return data


XLSX_HEADERS = ["Sequence", "Time (UTC)", "Outcome", "Action", "User id", "User", "Organisation", "Roles",
                "Signed in with", "Object type", "Object id", "Child id", "Basis of access", "Purpose",
                "Legal basis", "Request id", "Client address", "Detail"]


def export_xlsx(actor: User, filters: EventFilter) -> bytes:
    from hub.exports import write_xlsx

    _require(actor, Role.dpo)
    filters.validate()
    query = _scoped(actor, filters.apply(select(AuditEvent))).order_by(AuditEvent.seq)
    events = list(db.session().scalars(query))
    users, orgs = _names(events)
    rows = ([e.seq, e.occurred_at, e.outcome, e.action, e.actor_user_id,
             users[e.actor_user_id].name if e.actor_user_id in users else "",
             orgs[e.actor_org_id].name if e.actor_org_id in orgs else "", e.actor_roles, e.auth_method,
             e.object_type, e.object_id, e.child_id, e.access_basis, e.purpose, e.legal_basis, e.request_id,
             e.client_address, e.detail] for e in events)
    content = write_xlsx("Audit log", XLSX_HEADERS, rows)
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.child_id, basis="role:dpo",
                     detail={"format": "xlsx", "rows": len(events), "filters": filters.as_detail()})
    return content


# --- flags --------------------------------------------------------------------------------------

def raise_flags(now: datetime | None = None) -> int:
    """Look at recent events and raise a flag for each thing a DPO should review. Re-running
    adds nothing twice (one flag per kind and event)."""
    now = now or utcnow()
    events = list(db.session().scalars(
        select(AuditEvent).where(AuditEvent.occurred_at >= now - FLAG_SCAN_WINDOW).order_by(AuditEvent.seq)))
    found: list[tuple[str, AuditEvent, str]] = []
    daily_views: dict[tuple[int, date], int] = defaultdict(int)
    failures: dict[int, list[datetime]] = defaultdict(list)
    surnames = _surname_hashes({e.actor_user_id for e in events if e.actor_user_id})
    for event in events:
        when = _aware(event.occurred_at)
        if event.access_basis and event.access_basis.startswith("break-glass"):
            found.append(("break-glass", event, "Access with no legitimate relationship (break glass)"))
        if event.action == "read" and event.child_id and event.outcome == audit.DONE:
            local = when.astimezone(LONDON)
            if local.weekday() >= 5 or not WORKING_HOURS[0] <= local.time() < WORKING_HOURS[1]:
                found.append(("out-of-hours", event, f"Child record viewed at {local:%a %H:%M} (London time)"))
            key = (event.actor_user_id, local.date())
            daily_views[key] += 1
            if daily_views[key] == VOLUME_THRESHOLD + 1:
                found.append(("volume", event, f"More than {VOLUME_THRESHOLD} child records viewed in one day"))
            if _shares_surname(event, surnames):
                found.append(("same-surname", event, "Looked up a child who shares their surname"))
        if event.action == "sign-in" and event.outcome == audit.REFUSED and event.actor_user_id:
            recent = [t for t in failures[event.actor_user_id] if when - t < timedelta(hours=1)] + [when]
            failures[event.actor_user_id] = recent
            if len(recent) == FAILED_SIGN_IN_THRESHOLD:
                found.append(("failed-sign-ins", event, f"{FAILED_SIGN_IN_THRESHOLD} failed sign-ins within an hour"))
        if event.action == "export":
            size = max(detail(event).get("entries", 0), detail(event).get("rows", 0))
            if size > BULK_EXPORT_THRESHOLD:
                found.append(("bulk-export", event, f"Export of {size} records"))
    return _store_flags(found)


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


def _surname_hashes(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    users = db.session().scalars(select(User).where(User.id.in_(user_ids)))
    hashes = {}
    for user in users:
        tokens = sorted(name_tokens(user.name.split()[-1])) if user.name.split() else []
        if tokens:
            hashes[user.id] = blind_index("name", tokens[-1])
    return hashes


def _shares_surname(event: AuditEvent, surnames: dict[int, str]) -> bool:
    from hub.people.models import ChildNameToken

    wanted = surnames.get(event.actor_user_id)
    if not wanted:
        return False
    return db.session().scalar(select(func.count()).select_from(ChildNameToken).where(
        ChildNameToken.child_id == event.child_id, ChildNameToken.token_hash == wanted)) > 0


def _store_flags(found: list[tuple[str, AuditEvent, str]]) -> int:
    if not found:
        return 0
    s = db.session()
    existing = set(s.execute(select(AuditFlag.kind, AuditFlag.event_seq).where(
        AuditFlag.event_seq.in_({e.seq for _, e, _ in found}))).all())
    added = 0
    with unit_of_work():
        for kind, event, reason in found:
            if (kind, event.seq) in existing:
                continue
            s.add(AuditFlag(kind=kind, event_seq=event.seq, actor_user_id=event.actor_user_id,
                            actor_org_id=event.actor_org_id, child_id=event.child_id, reason=reason))
            existing.add((kind, event.seq))
            added += 1
    return added


def flags(actor: User, status: str = "open") -> list[AuditFlag]:
    _require(actor, Role.dpo)
    raise_flags()
    query = select(AuditFlag).where(AuditFlag.status == status).order_by(AuditFlag.id.desc()).limit(200)
    if not is_hub_dpo(actor):
        query = query.where(AuditFlag.actor_org_id == actor.organisation_id)
    result = list(db.session().scalars(query))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="audit-flags", basis="role:dpo", detail={"shown": len(result)})
    return result


def close_flag(actor: User, flag_id: int, note: str) -> AuditFlag:
    _require(actor, Role.dpo)
    if not (note or "").strip():
        raise Invalid({"note": "Write what you found and why the flag can be closed"})
    with unit_of_work() as s:
        flag = s.get(AuditFlag, flag_id)
        if flag is None or (not is_hub_dpo(actor) and flag.actor_org_id != actor.organisation_id):
            raise NotFound("flag not found")
        if flag.status == "closed":
            raise Invalid({"note": "This flag is already closed"})
        flag.status, flag.closed_by_user_id, flag.closed_at, flag.note = "closed", actor.id, utcnow(), note.strip()
        audit.record("update", actor=actor, object_type="audit-flag", object_id=flag.id, child_id=flag.child_id,
                     basis="role:dpo", detail={"change": "closed", "kind": flag.kind})
    return flag
