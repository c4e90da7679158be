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


def overdue_duties(user: User, now: datetime) -> int:
    """Overdue duties of the episodes on the missing team's list (open, or found in the last two
    weeks, of children the user may see). The due times are those hub.missing.rules computed when
    each episode was last written, stored beside it (hub.missing.deadlines): one indexed query
    that reads only the episodes with a duty past due, so the menu on every page costs the same
    with 10,000 open episodes as with one (running the rules here cost seconds a page)."""
    return db.session().scalar(deadlines.overdue_count(now, now - RECENTLY_FOUND, episode_visible(user)))


def review_queue(user: User) -> int:
    """Rows of the user's force's download waiting for a person to match them to a child."""
    return db.session().scalar(select(func.count()).select_from(ImportReviewItem).where(
        ImportReviewItem.status == ReviewStatus.waiting, visible_clause(user, ImportReviewItem)))
