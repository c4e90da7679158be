"""Recording and reading share records: the only code that writes them.

Each function checks the actor's relationship to the child or the share, applies the rules of
the register (legal basis, consent position, source, grading, handling code), writes the audit
event, and commits once. Reads by a recipient organisation record its first opening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, lazyload, selectinload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.exports import write_xlsx
from hub.models.auth import Organisation, User, UserRole
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceGroup
from hub.models.people import Child
from hub.models.sharing import (
    CRIMINAL_BY_CATEGORY,
    PURPOSE_MAX,
    SPECIAL_BY_CATEGORY,
    Category,
    ConsentPosition,
    LocalGateway,
    NoConsentReason,
    ObtainedHow,
    RecipientStatus,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.permissions import (
    AUTHORISER_ROLES,
    CHANGE,
    DENIED,
    child_access,
    child_bases,
    current_member_groups,
    load_child_or_refuse,
    load_or_refuse,
    mace_intelligence_access,
    mace_intelligence_recipients_ok,
    may_administer,
    may_authorise_sharing,
    may_share,
    refuse,
    share_fact_only,
    share_names_child,
    share_register_row,
    share_visible,
)
from hub.retention import scheduling as retention
from hub.sharing import legal_bases

LONDON = ZoneInfo("Europe/London")

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
    db.session().add_all(ShareAccess(organisation_id=org, share_id=share.id, created_at=share.created_at)
                         for org in dict.fromkeys(organisation_ids))


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


def record_decision_not_to_share(actor: User, draft: ShareDraft) -> ShareRecord:
    """A decision NOT to share, with its reasons: the guidance asks for decisions either way to be
    written down. The would-be recipients are kept, but they never see it."""
    access = child_access(actor, draft.child_id)
    if not access or not may_share(actor):
        refuse(actor, "child", draft.child_id, draft.child_id, action="create")
    errors = {}
    if not (draft.summary or "").strip():
        errors["summary"] = "Say what information you decided not to share"
    if not (draft.rationale or "").strip():
        errors["rationale"] = "Record why you decided not to share"
    errors.update(_check_recipients(actor, draft))
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        decision = ShareRecord(
            child_id=draft.child_id, sender_org_id=actor.organisation_id, sender_user_id=actor.id, shared=False,
            category=draft.category, summary=draft.summary.strip(), purpose=(draft.purpose or "").strip(),
            source_kind=draft.source_kind, source_description=(draft.source_description or "").strip(),
            obtained_how=draft.obtained_how, obtained_on=draft.obtained_on or date.today(),
            rationale=draft.rationale.strip(),
            recipients=[ShareRecipient(organisation_id=o) for o in dict.fromkeys(draft.recipient_org_ids)])
        s.add(decision)
        s.flush()
        _grant_access(decision, [actor.organisation_id])  # the would-be recipients never see it
        retention.schedule_shares([decision])
        audit.record("create", actor=actor, object_type="decision-not-to-share", object_id=decision.id,
                     child_id=draft.child_id, basis=access.basis, detail={"would_have_gone_to": sorted(
                         draft.recipient_org_ids)})
    return decision


# --- reading ------------------------------------------------------------------------------------

def visible_to(actor: User):
    """Shares the actor may see, content and all (hub.permissions.shares)."""
    return share_visible(actor)


def get_share(actor: User, share_id: int, *, object_type: str = "share", detail: dict | None = None) -> ShareRecord:
    """One share, for its sender and its recipients only; a recipient's first opening is kept.
    (A MACE intelligence page reads it as "mace-intelligence", naming its children in `detail`.)"""
    share = load_or_refuse(actor, ShareRecord, share_id)
    with unit_of_work():
        mine = [r for r in share.recipients if r.organisation_id == actor.organisation_id]
        for recipient in mine:
            if recipient.first_opened_at is None:
                recipient.first_opened_at = utcnow()
        audit.record("read", actor=actor, object_type=object_type, object_id=share.id, child_id=share.child_id,
                     basis="share-recipient" if mine else "share-sender", legal_basis=_legal_basis_text(share),
                     detail=detail)
    return share


#: What a list of shares says for MACE intelligence about places or persons rather than one child.
NO_SINGLE_CHILD = "No single child (MACE intelligence)"


@dataclass(frozen=True)
class ShareChild:
    """The child a share is about, as a list of shares names them."""

    name: str
    #: Whether the reader may open the child's page (a relationship or role of their own).
    may_open: bool


#: What a share's pages say of the child of MACE intelligence the reader may not see (as the
#: group's intelligence pages say it).
CHILD_NOT_SHOWN = "A child you may not see"


def children_named(actor: User, shares: list[ShareRecord]) -> dict[int, ShareChild]:
    """The children a page of shares is about, by id: one query for the rows and one for the
    reader's bases, however many shares the page shows. The reader holds each share, so may read
    its child's name (hub.permissions.share_names_child: not MACE intelligence's child, unless they
    may see the child anyway); only a relationship of their own opens the child's page."""
    ids = sorted({share.child_id for share in shares if share.child_id is not None})
    if not ids:
        return {}
    bases = child_bases(actor, ids)
    named = {share.child_id for share in shares
             if share.child_id is not None and share_names_child(share, share.child_id in bases)}
    rows = db.session().scalars(select(Child).where(Child.id.in_(named)).options(lazyload(Child.identifiers)))
    found = {child.id: ShareChild(child.full_name, child.id in bases) for child in rows}
    return {child_id: found.get(child_id, ShareChild(CHILD_NOT_SHOWN, False)) for child_id in ids}


