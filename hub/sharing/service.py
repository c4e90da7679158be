"""Recording a share: the only code that writes share records (corrections and onward shares
come here too, from hub/sharing/corrections.py).

Each function checks the actor's relationship to the child or the share, applies the rules of
the register (legal basis, consent position, source, grading, handling code), writes the audit
event, and commits once. Reading shares is hub/sharing/reading.py; the register's lists
hub/sharing/register.py; recipients' answers and revocation hub/sharing/recipients.py; decisions
not to share hub/sharing/decisions.py; the local gateways hub/sharing/gateways.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid, NotFound
from hub.models.auth import Organisation, User, UserRole
from hub.models.consent import ConsentRecord
from hub.models.sharing import (
    CRIMINAL_BY_CATEGORY,
    PURPOSE_MAX,
    SPECIAL_BY_CATEGORY,
    Category,
    ConsentPosition,
    NoConsentReason,
    ObtainedHow,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.people.holders import record_holders
from hub.permissions import (
    AUTHORISER_ROLES,
    DENIED,
    child_access,
    mace_intelligence_access,
    mace_intelligence_recipients_ok,
    may_authorise_sharing,
    may_share,
)
from hub.retention import scheduling as retention
from hub.sharing import legal_bases
from hub.sharing.gateways import local_gateways, london_today


@dataclass
class ShareDraft:
    #: None only for MACE intelligence about places or persons (or several children).
    child_id: int | None
    category: Category
    summary: str
    content: str
    purpose: str
    recipient_org_ids: list[int]
    source_kind: SourceKind
    source_description: str
    obtained_how: ObtainedHow
    obtained_on: date
    bases: legal_bases.BasisChoice
    consent_position: ConsentPosition
    recipient_user_ids: list[int] = field(default_factory=list)
    special_category: bool = False
    criminal_offence: bool = False
    law_enforcement: bool = False
    evidence_reference: str | None = None
    source_evaluation: str | None = None
    intelligence_assessment: str | None = None
    handling_code: str | None = None
    consent_record_id: int | None = None
    no_consent_reason: NoConsentReason | None = None
    rationale: str | None = None
    authorised_by_user_id: int | None = None
    family_told: bool | None = None
    family_told_on: date | None = None
    family_not_told_reason: str | None = None
    #: MACE intelligence: the group it is shared into (recipients: the group's member
    #: organisations; seen only by the group's current named members and the sender's organisation).
    mace_group_id: int | None = None


def _sharing_access(actor: User, draft: ShareDraft):
    """The actor's route to what the draft is about: the child (a practitioner's relationship), or
    for MACE intelligence, current membership of the group (hub.permissions)."""
    if draft.mace_group_id is not None:
        return mace_intelligence_access(actor, draft.mace_group_id, draft.child_id)
    if draft.child_id is None or not may_share(actor):
        return DENIED
    return child_access(actor, draft.child_id)


def create_share(actor: User, draft: ShareDraft, *, origin: ShareRecord | None = None,
                 supersedes: ShareRecord | None = None, supersede_reason: str | None = None) -> ShareRecord:
    """Record a share to its recipients; refused (and nothing stored) when any rule fails."""
    access = _sharing_access(actor, draft)
    if not access:
        if draft.mace_group_id is not None:
            audit.record_refusal(actor, "mace-group", draft.mace_group_id, draft.child_id, action="share")
        else:
            audit.record_refusal(actor, "child", draft.child_id, draft.child_id, action="share")
        raise NotFound("child not found")
    special, criminal = _special_and_criminal(draft)
    errors = _check(actor, draft, special, criminal)
    if errors:
        raise Invalid(errors)
    try:
        return _store_share(actor, draft, access, special, criminal, origin, supersedes, supersede_reason)
    except IntegrityError:
        if supersedes is None:
            raise
        # The unique index on supersedes_id: someone else's correction of the same share won.
        raise Invalid({"": f"Share {supersedes.id} was corrected by someone else a moment ago: "
                           "open the share again and correct the latest version"}) from None


def _special_and_criminal(draft: ShareDraft) -> tuple[bool, bool]:
    return (draft.special_category or draft.category in SPECIAL_BY_CATEGORY,
            draft.criminal_offence or draft.category in CRIMINAL_BY_CATEGORY)


def rule_errors(actor: User, draft: ShareDraft) -> dict[str, str]:
    """The register's rules for a share, checked without recording anything: the question pages
    show each page's part of them as the user goes (create_share checks them all again)."""
    return _check(actor, draft, *_special_and_criminal(draft))


