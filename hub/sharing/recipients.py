"""A share's recipients: a recipient accepts or declines it, and its sender revokes an
organisation's access."""

from __future__ import annotations

from sqlalchemy import delete

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import User
from hub.models.sharing import RecipientStatus, ShareAccess
from hub.sharing.reading import _sent_by, get_share


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
