"""Who may see what of the audit log, and the newest events of a DPO's scope.

Only DPOs search the log. A DPO of the hub's host organisation sees every event; an
organisation's own DPO sees the events of their organisation's users and the events about the
children their organisation held when they happened (hub.permissions.dpo). Administrators see the
integrity panel only. Every search, export and flag review is itself audited.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Forbidden
from hub.models.audit import AuditEvent, AuditEventOrganisation
from hub.models.auth import User
from hub.models.people import Child
from hub.permissions import audit_event_scope, may_review_audit_log, visible_child_ids
from hub.retention import shredding

PAGE_SIZE = 50


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


def _child_names(actor: User, child_ids: set[int]) -> dict[int, str]:
    """Names of the children the DPO may see (every child for the hub's DPO, the children their
    organisation holds for an organisation's DPO): the list rule of children."""
    if not child_ids:
        return {}
    query = select(Child).where(Child.id.in_(child_ids), Child.id.in_(visible_child_ids(actor)))
    names = {c.id: c.full_name for c in db.session().scalars(query)}
    # A child whose records were destroyed has no name left: the retention register says when and
    # under which rule, which names nobody (the log's events about the child stay, and verify).
    names.update(shredding.destroyed_labels(child_ids - names.keys()))
    return names
