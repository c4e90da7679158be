"""Who sees and answers an erasure request (UK GDPR Art 17), and who decides for which records.

- Recording a request about a child: a DPO, for a child their organisation holds (the subject
  access scope: hub.permissions.dpo); the hub's DPO for any child.
- Seeing a request (what each agency holds about the child, by class and count, never content;
  the decisions made): the DPO of the organisation that received it, the DPO of every
  organisation that holds records about the child (each decides for its own) or has decided on
  it (its records since erased), and the hub's DPO.
- Deciding: each agency's DPO, for its own records only (each agency is their controller, as for
  their review: hub.permissions.retention); the hub's DPO for the host's.
- Sending the reply: the DPO of the organisation that received the request.
- The child's name on these pages: only to a DPO who may prepare the child's subject access pack;
  others see the hub reference.
Anyone else: nothing (administrators, practitioners, the analyst).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, true

from hub.models.auth import User
from hub.models.erasure import ErasureDecision
from hub.models.retention import RetentionRecord, RetentionStatus
from hub.permissions.dpo import may_prepare_subject_access
from hub.permissions.roles import is_hub_dpo, may_keep_retention


def may_handle_erasure(user: User | None) -> bool:
    """The erasure pages at all: a DPO."""
    return may_keep_retention(user)


def may_record_erasure(user: User | None, child_id: int) -> bool:
    return may_keep_retention(user) and may_prepare_subject_access(user, child_id)


def erasure_child_named(user: User | None, child_id: int) -> bool:
    """Whether the erasure pages name the child to this DPO (else the hub reference only)."""
    return may_prepare_subject_access(user, child_id)


def holds_records_about(user: User, child_column) -> ColumnElement[bool]:
    """The user's organisation holds records (not destroyed) about the child."""
    return exists().where(RetentionRecord.child_id == child_column,
                          RetentionRecord.owning_org_id == user.organisation_id,
                          RetentionRecord.status != RetentionStatus.destroyed)


def erasure_request_visible(user: User | None, model, action: str = "read") -> ColumnElement[bool]:
    """The requests a DPO sees (CHANGE: those they answer: their own organisation's)."""
    if not may_keep_retention(user):
        return ~true()
    own = model.organisation_id == user.organisation_id
    if action != "read":
        return own
    if is_hub_dpo(user):
        return true()
    # An agency that decided keeps sight of its decision after its records are erased.
    decided = exists().where(ErasureDecision.request_id == model.id,
                             ErasureDecision.organisation_id == user.organisation_id)
    return or_(own, holds_records_about(user, model.child_id), decided)


def may_decide_for(user: User | None, owning_org_id: int) -> bool:
    """A decision about records owned by this organisation: its own DPO only."""
    return may_keep_retention(user) and user.organisation_id == owning_org_id
