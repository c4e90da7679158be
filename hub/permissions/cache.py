"""The per-request access cache.

A page asks "may this user see this child" from several services (the record, its chronology,
consents, episodes, the menu's counts); each request answers it once per (user, child). Any write
to a table a relationship query reads (through a flush, an ORM bulk statement or Core), any such
change still pending in the session, and any rollback empty the cache, so no service has to
remember to. Outside a request (commands, the delivery worker, tests calling services) nothing is
cached: a long-running process must see what other processes change.
"""

from __future__ import annotations

from itertools import chain

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from hub import db
from hub.models.auth import Organisation, User, UserRole
from hub.models.mace import MaceAgendaChild, MaceGroup, MaceMember, MaceMembership
from hub.models.missing import MissingEpisode
from hub.models.people import AgencyInvolvement, BreakGlassGrant, Child, Enrolment
from hub.models.sharing import ShareAccess, ShareRecipient, ShareRecord

#: Every table a relationship query reads, and the user's own rows (organisation, roles, active)
#: that decide which of them apply.
_RELATIONSHIP_MODELS = (
    Enrolment, Organisation, Child, AgencyInvolvement, BreakGlassGrant, MaceMembership, MaceGroup, MaceAgendaChild,
    MaceMember, ShareRecord, ShareRecipient, ShareAccess, MissingEpisode, User, UserRole,
)
_RELATIONSHIP_TABLES = frozenset(model.__table__ for model in _RELATIONSHIP_MODELS)


def _request_cache() -> dict | None:
    """This request's answers, or None outside a request. Kept on `g` with the request it belongs
    to: an application context held across requests (a test's, a shell's) must not carry
    answers from one request into the next."""
    if not has_request_context():
        return None
    current = request._get_current_object()
    store = g.get("hub_access_cache")
    if store is None or store[0] is not current:
        store = g.hub_access_cache = (current, {})
    return store[1]


def forget_access() -> None:
    """Empty this request's cache: a relationship may have changed."""
    if has_request_context() and "hub_access_cache" in g:
        g.hub_access_cache[1].clear()


def cache_for_reading() -> dict | None:
    """The cache, emptied first when the session holds an unflushed change to a relationship:
    the next query would autoflush it, but a cached answer runs no query."""
    cache = _request_cache()
    if cache:
        session = db.session()
        if any(type(obj).__table__ in _RELATIONSHIP_TABLES
               for obj in chain(session.new, session.dirty, session.deleted)):
            cache.clear()
    return cache


@event.listens_for(Engine, "before_execute")
def _forget_on_relationship_write(_conn, clauseelement, *_args) -> None:
    # Flushes, ORM bulk statements and Core statements all pass through here.
    if isinstance(clauseelement, UpdateBase) and clauseelement.table in _RELATIONSHIP_TABLES:
        forget_access()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(_session, _previous_transaction) -> None:
    # An answer worked out inside a transaction that rolled back may rest on rows that are gone.
    forget_access()
