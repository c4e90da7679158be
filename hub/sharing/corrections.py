"""After a share: its correction (a new share superseding it) and onward sharing by a recipient
(a new share pointing to its origin), both made through hub.sharing.service.create_share."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.models.auth import User
from hub.models.sharing import ShareRecord
from hub.sharing.reading import _sent_by, get_share, visible_to
from hub.sharing.service import ShareDraft, _legal_basis_text, create_share

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