def _store_share(actor: User, draft: ShareDraft, access, special: bool, criminal: bool,
                 origin: ShareRecord | None, supersedes: ShareRecord | None,
                 supersede_reason: str | None) -> ShareRecord:
    with unit_of_work() as s:
        share = ShareRecord(
            child_id=draft.child_id, mace_group_id=draft.mace_group_id, sender_org_id=actor.organisation_id,
            sender_user_id=actor.id, category=draft.category, summary=draft.summary.strip(),
            content=draft.content.strip(),
            purpose=draft.purpose.strip(), special_category=special, criminal_offence=criminal,
            law_enforcement=draft.law_enforcement, article_6=draft.bases.article_6, article_9=draft.bases.article_9,
            article_10=draft.bases.article_10, part_3=draft.bases.part_3, gateway=draft.bases.gateway,
            source_kind=draft.source_kind, source_description=draft.source_description.strip(),
            obtained_how=draft.obtained_how, obtained_on=draft.obtained_on,
            evidence_reference=(draft.evidence_reference or "").strip() or None,
            source_evaluation=draft.source_evaluation, intelligence_assessment=draft.intelligence_assessment,
            handling_code=draft.handling_code, consent_position=draft.consent_position,
            consent_record_id=draft.consent_record_id, no_consent_reason=draft.no_consent_reason,
            rationale=(draft.rationale or "").strip() or None, authorised_by_user_id=draft.authorised_by_user_id,
            family_told=draft.family_told, family_told_on=draft.family_told_on,
            family_not_told_reason=draft.family_not_told_reason,
            origin_share_id=origin.id if origin else None,
            supersedes_id=supersedes.id if supersedes else None, supersede_reason=supersede_reason,
        )
        named = dict(_named_recipients(draft))
        share.recipients = [ShareRecipient(organisation_id=org_id, user_id=named.get(org_id))
                            for org_id in dict.fromkeys(draft.recipient_org_ids)]
        s.add(share)
        s.flush()
        _grant_access(share, [actor.organisation_id, *share_recipient_orgs(share)])
        retention.schedule_shares([share])
        # The purpose is free text, kept only in the share: the log names its category instead, so
        # that erasing a share's content never has to touch the log.
        audit.record("share", actor=actor, object_type="share", object_id=share.id, child_id=draft.child_id,
                     basis=access.basis, purpose=draft.category.value, legal_basis=_legal_basis_text(share),
                     detail={"recipients": sorted(draft.recipient_org_ids), "category": draft.category.value,
                             "consent": draft.consent_position.value, "origin": share.origin_share_id,
                             "supersedes": share.supersedes_id, "mace_group": share.mace_group_id})
    return share


def share_recipient_orgs(share: ShareRecord) -> list[int]:
    return list(dict.fromkeys(r.organisation_id for r in share.recipients))


def _grant_access(share: ShareRecord, organisation_ids: list[int]) -> None:
    """Who may see the share, by time (`ShareAccess`), and the same organisations noted as having
    held the child (`ChildHolder`: the bound of their reach)."""
    db.session().add_all(ShareAccess(organisation_id=org, share_id=share.id, created_at=share.created_at)
                         for org in dict.fromkeys(organisation_ids))
    record_holders(db.session(), [(share.child_id, org) for org in organisation_ids])


def _legal_basis_text(share: ShareRecord) -> str:
    codes = [share.article_6, share.article_9, share.article_10, share.part_3, share.gateway]
    return "; ".join(c for c in codes if c)[:200]


def _named_recipients(draft: ShareDraft) -> list[tuple[int, int]]:
    users = db.session().scalars(select(User).where(User.id.in_(draft.recipient_user_ids))) \
        if draft.recipient_user_ids else []
    return [(u.organisation_id, u.id) for u in users]