def _child_name(share: ShareRecord, named: dict[int, ShareChild]) -> str | None:
    if share.child_id is None:
        return NO_SINGLE_CHILD
    return named[share.child_id].name if share.child_id in named else None


#: Shares per page of a child's chronology: a page costs the same whatever the child's history.
CHRONOLOGY_PAGE = 50


@dataclass
class Chronology:
    """One page of a child's chronology, newest first. Iterating it gives the page's shares."""

    shares: list[ShareRecord]
    page: int
    pages: int
    #: Every share about the child the reader may see, on any page.
    total: int
    #: The shares of this page that a correction the reader may see supersedes (on any page).
    superseded: set[int] = field(default_factory=set)

    def __iter__(self):
        return iter(self.shares)

    def __len__(self) -> int:
        return len(self.shares)


def _chronology_rows(actor: User, child_id: int, page: int, per_page: int | None) -> list:
    """(share, total, superseded) rows of one page, in one statement: the total is a window count
    over every visible share, and "superseded" asks whether a visible correction exists."""
    later = aliased(ShareRecord)
    corrected = select(later.id).where(later.supersedes_id == ShareRecord.id, share_visible(actor, later)).exists()
    query = (select(ShareRecord, func.count().over().label("total"), corrected.label("superseded"))
             .where(ShareRecord.child_id == child_id, visible_to(actor))
             .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()))
    if per_page:
        query = query.limit(per_page).offset((page - 1) * per_page)
    return list(db.session().execute(query))


