"""The missing team's list: the children missing now and those found recently, with what the rules
say of each and who was told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.missing import deadlines
from hub.models.auth import User
from hub.models.missing import MissingEpisode
from hub.models.people import Child
from hub.notifications import counts as notification_counts
from hub.notifications.counts import EpisodeTold, Told
from hub.permissions import episode_visible, may_read_episodes

# --- the missing team's list -----------------------------------------------------------------------

RECENTLY_FOUND = timedelta(days=14)


@dataclass
class DashboardRow:
    episode: MissingEpisode
    child: Child
    #: What is overdue (`rules.Due.what`), earliest first, from the due times stored by the rules.
    overdue: list[str]
    schools_told: int            # notification groups sent
    schools_acknowledged: int    # of which acknowledged
    schools_overdue: int         # not acknowledged by the deadline
    #: The latest time a school told the force the child is at school, while still missing.
    seen_at_school: datetime | None = None
    #: Each kind of notification sent, in the order first sent.
    told: list[Told] = field(default_factory=list)


def dashboard(actor: User, now: datetime | None = None, limit: int = 200) -> list[DashboardRow]:
    """Open episodes, and those found in the last two weeks, of children the actor may see: with
    what is overdue and whether the schools acknowledged. Audited as one read per child shown.

    Open ones first, then the found, each newest first: two queries that each walk the index on
    (found_at, reported_start) and stop at the page's length, so the page reads what it shows
    whatever the number of open episodes; what is overdue is read from the stored due times."""
    if not may_read_episodes(actor):
        return []
    now = now or utcnow()
    session = db.session()
    shown = (select(MissingEpisode, Child).join(Child, Child.id == MissingEpisode.child_id)
             .where(episode_visible(actor)).order_by(MissingEpisode.reported_start.desc()))
    rows = session.execute(shown.where(MissingEpisode.found_at.is_(None)).limit(limit)).all()
    rows += session.execute(shown.where(MissingEpisode.found_at >= now - RECENTLY_FOUND)
                            .limit(limit - len(rows))).all()
    if not rows:
        return []
    child_ids = {c.id for _, c in rows}
    told = notification_counts.told_of_episodes([e.id for e, _ in rows], now)
    seen = notification_counts.seen_at_school([e.id for e, _ in rows if e.found_at is None])
    result = []
    for episode, child in rows:
        schools = told.get(episode.id, EpisodeTold())
        result.append(DashboardRow(
            episode, child, deadlines.overdue(episode, now), schools.sent, schools.acknowledged, schools.overdue,
            seen.get(episode.id), schools.kinds))
    with unit_of_work():
        # One event for the page, naming every child it shows (who-has-seen finds each).
        audit.record("read", actor=actor, object_type="missing-dashboard", purpose="missing dashboard",
                     children=sorted(child_ids), detail={"shown": len(child_ids)})
    return result