def _check(actor: User, draft: ShareDraft, special: bool, criminal: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (draft.summary or "").strip():
        errors["summary"] = "Write a short summary of what you are sharing"
    if not (draft.content or "").strip():
        errors["content"] = "Write the information you are sharing"
    if not (draft.purpose or "").strip():
        errors["purpose"] = "Say why you are sharing it"
    elif len(draft.purpose.strip()) > PURPOSE_MAX:  # encrypted now: the column no longer bounds it
        errors["purpose"] = f"Say why you are sharing it in {PURPOSE_MAX} characters or fewer"
    errors.update(_check_recipients(actor, draft))
    errors.update(_check_source(draft))
    errors.update(legal_bases.check(
        draft.bases, sender_kind=actor.organisation.kind, special_category=special, criminal_offence=criminal,
        law_enforcement=draft.law_enforcement, local_gateways={g.code for g in local_gateways()},
        on=london_today()))
    errors.update(_check_consent(actor, draft))
    if draft.child_id is not None:  # MACE intelligence about places or persons: no one child's family to tell
        errors.update(_check_family_told(draft))
    return errors


def _check_family_told(draft: ShareDraft) -> dict[str, str]:
    if draft.family_told is None:
        return {"family_told": "Say whether the child or family were told about this sharing"}
    if draft.family_told and not draft.family_told_on:
        return {"family_told_on": "Enter when they were told"}
    if draft.family_told and draft.family_told_on > date.today():
        return {"family_told_on": "The date they were told must be today or in the past"}
    if not draft.family_told and not (draft.family_not_told_reason or "").strip():
        return {"family_not_told_reason": "Say why the child or family were not told"}
    return {}


def _check_recipients(actor: User, draft: ShareDraft) -> dict[str, str]:
    if not draft.recipient_org_ids:
        return {"recipient_org_ids": "Choose who you are sharing with"}
    found = set(db.session().scalars(select(Organisation.id).where(
        Organisation.id.in_(draft.recipient_org_ids), Organisation.active.is_(True))))
    if found != set(draft.recipient_org_ids):
        return {"recipient_org_ids": "One of the recipients is not an organisation in the hub"}
    if actor.organisation_id in found:
        return {"recipient_org_ids": "You cannot share with your own organisation"}
    if draft.mace_group_id is not None and not mace_intelligence_recipients_ok(draft.mace_group_id, list(found)):
        return {"recipient_org_ids": "MACE intelligence goes only to the group's member organisations"}
    named = _named_recipients(draft)
    if len(named) != len(set(draft.recipient_user_ids)) or any(org not in found for org, _ in named):
        return {"recipient_user_ids": "A named person must belong to one of the recipient organisations"}
    return {}


def _check_source(draft: ShareDraft) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (draft.source_description or "").strip():
        errors["source_description"] = ("Describe the third party by their relationship to the child"
                                         if draft.source_kind == SourceKind.third_party
                                         else "Say which organisation or role supplied it")
    if draft.obtained_on is None:
        errors["obtained_on"] = "Enter when the information was obtained"
    elif draft.obtained_on > date.today():
        errors["obtained_on"] = "The date it was obtained must be today or in the past"
    grading = (draft.source_evaluation, draft.intelligence_assessment, draft.handling_code)
    if draft.category == Category.police_intelligence or any(grading):
        if draft.source_evaluation not in ("1", "2", "3"):
            errors["source_evaluation"] = "Grade the source 1 (reliable), 2 (untested) or 3 (not reliable)"
        if draft.intelligence_assessment not in ("A", "B", "C", "D", "E"):
            errors["intelligence_assessment"] = "Assess the intelligence A to E"
        if draft.handling_code not in ("P", "C"):
            errors["handling_code"] = "Choose the handling code P (may be shared) or C (conditions apply)"
    return errors


def _check_consent(actor: User, draft: ShareDraft) -> dict[str, str]:
    position = draft.consent_position
    if position == ConsentPosition.consent and draft.child_id is None:
        return {"consent_position": "Consent is a child's: intelligence that is not about exactly one child "
                                    "cannot rely on it"}
    if position == ConsentPosition.consent:
        consent = db.session().get(ConsentRecord, draft.consent_record_id) if draft.consent_record_id else None
        if consent is None or consent.child_id != draft.child_id:
            return {"consent_record_id": "Choose the consent record this share relies on"}
        if consent.withdrawn_at is not None:
            return {"consent_record_id": "That consent has been withdrawn: you cannot rely on it"}
        if not consent.covers(draft.category.value, set(draft.recipient_org_ids), date.today()):
            return {"consent_record_id": "That consent does not cover this purpose, these recipients or today"}
        return {}
    if draft.bases.article_6 == "6(1)(a)":
        return {"article_6": "Consent as the Article 6 basis needs the share to rely on a consent record"}
    errors: dict[str, str] = {}
    if position == ConsentPosition.not_needed and draft.no_consent_reason is None:
        errors["no_consent_reason"] = "Choose why consent is not needed"
    if not (draft.rationale or "").strip():
        errors["rationale"] = "Explain why sharing without consent is necessary and proportionate"
    authoriser = db.session().get(User, draft.authorised_by_user_id) if draft.authorised_by_user_id else None
    if authoriser is None:
        errors["authorised_by_user_id"] = "Choose who authorised sharing without consent"
    elif authoriser.organisation_id != actor.organisation_id or not may_authorise_sharing(authoriser):
        errors["authorised_by_user_id"] = ("The authoriser must be an active safeguarding lead, social worker, "
                                           "police officer, health practitioner or MACE chair in your organisation")
    elif position == ConsentPosition.refused_but_justified and authoriser.id == actor.id:
        errors["authorised_by_user_id"] = "When consent was refused, someone else must authorise the sharing"
    return errors


def authorisers(actor: User) -> list[User]:
    """Colleagues in the actor's organisation who may authorise sharing without consent."""
    return list(db.session().scalars(
        select(User).join(UserRole).where(User.organisation_id == actor.organisation_id, User.active.is_(True),
                                          UserRole.role.in_(AUTHORISER_ROLES)).distinct().order_by(User.name)))
