"""Recording consent (or its refusal) and its withdrawal. Withdrawing consent blocks new shares
that would rely on it (hub.sharing.service checks) and flags earlier ones for review."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import User
from hub.models.consent import ConsentRecipient, ConsentRecord, GivenBy
from hub.models.sharing import Category, ShareRecord
from hub.permissions import CHANGE, child_access, load_or_refuse, may_share, refuse, visible_clause
from hub.retention import scheduling as retention


@dataclass
class ConsentDetails:
    child_id: int
    given_by: GivenBy
    giver_description: str
    given: bool
    purposes: list[Category]
    recipient_org_ids: list[int]
    obtained_on: date
    valid_until: date | None = None
    child_competent: bool | None = None
    competence_note: str | None = None
    extra: dict = field(default_factory=dict)


def record_consent(actor: User, details: ConsentDetails) -> ConsentRecord:
    access = child_access(actor, details.child_id)
    if not access or not may_share(actor):
        refuse(actor, "child", details.child_id, details.child_id, action="create")
    errors: dict[str, str] = {}
    if not details.giver_description.strip():
        errors["giver_description"] = "Say who gave or refused consent, by their relationship to the child"
    if details.given_by == GivenBy.child and details.child_competent is None:
        errors["child_competent"] = "Record your judgement of whether the child is competent to decide"
    if not details.purposes:
        errors["purposes"] = "Choose what the consent is for"
    if not details.recipient_org_ids:
        errors["recipient_org_ids"] = "Choose who the consent covers"
    if details.obtained_on > date.today():
        errors["obtained_on"] = "The date must be today or in the past"
    if details.valid_until and details.valid_until < details.obtained_on:
        errors["valid_until"] = "The end date must be after the date consent was obtained"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        consent = ConsentRecord(
            child_id=details.child_id, given_by=details.given_by, giver_description=details.giver_description.strip(),
            child_competent=details.child_competent, competence_note=details.competence_note, given=details.given,
            purposes=",".join(p.value for p in details.purposes), obtained_on=details.obtained_on,
            valid_until=details.valid_until, recorded_by_user_id=actor.id, recorded_by_org_id=actor.organisation_id,
            recipients=[ConsentRecipient(organisation_id=o) for o in dict.fromkeys(details.recipient_org_ids)])
        s.add(consent)
        s.flush()
        retention.schedule_consent(consent)
        audit.record("create", actor=actor, object_type="consent", object_id=consent.id, child_id=details.child_id,
                     basis=access.basis, detail={"given": details.given})
    return consent


def withdraw(actor: User, consent_id: int, reason: str) -> int:
    """Withdraw consent; returns how many earlier shares were flagged for review."""
    s = db.session()
    consent = load_or_refuse(actor, ConsentRecord, consent_id, action=CHANGE)
    if consent.withdrawn_at is not None:
        raise Invalid({"reason": "This consent has already been withdrawn"})
    if not (reason or "").strip():
        raise Invalid({"reason": "Record how and why consent was withdrawn"})
    with unit_of_work():
        consent.withdrawn_at, consent.withdrawn_reason = utcnow(), reason.strip()
        flagged = s.execute(update(ShareRecord).where(ShareRecord.consent_record_id == consent_id,
                                                      ShareRecord.review_flagged_at.is_(None))
                            .values(review_flagged_at=utcnow())).rowcount
        audit.record("update", actor=actor, object_type="consent", object_id=consent_id, child_id=consent.child_id,
                     detail={"change": "withdrawn", "shares_flagged": flagged})
    return flagged


def consents_for(actor: User, child_id: int) -> list[ConsentRecord]:
    """The child's consent records, for a practitioner who may see the child (the caller has
    already read the child, which is audited)."""
    if not child_access(actor, child_id):
        return []
    # The lists that show consents name no recipients: load them only if something asks.
    return list(db.session().scalars(select(ConsentRecord).where(ConsentRecord.child_id == child_id,
                                                                 visible_clause(actor, ConsentRecord))
                                     .order_by(ConsentRecord.id.desc()).options(lazyload(ConsentRecord.recipients))))


def child_of(consent_id: int) -> int | None:
    consent = db.session().get(ConsentRecord, consent_id)
    return consent.child_id if consent else None
