"""Helpers shared by the returns and data-quality tests.

NOTE: recreated by the dashboard helper, whose own fixture file briefly overwrote this one (it now
lives in tests/reports/picture.py): `add_episode` is rebuilt from how the tests call it.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from hub import db
from hub.models.auth import Organisation
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import Child
from tests.support.holders import note_episode_holders

_reference = itertools.count(1)


def add_episode(child: Child, police: Organisation, start: datetime, found: datetime | None = None,
                **extra) -> MissingEpisode:
    """An episode of the child held by the force, written directly (no notifications): missing,
    medium risk, from home, recorded by hand unless `extra` says otherwise.

    A raw row on purpose, not tests/factories.py's report_episode: the returns and quality
    figures are hand-counted over exactly these rows, with duties (return interviews, prevention
    checks) stamped at times the service would stamp with the present, and no notification or
    audit event that the service would add beside them."""
    values = dict(classification=Classification.missing, risk_grade=RiskGrade.medium, missing_from=MissingFrom.home,
                  source=EpisodeSource.manual, police_reference=f"TEST/{next(_reference):05d}")
    values.update(extra)
    episode = MissingEpisode(child_id=child.id, police_org_id=police.id, reported_start=start, found_at=found,
                             **values)
    with db.unit_of_work() as s:
        s.add(episode)
        note_episode_holders(s, [episode])
    return episode
