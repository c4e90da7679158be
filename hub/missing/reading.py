"""Reading missing episodes: one episode, a child's episodes, the computed criteria of one, and the
organisations the forms offer. Every read of an episode is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.missing import rules
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.permissions import child_access, load_or_refuse, may_read_episodes

# --- reading ------------------------------------------------------------------------------------

def _episode_for(actor: User, episode_id: int, action: str = "read"):
    """The episode and the actor's basis, or a 404 (audited) without saying whether it exists."""
    episode = load_or_refuse(actor, MissingEpisode, episode_id, action=action)
    return episode, child_access(actor, episode.child_id)


def get_episode(actor: User, episode_id: int) -> MissingEpisode:
    episode, access = _episode_for(actor, episode_id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="missing-episode", object_id=episode.id,
                     child_id=episode.child_id, basis=access.basis)
    return episode


def episodes_of(actor: User, child_id: int) -> list[MissingEpisode]:
    """A child's episodes, newest first, for a reader who may see episodes (else empty). The
    caller has already audited reading the child's page."""
    if not may_read_episodes(actor) or not child_access(actor, child_id):
        return []
    return list(db.session().scalars(select(MissingEpisode).where(MissingEpisode.child_id == child_id)
                                     .order_by(MissingEpisode.reported_start.desc())))


def assess(episode: MissingEpisode, now: datetime | None = None) -> rules.Assessment:
    """The computed picture of one episode: criteria met, meeting triggers, duties due."""
    child = db.session().get(Child, episode.child_id)
    starts = list(db.session().scalars(select(MissingEpisode.reported_start)
                                       .where(MissingEpisode.child_id == episode.child_id)))
    return rules.assess(episode, child.looked_after, starts, now or utcnow())


def police_forces() -> list[Organisation]:
    return list(db.session().scalars(select(Organisation).where(Organisation.kind == OrgKind.police,
                                                                Organisation.active.is_(True))
                                     .order_by(Organisation.name)))


def childrens_services() -> list[Organisation]:
    """The children's social care authorities an episode may name as home or receiving authority."""
    return list(db.session().scalars(select(Organisation).where(Organisation.kind == OrgKind.childrens_social_care)
                                     .order_by(Organisation.name)))
