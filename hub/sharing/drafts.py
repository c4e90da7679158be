"""Draft shares: the question pages' answers, kept server-side until the user confirms.

A draft is not a share. It is keyed by its author and a random id (its address), its answers are
encrypted at rest, and only its author opens it (hub.permissions.load_share_draft). Confirming it
records the share through the register's one write path (service.create_share) and deletes the
draft in the same transaction; abandoning it deletes it. Saving and deleting are audited without
the answers (the log holds no personal content).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from sqlalchemy import delete

from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.sharing import ShareDraftRecord, ShareRecord
from hub.permissions import child_access, load_share_draft, may_share, refuse
from hub.sharing import service

#: A draft nobody has touched for this long is deleted when its author starts another.
FORGOTTEN_AFTER = timedelta(days=14)


def open_draft(actor: User, child_id: int, draft_id: str | None) -> ShareDraftRecord | None:
    """The actor's draft about the child (None when the journey has not started: no answers yet)."""
    return load_share_draft(actor, draft_id, child_id) if draft_id is not None else None


def answers(draft: ShareDraftRecord | None) -> dict[str, list[str]]:
    return json.loads(draft.answers) if draft is not None else {}


def _may_share(actor: User, child_id: int) -> None:
    """A draft is of a share its author may make: a sharing role, and a way to the child."""
    if not may_share(actor) or not child_access(actor, child_id):
        refuse(actor, "share-draft", None, child_id, action="share")


def save(actor: User, child_id: int, draft: ShareDraftRecord | None, page: dict[str, list[str]]) -> str:
    """Keep one page's answers (a new draft for the first page sent); answers the draft's id."""
    _may_share(actor, child_id)
    with unit_of_work() as s:
        if draft is None:
            s.execute(delete(ShareDraftRecord).where(ShareDraftRecord.user_id == actor.id,
                                                     ShareDraftRecord.updated_at < utcnow() - FORGOTTEN_AFTER))
            draft = ShareDraftRecord(id=secrets.token_hex(16), user_id=actor.id, child_id=child_id, answers="{}")
            s.add(draft)
        draft.answers = json.dumps(answers(draft) | page)
        draft.updated_at = utcnow()
        audit.record("draft", actor=actor, object_type="share-draft", child_id=child_id,
                     detail={"fields": sorted(page)})
    return draft.id


def confirm(actor: User, draft: ShareDraftRecord, share: service.ShareDraft) -> ShareRecord:
    """Record the share the draft describes and delete the draft, in one transaction: refused (and
    the draft kept, to be put right) when any of the register's rules fails."""
    _may_share(actor, draft.child_id)
    with unit_of_work() as s:
        gone = s.execute(delete(ShareDraftRecord).where(ShareDraftRecord.id == draft.id,
                                                        ShareDraftRecord.user_id == actor.id)).rowcount
        if not gone:  # confirmed a moment ago (a second click): one share, not two
            raise NotFound("draft not found")
        return service.create_share(actor, share)


def abandon(actor: User, draft: ShareDraftRecord) -> None:
    with unit_of_work() as s:
        s.delete(draft)
        audit.record("delete", actor=actor, object_type="share-draft", child_id=draft.child_id)
