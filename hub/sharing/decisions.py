"""Decisions not to share: written down with their reasons, as the guidance asks for decisions
either way; the would-be recipients never see them."""

from __future__ import annotations

from datetime import date

from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.models.auth import User
from hub.models.sharing import ShareRecipient, ShareRecord
from hub.permissions import child_access, may_share, refuse
from hub.retention import scheduling as retention
from hub.sharing.service import ShareDraft, _check_recipients, _grant_access


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
