"""Each user's work, as counts for the home page and the menu: notifications waiting for a
school's DSL, overdue duties and the police download's review queue for the missing team and
the police, open audit flags for a DPO, open actions and outcomes for a MACE member.

Counts only: no name, no child, so reading them is not audited. Each package answers for its own
tables (hub.notifications.counts, hub.missing.counts, hub.dpo.counts, hub.mace.operations.mine):
this module only asks, for the roles that have the page a count links to; any other role gets
None (nothing shown).

The home page and the menu's counts live here, above the features, not in hub.web: every view
imports hub.web, so hub.web may import no feature. create_app() calls init_app().
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, g, render_template
from flask_login import current_user

from hub.db import utcnow
from hub.dpo import counts as audit_counts
from hub.mace.operations.mine import menu_waiting as mace_menu_waiting
from hub.missing import counts as missing_counts
from hub.models.auth import User
from hub.notifications import counts as notification_counts
from hub.permissions import is_key_adult, may_import, may_record_episodes, may_review_audit_log, sits_on_a_mace_group
from hub.web import actor, bp


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
    overdue, waiting = missing_counts.overdue_and_waiting(user, now, may_record_episodes(user), may_import(user))
    return Work(
        notifications=notification_counts.waiting_for(user) if is_key_adult(user) else None,
        overdue_duties=overdue,
        review_queue=waiting,
        open_flags=audit_counts.open_flags(user) if may_review_audit_log(user) else None,
        mace_waiting=_mace_waiting(user),
    )


def _mace_waiting(user: User) -> int | None:
    """Open actions and outcomes waiting, from the MACE home counts (None for a non-member)."""
    if not sits_on_a_mace_group(user):
        return None
    return mace_menu_waiting(user)


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"my_work": my_work})


def my_work() -> Work | None:
    """The signed-in user's counts for the menu and the home page, worked out once a request."""
    if "my_work" not in g:
        g.my_work = work_for(actor()) if current_user.is_authenticated else None
    return g.my_work


@bp.route("/")
def home():
    return render_template("home.html", work=my_work())
