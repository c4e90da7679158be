"""The DPO's search of the audit log: events by filter, page by page, and the children and people
a search names. Every search is itself audited (who may see what: hub/dpo/scope.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, or_, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.dpo.scope import PAGE_SIZE, _child_names, _newest_events, _require
from hub.errors import Invalid
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.people import Child
from hub.people.service import ChildSearch, search_clauses
from hub.permissions import audit_person_scope, visible_child_ids

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
