"""Flags on the audit log: raised by the worker from the events (hub.audit.flag_rules decides), and
the DPO's queue of them, where a DPO reviews and closes them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, insert, or_, select, update

from hub import db
from hub.audit import flag_rules as rules
from hub.audit import service as audit
from hub.crypto import blind_index, name_tokens
from hub.db import unit_of_work, utcnow
from hub.dpo.integrity import _integrate_for_check
from hub.dpo.scope import _child_names, _require
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditEvent, AuditFlag, AuditFlagEvent, AuditFlagScan
from hub.models.auth import Organisation, User
from hub.models.people import ChildNameToken
from hub.permissions import audit_flag_scope

FLAG_SCAN_WINDOW = timedelta(days=7)


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
