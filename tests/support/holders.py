"""The oracle of `child_holder`: every child an organisation reaches through a relationship of
which it may hold many (hub.permissions.children.PER_RECORD), read from the records themselves,
must be noted as held by it; otherwise the bounded reach would silently lose the child."""

from __future__ import annotations

from sqlalchemy import select, union_all

from hub import db
from hub.models.auth import Organisation
from hub.models.people import ChildHolder
from hub.people.holders import record_holders
from hub.permissions.children import PER_RECORD, _organisation_relationships


def per_record_children(org: int) -> set[int]:
    """The children the organisation reaches through its shares and episodes, unbounded: the
    union the reach ran before `child_holder`."""
    queries = [q for name, q in _organisation_relationships(org) if name in PER_RECORD]
    return set(db.session().scalars(select(union_all(*queries).subquery().c[0])))


def assert_every_held_child_is_noted() -> None:
    session = db.session()
    noted: dict[int, set[int]] = {}
    for org, child in session.execute(select(ChildHolder.organisation_id, ChildHolder.child_id)):
        noted.setdefault(org, set()).add(child)
    for org in session.scalars(select(Organisation.id)):
        missing = per_record_children(org) - noted.get(org, set())
        assert not missing, f"organisation {org} holds children {sorted(missing)} not in child_holder"


def note_episode_holders(session, episodes) -> None:
    """For a test that inserts raw episode rows (to hand-time what the service would stamp): note
    their organisations as `refresh_children` would have, so that the reach finds them."""
    session.flush()
    record_holders(session, [(e.child_id, org) for e in episodes
                             for org in (e.police_org_id, e.home_authority_id, e.receiving_authority_id)])