def chronology(actor: User, child_id: int, page: int = 1, per_page: int | None = CHRONOLOGY_PAGE) -> Chronology:
    """A page of the shares about the child the actor may see, newest first (corrections and
    originals both); `per_page=None` for all of them. The read of the page is audited."""
    load_child_or_refuse(actor, child_id)
    page = max(1, page)
    rows = _chronology_rows(actor, child_id, page, per_page)
    if not rows and page > 1 and per_page:  # past the last page (a stale link): show the last one
        total = db.session().scalar(select(func.count()).select_from(ShareRecord).where(
            ShareRecord.child_id == child_id, visible_to(actor)))
        page = max(1, -(-total // per_page))
        rows = _chronology_rows(actor, child_id, page, per_page)
    total = rows[0].total if rows else 0
    shares = [row[0] for row in rows]
    result = Chronology(shares, page, max(1, -(-total // per_page)) if per_page else 1, total,
                        {row[0].id for row in rows if row.superseded})
    with unit_of_work():
        audit.record("read", actor=actor, object_type="share-chronology", child_id=child_id,
                     basis=child_access(actor, child_id).basis, detail={"shares": [x.id for x in shares]})
    return result


# --- afterwards ---------------------------------------------------------------------------------

def correct(actor: User, share_id: int, draft: ShareDraft, reason: str) -> ShareRecord:
    """A correction is a new share superseding the old one; both stay visible."""
    original = _correctable(actor, share_id)
    if not (reason or "").strip():
        raise Invalid({"supersede_reason": "Say what was wrong with the original"})
    draft.child_id = original.child_id  # a correction is about the same child
    draft.mace_group_id = original.mace_group_id  # and MACE intelligence stays in its group
    return create_share(actor, draft, supersedes=original, supersede_reason=reason.strip())


def for_correction(actor: User, share_id: int) -> ShareRecord:
    """The share the actor's organisation sent, read to fill in its correction (and refused when
    `correct` would refuse it)."""
    original = _correctable(actor, share_id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="share", object_id=original.id, child_id=original.child_id,
                     basis="share-sender", purpose="correct", legal_basis=_legal_basis_text(original))
    return original


def _correctable(actor: User, share_id: int) -> ShareRecord:
    """Only the sender corrects, only a share, and only the latest version: correcting a share
    that was already corrected would fork its history into two "latest" versions."""
    original = _sent_by(actor, share_id)
    if not original.shared:
        raise Invalid({"": "A decision not to share cannot be corrected: record a new decision or share instead"})
    later = corrections(actor, original)
    if later:
        raise Invalid({"": f"Share {original.id} was already corrected by share {later[-1].id}: correct that one"})
    return original


def corrections(actor: User, share: ShareRecord) -> list[ShareRecord]:
    """The shares the actor may see that correct this one, oldest first."""
    return list(db.session().scalars(select(ShareRecord).where(
        ShareRecord.child_id == share.child_id, ShareRecord.supersedes_id == share.id, visible_to(actor))
        .order_by(ShareRecord.id)))


def share_onward(actor: User, share_id: int, draft: ShareDraft) -> ShareRecord:
    """A recipient passes the information on: a new share pointing to its origin. Handling
    code C (conditions apply) forbids onward sharing through the hub."""
    origin = for_onward(actor, share_id)
    draft.child_id = origin.child_id
    return create_share(actor, draft, origin=origin)


def for_onward(actor: User, share_id: int) -> ShareRecord:
    """A share the actor's organisation received and may pass on (read, and audited as read)."""
    origin = get_share(actor, share_id)
    if origin.sender_org_id == actor.organisation_id:
        raise Invalid({"": "You sent this share: record a new share instead of sharing it onward"})
    if origin.handling_code == "C":
        audit.record_refusal(actor, "share", share_id, origin.child_id, action="share")
        raise Invalid({"": "The handling code of this intelligence (C) does not allow onward sharing"})
    if origin.child_id is None:
        raise Invalid({"": "Intelligence that is not about exactly one child stays within its MACE group"})
    return origin


def revoke(actor: User, share_id: int, recipient_org_id: int, reason: str) -> None:
    share = _sent_by(actor, share_id)
    if share.mace_group_id is not None:
        # The group's current members see its intelligence whoever they work for: access to it
        # ends with a membership, not with an organisation's revocation.
        raise Invalid({"reason": "MACE intelligence is seen by the group's current members: end a membership "
                                 "instead of revoking an organisation"})
    if not (reason or "").strip():
        raise Invalid({"reason": "Say why you are revoking access"})
    with unit_of_work():
        recipient = next((r for r in share.recipients if r.organisation_id == recipient_org_id), None)
        if recipient is None or recipient.status == RecipientStatus.revoked:
            raise Invalid({"reason": "That organisation does not hold this share"})
        recipient.status, recipient.revoked_reason, recipient.responded_at = RecipientStatus.revoked, reason, utcnow()
        db.session().execute(delete(ShareAccess).where(ShareAccess.share_id == share.id,
                                                       ShareAccess.organisation_id == recipient_org_id))
        audit.record("update", actor=actor, object_type="share", object_id=share.id, child_id=share.child_id,
                     detail={"change": "revoked", "recipient": recipient_org_id})


def respond(actor: User, share_id: int, accept: bool) -> None:
    share = get_share(actor, share_id)
    with unit_of_work():
        mine = [r for r in share.recipients if r.organisation_id == actor.organisation_id]
        if not mine:
            raise Invalid({"": "Only a recipient can accept or decline a share"})
        for recipient in mine:
            recipient.status = RecipientStatus.accepted if accept else RecipientStatus.declined
            recipient.responded_at = utcnow()
        audit.record("update", actor=actor, object_type="share", object_id=share.id, child_id=share.child_id,
                     detail={"change": "accepted" if accept else "declined"})


def _sent_by(actor: User, share_id: int) -> ShareRecord:
    """A share the actor may act on for its sender (correct, revoke), or the refusal and a 404."""
    return load_or_refuse(actor, ShareRecord, share_id, action=CHANGE)



@dataclass(frozen=True)
class ShareFact:
    """The fact of a share, without its child or content: what the sender organisation's register
    keeps of MACE intelligence it sent into a group the reader is not a current member of (the
    date, the group, the category, the legal basis and who sent it). A list of shares holds these
    in place of the share itself, so no page or spreadsheet can show what only the group sees."""

    id: int
    created_at: datetime
    mace_group_id: int
    group_name: str
    category: Category
    article_6: str | None
    article_9: str | None
    article_10: str | None
    part_3: str | None
    gateway: str | None
    sender_org_id: int
    sender_user_id: int
    fact_only: bool = True
    #: What a list of shares reads of every row, held empty here.
    child_id: None = None
    shared: bool = True
    supersedes_id: None = None
    review_flagged_at: None = None

    @classmethod
    def of(cls, share: ShareRecord, group_name: str) -> ShareFact:
        return cls(share.id, share.created_at, share.mace_group_id, group_name, share.category, share.article_6,
                   share.article_9, share.article_10, share.part_3, share.gateway, share.sender_org_id,
                   share.sender_user_id)


def _as_register_rows(actor: User, shares: list[ShareRecord]) -> list[ShareRecord | ShareFact]:
    """Each share as the reader may see it: whole, or (intelligence of a group they are not a
    current member of, which their organisation sent) only its fact."""
    if not any(share.mace_group_id is not None for share in shares):
        return list(shares)
    member_of = current_member_groups(actor)
    facts = [s for s in shares if share_fact_only(actor, s, member_of)]
    names = dict(db.session().execute(select(MaceGroup.id, MaceGroup.name).where(
        MaceGroup.id.in_({s.mace_group_id for s in facts}))).tuples().all()) if facts else {}
    return [ShareFact.of(s, names[s.mace_group_id]) if share_fact_only(actor, s, member_of) else s for s in shares]


def _shown_children(rows: list[ShareRecord | ShareFact]) -> list[int]:
    return [row.child_id for row in rows if row.child_id is not None]


@dataclass
class ShareLists:
    received: list[ShareRecord]
    sent: list[ShareRecord | ShareFact]


def lists(actor: User, limit: int = 100) -> ShareLists:
    """"Shared with us" and "shared by us", newest first: the register's rows (hub.permissions
    `share_register_row`) that the organisation received, and that it sent. Each list is read in
    the order of the index that finds it and stops at `limit`, so it costs the same at 200,000
    shares as at 200: "with us" walks share_recipient's (organisation, share) index backwards,
    "by us" share_record's (sender, time) index (sorting by id instead made the database sort
    every share ever sent)."""
    s = db.session()
    with_us = list(s.scalars(
        select(ShareRecord).join(ShareRecipient, ShareRecipient.share_id == ShareRecord.id)
        .where(ShareRecipient.organisation_id == actor.organisation_id,
               ShareRecipient.status != RecipientStatus.revoked, ShareRecord.shared.is_(True), share_visible(actor))
        .order_by(ShareRecipient.share_id.desc()).limit(limit)))
    by_us = _as_register_rows(actor, list(s.scalars(
        select(ShareRecord).where(ShareRecord.sender_org_id == actor.organisation_id, share_register_row(actor))
        .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()).limit(limit))))
    shown = with_us + by_us
    with unit_of_work():  # one event for the page, naming every child shown, so each child's record of sight is whole
        audit.record("read", actor=actor, object_type="share-list", basis="share-recipient,share-sender",
                     children=_shown_children(shown), detail={"shown": len(shown)})
    return ShareLists(with_us, by_us)


def authorisers(actor: User) -> list[User]:
    """Colleagues in the actor's organisation who may authorise sharing without consent."""
    return list(db.session().scalars(
        select(User).join(UserRole).where(User.organisation_id == actor.organisation_id, User.active.is_(True),
                                          UserRole.role.in_(AUTHORISER_ROLES)).distinct().order_by(User.name)))


# --- the register -------------------------------------------------------------------------------

# User-chosen sort keys map through this allow-list; anything else falls back to newest first.
# Time orders go by share_access, whose (organisation, time) index the scan walks and stops early.
SORTS = {
    "newest": (ShareAccess.created_at.desc(), ShareAccess.share_id.desc()),
    "oldest": (ShareAccess.created_at.asc(), ShareAccess.share_id.asc()),
    "category": (ShareRecord.category.asc(), ShareRecord.id.desc()),
}
REGISTER_PAGE = 50


@dataclass
class RegisterFilter:
    sender_org_id: int | None = None
    recipient_org_id: int | None = None
    legal_basis: str | None = None
    consent_position: ConsentPosition | None = None
    category: Category | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"

    def as_detail(self) -> dict:
        return {k: getattr(v, "value", v if not isinstance(v, date) else v.isoformat())
                for k, v in self.__dict__.items() if v not in (None, "")}


def _register_query(actor: User, f: RegisterFilter):
    """The register's rows the actor may see (`share_register_row`), walked through the
    organisation's share_access index. A filter on what the fact of a share does not show (its
    recipients, its consent position) keeps only the shares the actor sees whole, so that
    filtering cannot tell what the fact leaves out."""
    whole_only = bool(f.recipient_org_id or f.consent_position)
    query = (select(ShareRecord).join(ShareAccess, (ShareAccess.share_id == ShareRecord.id)
                                      & (ShareAccess.organisation_id == actor.organisation_id))
             .where(share_visible(actor) if whole_only else share_register_row(actor)))
    if f.sender_org_id:
        query = query.where(ShareRecord.sender_org_id == f.sender_org_id)
    if f.recipient_org_id:
        query = query.where(ShareRecord.id.in_(select(ShareRecipient.share_id).where(
            ShareRecipient.organisation_id == f.recipient_org_id)))
    if f.legal_basis:
        code = f.legal_basis
        query = query.where(or_(ShareRecord.article_6 == code, ShareRecord.article_9 == code,
                                ShareRecord.article_10 == code, ShareRecord.part_3 == code,
                                ShareRecord.gateway == code))
    if f.consent_position:
        query = query.where(ShareRecord.consent_position == f.consent_position)
    if f.category:
        query = query.where(ShareRecord.category == f.category)
    if f.date_from:
        query = query.where(ShareAccess.created_at >= datetime.combine(f.date_from, time.min, UTC))
    if f.date_to:
        query = query.where(ShareAccess.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min,
                                                                      UTC))
    return query.order_by(*SORTS.get(f.sort, SORTS["newest"]))


def register(actor: User, f: RegisterFilter, page: int = 1) -> tuple[list[ShareRecord | ShareFact], bool]:
    """One page of the register the actor may see, and whether there is more."""
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise Invalid({"date_to": "The end date must be the same as or after the start date"})
    page = max(1, page)
    rows = list(db.session().scalars(_register_query(actor, f).limit(REGISTER_PAGE + 1)
                                     .offset((page - 1) * REGISTER_PAGE)))
    shown = _as_register_rows(actor, rows[:REGISTER_PAGE])
    with unit_of_work():
        audit.record("read", actor=actor, object_type="share-register", children=_shown_children(shown),
                     detail={"filters": f.as_detail(), "shown": len(shown)})
    return shown, len(rows) > REGISTER_PAGE


REGISTER_HEADERS = ["Share", "Recorded (UTC)", "Shared", "Child id", "Child", "Sender organisation id",
                    "Category", "Summary", "Purpose", "Article 6", "Article 9", "Article 10", "Part 3", "Gateway",
                    "Consent position", "Authorised by (user id)", "Source", "Obtained how", "Obtained on",
                    "Evidence reference", "Grading", "Recipients", "Supersedes", "Origin", "MACE group"]
#: What a fact of a share says in the cells its share would fill with the child and the content.
FACT_ONLY = "MACE intelligence: seen only by the group's current members"


def register_xlsx(actor: User, f: RegisterFilter) -> bytes:
    """The filtered register as a spreadsheet, for the records of processing and for audits: the
    same rows as the page, each as the reader may see it."""
    rows = _as_register_rows(actor, list(db.session().scalars(
        _register_query(actor, f).options(selectinload(ShareRecord.recipients)))))
    named, local = children_named(actor, [r for r in rows if isinstance(r, ShareRecord)]), gateways()

    def basis(code: str | None) -> str | None:
        return legal_bases.describe(code, local) or None

    def bases(r) -> list:
        return [basis(r.article_6), basis(r.article_9), basis(r.article_10), basis(r.part_3), basis(r.gateway)]

    def row(s: ShareRecord) -> list:
        return [s.id, s.created_at, "yes" if s.shared else "decided not to share", s.child_id,
                _child_name(s, named), s.sender_org_id, s.category.value, s.summary, s.purpose, *bases(s),
                s.consent_position.label if s.consent_position else None, s.authorised_by_user_id,
                s.source_description, s.obtained_how.value, s.obtained_on, s.evidence_reference,
                "".join(x for x in (s.source_evaluation, s.intelligence_assessment, s.handling_code) if x) or None,
                ", ".join(f"{r.organisation_id}:{r.status.value}" for r in s.recipients), s.supersedes_id,
                s.origin_share_id, s.mace_group_id]

    def fact(s: ShareFact) -> list:
        return [s.id, s.created_at, "yes", None, FACT_ONLY, s.sender_org_id, s.category.value, FACT_ONLY, None,
                *bases(s), None, None, None, None, None, None, None, None, None, None, s.group_name]

    content = write_xlsx("Sharing register", REGISTER_HEADERS,
                         (fact(r) if isinstance(r, ShareFact) else row(r) for r in rows))
    with unit_of_work():
        audit.record("export", actor=actor, object_type="share-register", children=_shown_children(rows),
                     detail={"format": "xlsx", "rows": len(rows), "filters": f.as_detail()})
    return content


# --- local gateways -----------------------------------------------------------------------------

def local_gateways(include_retired: bool = False) -> list[LocalGateway]:
    query = select(LocalGateway).order_by(LocalGateway.label)
    if not include_retired:
        query = query.where(LocalGateway.active.is_(True))
    return list(db.session().scalars(query))


def london_today() -> date:
    """The day a share made now is made on, as the law counts it (England: London time)."""
    return utcnow().astimezone(LONDON).date()


def gateways(on: date | None = None) -> list[legal_bases.LegalBasis]:
    """The statutory gateways a share made on the day (today) may name, which every form offers:
    the national list, then the locality's own; a provision enacted but not in force on the day
    is not among them (legal_bases.COMMENCEMENT)."""
    return legal_bases.offered(legal_bases.GATEWAYS + [legal_bases.LegalBasis(g.code, g.label, g.explanation)
                                                       for g in local_gateways()], on or london_today())


def _require_hub_admin(actor: User, object_id: int | None = None) -> None:
    if not may_administer(actor):
        audit.record_refusal(actor, "local-gateway", object_id, action="update")
        raise Forbidden("Only a hub administrator can change the list of gateways")


def add_local_gateway(actor: User, code: str, label: str, explanation: str) -> LocalGateway:
    """An administrator adds a local gateway (a local protocol or a power the national list lacks)."""
    _require_hub_admin(actor)
    code, label, explanation = (code or "").strip().upper(), (label or "").strip(), (explanation or "").strip()
    errors: dict[str, str] = {}
    if not re.fullmatch(r"LOCAL-[A-Z0-9][A-Z0-9\-]{1,33}", code):
        errors["code"] = ("Enter a code starting LOCAL- followed by capital letters, digits or -, "
                          "like LOCAL-MACE-PROTOCOL")
    elif code in legal_bases.BY_CODE["gateway"] or db.session().scalar(
            select(LocalGateway.id).where(LocalGateway.code == code)):
        errors["code"] = "There is already a gateway with that code"
    if not label:
        errors["label"] = "Enter the gateway's name, as practitioners will see it"
    if not explanation:
        errors["explanation"] = "Explain in plain English when it allows sharing"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        gateway = LocalGateway(code=code, label=label[:200], explanation=explanation[:500], added_by_user_id=actor.id)
        s.add(gateway)
        s.flush()
        audit.record("create", actor=actor, object_type="local-gateway", object_id=gateway.id,
                     detail={"code": code})
    return gateway


def set_local_gateway_active(actor: User, gateway_id: int, active: bool) -> LocalGateway:
    """Retire (or bring back) a local gateway. Never deleted: earlier shares keep naming it."""
    _require_hub_admin(actor, gateway_id)
    with unit_of_work() as s:
        gateway = s.get(LocalGateway, gateway_id)
        if gateway is None:
            raise NotFound("gateway not found")
        gateway.active = active
        audit.record("update", actor=actor, object_type="local-gateway", object_id=gateway.id,
                     detail={"code": gateway.code, "active": active})
    return gateway
