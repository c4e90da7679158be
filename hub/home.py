"""Each user's work, as counts for the home page and the menu: notifications waiting for a
school's DSL, overdue duties and the police download's review queue for the missing team and
the police, open audit flags for a DPO, open actions and outcomes for a MACE member.

Counts only: no name, no child, so reading them is not audited. Each count is scoped by the same
rules as the page it links to, and a role that has no such page gets None (nothing shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub import db
from hub.audit.models import AuditFlag
from hub.auth.models import User
from hub.db import utcnow
from hub.mace.operations.mine import home_counts as mace_home_counts
from hub.missing import deadlines
from hub.missing.models import ImportReviewItem, ReviewStatus
from hub.missing.service import RECENTLY_FOUND
from hub.notifications.models import Notification
from hub.permissions import (
    addressed_to, audit_flag_scope, episode_visible, is_key_adult, may_import, may_record_episodes,
    may_review_audit_log, sits_on_a_mace_group, visible_clause,
)


@dataclass(frozen=True)
class Work:
    notifications: int | None = None
    overdue_duties: int | None = None
    review_queue: int | None = None
    open_flags: int | None = None
    mace_waiting: int | None = None

    @property
    def missing(self) -> int | None:
        """The menu's "Missing (n)": overdue duties and download rows waiting, together."""
        counts = [c for c in (self.overdue_duties, self.review_queue) if c is not None]
        return sum(counts) if counts else None


def work_for(user: User, now: datetime | None = None) -> Work:
    now = now or utcnow()
    return Work(
        notifications=_notifications(user) if is_key_adult(user) else None,
        overdue_duties=_overdue_duties(user, now) if may_record_episodes(user) else None,
        review_queue=_review_queue(user) if may_import(user) else None,
        open_flags=_open_flags(user) if may_review_audit_log(user) else None,
        mace_waiting=_mace_waiting(user),
    )


def _notifications(user: User) -> int:
    """Addressed to the user and not yet acknowledged by their school (the inbox's new ones)."""
    return db.session().scalar(select(func.count()).select_from(Notification).where(
        addressed_to(user), Notification.acknowledged_at.is_(None)))


def _overdue_duties(user: User, now: datetime) -> int:
    """Overdue duties of the episodes on the missing team's list (open, or found in the last two
    weeks, of children the user may see). The due times are those hub.missing.rules computed when
    each episode was last written, stored beside it (hub.missing.deadlines): one indexed query
    that reads only the episodes with a duty past due, so the menu on every page costs the same
    with 10,000 open episodes as with one (running the rules here cost seconds a page)."""
    return db.session().scalar(deadlines.overdue_count(now, now - RECENTLY_FOUND, episode_visible(user)))


def _review_queue(user: User) -> int:
    """Rows of the user's force's download waiting for a person to match them to a child."""
    return db.session().scalar(select(func.count()).select_from(ImportReviewItem).where(
        ImportReviewItem.status == ReviewStatus.waiting, visible_clause(user, ImportReviewItem)))


def _open_flags(user: User) -> int:
    """Open flags in the DPO's scope: every flag for the hub's DPO, their organisation's otherwise."""
    query = select(func.count()).select_from(AuditFlag).where(AuditFlag.status == "open")
    scope = audit_flag_scope(user)
    return db.session().scalar(query if scope is None else query.where(scope))


def _mace_waiting(user: User) -> int | None:
    """Open actions and outcomes waiting, from the MACE home counts (None for a non-member)."""
    if not sits_on_a_mace_group(user):
        return None
    counts = mace_home_counts(user)
    return counts.open_actions + counts.outcomes_waiting
