"""May this user see or change this missing episode, this Philomena profile, this download?

| object                         | who                                                                  |
|--------------------------------|----------------------------------------------------------------------|
| a missing episode: read        | police officers and social workers who may see the child; the hub DPO |
| a missing episode: change      | police officers and social workers who may see the child             |
| a Philomena profile            | its keepers (social workers of the child's placing or home authority), who may see the child; the hub DPO reads it |
| the profile's photo            | as the profile, and the force it was released to (a recipient of the release share, until revoked) |
| a police download and its rows | officers of its force; administrators resolve rows                   |

A school never sees an episode's attributes (risk grade, where from, looked-after status, strategy
discussion, trigger plan): it hears of an episode only through its own notifications.
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

from sqlalchemy import exists, select

from hub import db
from hub.audit import service as audit
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.missing import MissingEpisode, ProfileRelease
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.models.sharing import RecipientStatus, ShareRecipient, ShareRecord
from hub.permissions.children import DENIED, Access, child_access, child_bases, is_object_id
from hub.permissions.loading import refuse
from hub.permissions.roles import (
    PROFILE_KEEPER_ROLES,
    READ,
    holds,
    is_hub_dpo,
    is_officer_of,
    is_police_officer,
    may_administer,
    may_record_episodes,
    may_share,
)


def episode_fixable_child_ids(user: User | None, child_ids: list[int]) -> set[int]:
    """Of these children, those whose episodes the user may change (one query)."""
    if not may_record_episodes(user):
        return set()
    return set(child_bases(user, child_ids))


# --- the Philomena protocol profile -------------------------------------------------------------

def may_keep_philomena_profile(user: User | None, child: Child) -> bool:
    """Carers and the authority keep the profile: in the hub, social workers of the child's placing
    or home authority as they are now (the profile is keyed to the child, so it moves with them)."""
    return holds(user, PROFILE_KEEPER_ROLES) and (
        user.organisation_id in {child.placing_authority_id, child.responsible_authority_id} - {None})


def may_read_philomena_profile(user: User | None, child: Child) -> bool:
    return may_keep_philomena_profile(user, child) or is_hub_dpo(user)


def philomena_released_to(user: User | None, child_id: int) -> bool:
    """The child's profile was released to the user's organisation, which still holds the release:
    the force named as its recipient, never the sender's other colleagues."""
    if not may_share(user):
        return False
    released = (select(ProfileRelease.id).join(ShareRecord, ShareRecord.id == ProfileRelease.share_id)
                .join(ShareRecipient, ShareRecipient.share_id == ShareRecord.id)
                .where(ShareRecord.child_id == child_id, ShareRecipient.organisation_id == user.organisation_id,
                       ShareRecipient.status != RecipientStatus.revoked))
    return bool(db.session().scalar(select(exists(released))))


# --- a force's own system (the API) ----------------------------------------------------------

def load_force_episode(actor, episode_id: int, action: str, max_id: int) -> MissingEpisode:
    """An episode the API client's force holds, or a 404 (audited) that does not say whether it
    exists: another force's episode looks exactly like a missing one. Stricter than a page's rule
    (hub.permissions.loading): a force's system reads and changes its own force's reports only."""
    # Ids outside the column's range would be a database error on PostgreSQL: no such episode.
    episode = db.session().get(MissingEpisode, episode_id) if 1 <= episode_id <= max_id else None
    if episode is None or episode.police_org_id != actor.organisation_id or not actor.is_active:
        audit.record_refusal(actor, "missing-episode", episode_id, episode.child_id if episode else None,
                             action=action)
        raise NotFound("episode not found")
    return episode


# --- the police daily download ------------------------------------------------------------------

def may_resolve_download_row(user: User | None, police_org_id: int) -> bool:
    """A waiting download row is resolved by an officer of its force, or an administrator."""
    return may_administer(user) or is_officer_of(user, police_org_id)


def may_import(user: User | None) -> bool:
    """Imports a download: a police officer of a police force (the download is their force's)."""
    return is_police_officer(user) and user.organisation.kind == OrgKind.police


def load_profile_child(user: User | None, child_id: int, action: str = READ,
                       object_type: str = "philomena-profile") -> tuple[Child, Access]:
    """The child whose profile the user may read (READ: the keepers and the hub's DPO) or keep
    (any other action: the keepers), and the user's basis; else the refusal audited and a 404."""
    child = db.session().get(Child, child_id) if is_object_id(child_id) else None
    access = child_access(user, child_id) if child is not None else DENIED
    may = may_read_philomena_profile if action == READ else may_keep_philomena_profile
    if not access or not may(user, child):
        refuse(user, object_type, child_id, child_id if child else None, action=action)
    return child, access


def profile_photo_basis(user: User | None, child_id: int) -> str:
    """The basis on which the user sees the child's profile photo: as a reader of the profile, or
    as the force it was released to ("profile-released"); else the refusal audited and a 404."""
    child = db.session().get(Child, child_id) if is_object_id(child_id) else None
    access = child_access(user, child_id) if child is not None else DENIED
    if access and may_read_philomena_profile(user, child):
        return access.basis
    if access and philomena_released_to(user, child_id):
        return "profile-released"
    refuse(user, "philomena-photo", child_id, child_id if child else None)
