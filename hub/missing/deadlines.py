"""Each episode's deadlines, stored: the due time of every duty not yet done, the earliest of them
and what it is, as `hub.missing.rules.deadlines` computes them. The menu counts what is overdue on
every page: reading the stored times is one indexed query whatever the number of open episodes,
where running the rules over every open episode in reach cost more as the hub's history grew.

The rules read more than the episode's own columns: whether the child is looked after, and how
many episodes the child has had (a second episode makes a return interview due for the first).
So the stored times are refreshed per child, for all the child's episodes, by `refresh_children`,
which every write path of hub.missing.service calls in the transaction of its change; the
migration that added the columns filled them the same way (`refresh_all`). Two things follow:
- code that changes what the rules read (a child's looked-after status has no such path today)
  calls `refresh_children` for the children it changes, in its own transaction;
- a change to the rules themselves leaves stored values of the old rules: ship it with a
  migration that calls `refresh_all` (or run `flask --app hub missing deadlines`).

Having read every episode of the children, `refresh_children` also notes the organisations that
hold them through those episodes (the force, the home and the receiving authority:
`hub.people.holders`), so that no episode write path can forget them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Select, bindparam, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from hub.missing import rules
from hub.models.missing import MissingEpisode
from hub.models.people import Child
from hub.people.holders import record_holders

#: The stored column of each duty (`rules.Due.what`).
DUE_COLUMNS: dict[str, str] = {
    rules.PREVENTION_CHECK: "prevention_check_due_at",
    rules.RETURN_INTERVIEW: "return_interview_due_at",
    rules.IRO_TOLD: "iro_told_due_at",
    rules.TRIGGER_PLAN: "trigger_plan_due_at",
}
STORED = (*DUE_COLUMNS.values(), "next_due_at", "next_due")

#: What the rules read of an episode (besides its child's status and number of episodes).
_RULE_COLUMNS = ("id", "child_id", "reported_start", "classification", "found_at", "prevention_check_at",
                 "return_interview_offered_at", "return_interview_at", "return_interview_declined",
                 "iro_informed_at", "strategy_discussion_at", "trigger_plan_at", "risk_factors")
#: The organisations an episode names that hold its child (`hub.permissions.children`).
_HOLDER_COLUMNS = ("police_org_id", "home_authority_id", "receiving_authority_id")
_CHUNK = 500  # children per read: an IN list well under every database's limit


def stored_values(episode: MissingEpisode, looked_after: bool, episodes_ever: int) -> dict[str, object]:
    """The stored columns for one episode: the one place they are computed, from the rules."""
    due = rules.deadlines(episode, looked_after, episodes_ever)
    values: dict[str, object] = {column: due.get(what) for what, column in DUE_COLUMNS.items()}
    first = min(due.items(), key=lambda item: (item[1], item[0]), default=None)
    values["next_due_at"], values["next_due"] = first[::-1] if first else (None, None)
    return values


def refresh_children(session: Session | Connection, child_ids: Iterable[int], *, note_holders: bool = True) -> int:
    """Recompute the stored deadlines of every episode of these children, inside the caller's
    transaction; write those that changed, and note the episodes' organisations as holding the
    children (`record_holders`). Returns how many episodes changed. On a Session it
    flushes first (the rules must read what the caller just changed) and expires the stored
    columns of the episodes it holds, so they read back what was written."""
    if isinstance(session, Session):
        session.flush()
    connection = session.connection() if isinstance(session, Session) else session
    table = MissingEpisode.__table__
    changed: list[dict[str, object]] = []
    wanted = sorted(set(child_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        rows = connection.execute(
            select(*(table.c[name] for name in (*_RULE_COLUMNS, *STORED, *_HOLDER_COLUMNS)), Child.looked_after)
            .join(Child, Child.id == table.c.child_id).where(table.c.child_id.in_(chunk))).all()
        if note_holders:
            record_holders(connection, [(row.child_id, getattr(row, c)) for row in rows for c in _HOLDER_COLUMNS])
        ever: dict[int, int] = {}
        for row in rows:
            ever[row.child_id] = ever.get(row.child_id, 0) + 1
        for row in rows:
            # A transient episode (never added to a session) carries what the rules read.
            episode = MissingEpisode(**{name: getattr(row, name) for name in _RULE_COLUMNS})
            values = stored_values(episode, bool(row.looked_after), ever[row.child_id])
            if any(getattr(row, name) != value for name, value in values.items()):
                changed.append({"episode": row.id, **{f"new_{k}": v for k, v in values.items()}})
    if changed:
        # updated_at is kept: recomputing what follows from the record is not a change to it.
        connection.execute(
            update(table).where(table.c.id == bindparam("episode"))
            .values(updated_at=table.c.updated_at, **{name: bindparam(f"new_{name}") for name in STORED}),
            changed)
        if isinstance(session, Session):
            for values in changed:
                held = session.identity_map.get(session.identity_key(MissingEpisode, values["episode"]))
                if held is not None:
                    session.expire(held, list(STORED))
    return len(changed)


def refresh_all(connection: Connection, *, note_holders: bool = True) -> int:
    """Every episode's stored deadlines (the migration that added them; `flask --app hub missing
    deadlines`), inside the caller's transaction. `note_holders=False` for that migration, which
    ran before `child_holder` existed (the migration that added it filled it)."""
    child_ids = connection.execute(select(MissingEpisode.__table__.c.child_id).distinct()).scalars().all()
    return refresh_children(connection, child_ids, note_holders=note_holders)


# --- reading ----------------------------------------------------------------------------------------
# Overdue as the rules say it (`rules.duties`): not done and `now` strictly after the due time.

def overdue(episode: MissingEpisode, now: datetime) -> list[str]:
    """What is overdue on one episode at `now`, earliest first, from its stored due times."""
    due = ((getattr(episode, column), what) for what, column in DUE_COLUMNS.items())
    return [what for at, what in sorted((at, what) for at, what in due if at is not None and at < now)]


def overdue_count(now: datetime, since: datetime, *where) -> Select:
    """The number of overdue duties of the episodes open, or found since `since`, that `where`
    keeps (the reader's permission clause): one query, driven by the index on (found_at,
    next_due_at), reading only episodes with a duty past due."""
    table = MissingEpisode.__table__
    late = sum((case((table.c[column] < now, 1), else_=0) for column in DUE_COLUMNS.values()), literal(0))
    return (select(func.coalesce(func.sum(late), 0)).select_from(table)
            .where(table.c.next_due_at < now,
                   or_(table.c.found_at.is_(None), table.c.found_at >= since), *where))
