"""Philomena protocol profiles: the form kept ahead with the carers for a child who may go missing,
its photo, and its release to the force that holds a missing report (a share record of the
register, made in the same transaction as the release).

Kept by the child's authority (hub.permissions: may_keep_philomena_profile); the hub's DPO reads it
for subject access; the police see it only as released. Every read and write is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing.profiles import content as pc
from hub.missing.profiles import photos
from hub.missing.reading import get_episode
from hub.models.auth import User
from hub.models.missing import MissingEpisode, PhilomenaProfile, ProfileRelease
from hub.models.people import Child
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.permissions import (
    load_profile_child,
    may_keep_philomena_profile,
    profile_photo_basis,
    refuse,
    share_visible,
)
from hub.retention import scheduling as retention
from hub.sharing import legal_bases
from hub.sharing import reading as share_reading
from hub.sharing import service as sharing

#: The protocol's form, in its order. Part 1 is kept ahead with the carers (the photo is kept
#: beside it: `PhilomenaProfile.photo`); part 2 is filled when the child goes missing.
PROFILE_PART_1 = {
    "physical_description": "Description",
    "friends_and_associates": "Friends and associates",
    "addresses_and_places": "Places frequented",
    "phone_numbers": "Phone numbers",
    "medical_needs": "Medical needs and medication",
    "money": "Money",
    "social_media": "Social media",
    "transport": "Transport",
}
PROFILE_PART_2 = {
    "clothing": "Clothing",
    "last_seen": "Where last seen",
}
#: Every text part of the profile (the subject access pack lists these).
PROFILE_FIELDS = {**PROFILE_PART_1, **PROFILE_PART_2}
PROFILE_HINTS = {
    "physical_description": "Height, build, hair, eyes, distinguishing marks, how they usually dress and present",
    "friends_and_associates": "Friends, family and adults they may go to; anyone of concern",
    "addresses_and_places": "Addresses, areas, shops, parks or towns they go to",
    "phone_numbers": "The child's phone numbers and those of people they may contact",
    "medical_needs": "Conditions, medication, dose and what happens without it",
    "money": "Where they get money, bank cards, how much they may have",
    "social_media": "Accounts and user names (not passwords)",
    "transport": "How they travel: bus or train passes, bikes, who drives them",
    "clothing": "What they were wearing when last seen",
    "last_seen": "Where, when and with whom they were last seen",
}
PROFILE_PARTS = {"Part 1: kept ahead": PROFILE_PART_1, "Part 2: when the child goes missing": PROFILE_PART_2}
PHOTO_LABEL = "Photo"
PROFILE_TEXT_MAX = 4000


def _child_for_profile(actor: User, child_id: int, action: str, object_type: str = "philomena-profile"):
    """The hub's DPO reads the profile for subject access; only its keepers write or release it."""
    return load_profile_child(actor, child_id, action, object_type)


def _profile_of(child_id: int) -> PhilomenaProfile | None:
    return db.session().scalar(select(PhilomenaProfile).where(PhilomenaProfile.child_id == child_id))


def get_profile(actor: User, child_id: int) -> PhilomenaProfile | None:
    """The child's profile (None if not yet written), for the authority that keeps it."""
    _child, access = _child_for_profile(actor, child_id, "read")
    with unit_of_work():
        profile = _profile_of(child_id)
        audit.record("read", actor=actor, object_type="philomena-profile", object_id=profile.id if profile else None,
                     child_id=child_id, basis=access.basis)
    return profile


@dataclass
class PhotoChange:
    """What the form did to the photo: a new upload (bytes as sent), removal, or nothing."""

    upload: bytes | None = None
    remove: bool = False


def _clean_values(values: dict[str, str | None], photo: PhotoChange) -> tuple[dict[str, str | None], bytes | None]:
    cleaned = {name: (values.get(name) or "").strip() or None for name in PROFILE_FIELDS}
    errors = {name: f"Keep this under {PROFILE_TEXT_MAX} characters"
              for name, value in cleaned.items() if value and len(value) > PROFILE_TEXT_MAX}
    jpeg = None
    if photo.upload is not None:
        try:
            jpeg = photos.clean_photo(photo.upload)
        except photos.PhotoRefused as exc:
            errors["photo"] = str(exc)
    if errors:
        raise Invalid(errors)
    return cleaned, jpeg


def save_profile(actor: User, child_id: int, values: dict[str, str | None],
                 photo: PhotoChange | None = None) -> PhilomenaProfile:
    """Write the profile: part 1 ahead of any episode, part 2 when the child goes missing (one per
    child, kept by the child's authority). A photo is stored only re-encoded and encrypted."""
    photo = photo or PhotoChange()
    _child, access = _child_for_profile(actor, child_id, "update")
    cleaned, jpeg = _clean_values(values, photo)
    current = _profile_of(child_id)
    if not any(cleaned.values()) and jpeg is None and (current is None or current.photo is None or photo.remove):
        raise Invalid({"": "Fill in at least one part of the profile"})
    with unit_of_work() as s:
        profile = current
        created = profile is None
        if created:
            profile = PhilomenaProfile(child_id=child_id)
            s.add(profile)
        for name, value in cleaned.items():
            setattr(profile, name, value)
        photo_changed = _set_photo(profile, jpeg, photo.remove)
        profile.updated_by_user_id = actor.id
        s.flush()
        retention.schedule_profile(profile, actor.organisation_id)
        audit.record("create" if created else "update", actor=actor, object_type="philomena-profile",
                     object_id=profile.id, child_id=child_id, basis=access.basis,
                     detail={"photo": photo_changed} if photo_changed else None)
    return profile


