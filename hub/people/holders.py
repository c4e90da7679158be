"""Which organisations have held a child through a record of which they may have many
(`hub.models.people.ChildHolder`): written in the transaction of every share and every episode,
read by `hub.permissions.children` to bound an organisation's reach by its children."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.db import insert_ignoring_duplicates
from hub.models.people import ChildHolder

_CHUNK = 5000


def record_holders(connection: Session | Connection, pairs: Iterable[tuple[int | None, int | None]]) -> None:
    """Note each (child_id, organisation_id) pair, once; pairs without a child (intelligence about
    a place) or an organisation are skipped. One statement per `_CHUNK` pairs (a bound well under
    PostgreSQL's 65,535 parameters), in the caller's transaction."""
    # Sorted, so that two transactions noting the same pairs take their locks in the same order.
    held = sorted({(child, org) for child, org in pairs if child is not None and org is not None})
    for start in range(0, len(held), _CHUNK):
        rows = [{"child_id": child, "organisation_id": org} for child, org in held[start:start + _CHUNK]]
        insert_ignoring_duplicates(connection, ChildHolder, rows, ["organisation_id", "child_id"])
