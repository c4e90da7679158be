"""Counts of the missing package's work, for the home page and the menu: the package answers for
its tables. Counts only (no name, no child), so reading them is not audited; each is scoped by the
same rules as the page it links to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from hub import db
from hub.missing import deadlines
from hub.missing.dashboard import RECENTLY_FOUND
from hub.models.auth import User
from hub.models.missing import ImportReviewItem, ReviewStatus
from hub.permissions import episode_visible, visible_clause


def overdue_and_waiting(user: User, now: datetime, overdue: bool, waiting: bool) -> tuple[int | None, int | None]:
    """`overdue_duties` and `review_queue`, each only when asked (None otherwise), in one
    statement: the menu asks both for a force's staff on every page."""
    asked = [query.scalar_subquery() for wanted, query in ((overdue, _overdue_query(user, now)),
                                                             (waiting, _waiting_query(user))) if wanted]
    if not asked:
        return None, None
    values = iter(db.session().execute(select(*asked)).one())
    return (next(values) if overdue else None), (next(values) if waiting else None)


def overdue_duties(user: User, now: datetime) -> int:
    """Overdue duties of the episodes on the missing team's list (open, or found in the last two
    weeks, of children the user may see). The due times are those hub.missing.rules computed when
    each episode was last written, stored beside it (hub.missing.deadlines): one indexed query
    that reads only the episodes with a duty past due, so the menu on every page costs the same
    with 10,000 open episodes as with one (running the rules here cost seconds a page)."""
    return db.session().scalar(_overdue_query(user, now))


def _overdue_query(user: User, now: datetime):
    return deadlines.overdue_count(now, now - RECENTLY_FOUND, episode_visible(user))


def review_queue(user: User) -> int:
    """Rows of the user's force's download waiting for a person to match them to a child."""
    return db.session().scalar(_waiting_query(user))


def _waiting_query(user: User):
    return select(func.count()).select_from(ImportReviewItem).where(
        ImportReviewItem.status == ReviewStatus.waiting, visible_clause(user, ImportReviewItem))