def _set_photo(profile: PhilomenaProfile, jpeg: bytes | None, remove: bool) -> str | None:
    """The change made to the photo ("replaced", "removed"), for the audit event."""
    if jpeg is not None:
        profile.photo, profile.photo_updated_at = jpeg, utcnow()
        return "replaced"
    if remove and profile.photo is not None:
        profile.photo, profile.photo_updated_at = None, None
        return "removed"
    return None


def get_profile_photo(actor: User, child_id: int) -> bytes | None:
    """The profile's photo (None when none is kept), for those who may see the profile: its keepers,
    the hub's DPO, and a force it was released to while the release stands. Every read is audited;
    anyone else gets the same 404 as for a child without a profile, audited."""
    basis = profile_photo_basis(actor, child_id)
    with unit_of_work():
        profile = _profile_of(child_id)
        audit.record("read", actor=actor, object_type="philomena-photo", object_id=profile.id if profile else None,
                     child_id=child_id, basis=basis)
    return profile.photo if profile is not None else None


def release_content(profile: PhilomenaProfile) -> str:
    """The share's content: the protocol's parts and sections, each named even when empty."""
    parts = []
    for title, labels in PROFILE_PARTS.items():
        sections = [pc.Section(label, getattr(profile, name) or "") for name, label in labels.items()]
        if labels is PROFILE_PART_1:
            sections.insert(1, pc.Section(PHOTO_LABEL, pc.PHOTO_HELD if profile.photo else pc.NO_PHOTO))
        parts.append(pc.Part(title, sections))
    return pc.render(parts)


def released_sections(content: str) -> list[pc.Part]:
    """The parts and sections of a released profile's text (hub.missing.profiles.content.Part)."""
    known = {title: [*labels.values(), PHOTO_LABEL] for title, labels in PROFILE_PARTS.items()}
    return pc.parse(content, known)


def release_profile(actor: User, episode_id: int) -> ShareRecord:
    """Release the profile to the force that holds the missing report, in one action: a share
    record with its basis (the police need it to find the child: risk of significant harm)."""
    episode = db.session().get(MissingEpisode, episode_id)
    if episode is None:
        refuse(actor, "missing-episode", episode_id, action="share")
    child_id = episode.child_id
    _child_for_profile(actor, child_id, "share")
    profile = _profile_of(child_id)
    if profile is None:
        raise Invalid({"": "There is no profile to release: write it first"})
    if db.session().scalar(select(ProfileRelease.id).where(ProfileRelease.profile_id == profile.id,
                                                           ProfileRelease.episode_id == episode.id)):
        raise Invalid({"": "The profile was already released for this episode"})
    with unit_of_work() as s:
        share = sharing.create_share(actor, sharing.ShareDraft(
            child_id=child_id, category=Category.missing_episode,
            summary=f"Philomena protocol profile for missing report {episode.police_reference}",
            content=release_content(profile), purpose="To help the police find a missing child (Philomena protocol)",
            recipient_org_ids=[episode.police_org_id], source_kind=SourceKind.organisation,
            source_description="The child's carers and placing authority (Philomena protocol profile)",
            obtained_how=ObtainedHow.other, obtained_on=(profile.updated_at or utcnow()).date(),
            bases=legal_bases.BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA2004-s11"),
            special_category=bool(profile.medical_needs), consent_position=ConsentPosition.not_needed,
            no_consent_reason=NoConsentReason.significant_harm,
            rationale="The child is missing; the profile was prepared with the carers for exactly this purpose",
            authorised_by_user_id=actor.id, family_told=False,
            family_not_told_reason="The carers prepared the profile for release when the child goes missing; "
                                   "the child is told on return"))
        s.add(ProfileRelease(profile_id=profile.id, episode_id=episode.id, share_id=share.id,
                             released_by_user_id=actor.id))
        audit.record("share", actor=actor, object_type="philomena-profile", object_id=profile.id, child_id=child_id,
                     detail={"episode": episode.id, "share": share.id, "to": episode.police_org_id})
    return share


def released_profile(actor: User, episode_id: int) -> ShareRecord | None:
    """The profile as released for an episode, for the force it went to (and its sender): the
    share, read through the sharing service (its own check and audit), or None when nothing was
    released for the episode that the actor may see."""
    get_episode(actor, episode_id)
    share_ids = db.session().scalars(select(ProfileRelease.share_id).where(ProfileRelease.episode_id == episode_id)
                                     .order_by(ProfileRelease.id.desc()))
    visible = db.session().scalar(select(ShareRecord.id).where(ShareRecord.id.in_(list(share_ids)),
                                                               share_visible(actor)).limit(1))
    return share_reading.get_share(actor, visible) if visible is not None else None


def releases(episode_id: int) -> list[ProfileRelease]:
    """The profile releases made for an episode (the caller checked access)."""
    return list(db.session().scalars(select(ProfileRelease).where(ProfileRelease.episode_id == episode_id)
                                     .order_by(ProfileRelease.id)))


def may_keep_profile(actor: User, child: Child) -> bool:
    """The police see the profile only when it is released (hub.permissions)."""
    return may_keep_philomena_profile(actor, child)
