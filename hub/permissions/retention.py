"""Who keeps an agency's retention schedule, reviews its records and holds them.

- An organisation's DPO: its own schedule; the review queue of the records it owns (keep, approve
  destruction); legal holds on its own records, and a hold on one child only for a child it holds.
- The hub's DPO: the same, for the records the hub's host organisation owns (MACE intelligence of
  the groups it hosts, its own shares); never another agency's: each agency is the controller of
  its records and decides their destruction.
- Anyone else: nothing. Administrators, practitioners and the analyst see no queue and no hold.

The queue names no child and shows no content: a DPO who wants to read a record opens it through
its own page, under that page's rule and audit.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from hub.models.auth import User
from hub.models.retention import RetentionRecord
from hub.permissions.dpo import may_prepare_subject_access
from hub.permissions.roles import is_hub_dpo, may_keep_retention


def retention_record_visible(user: User | None, model, _action: str = "read") -> ColumnElement[bool]:
    """The records under retention a DPO reviews: those their organisation owns."""
    if not may_keep_retention(user):
        return ~true()
    return model.owning_org_id == user.organisation_id


def legal_hold_visible(user: User | None, model, _action: str = "read") -> ColumnElement[bool]:
    """The legal holds a DPO sees, sets and lifts: their organisation's."""
    if not may_keep_retention(user):
        return ~true()
    return model.organisation_id == user.organisation_id


def may_hold_child(user: User | None, child_id: int) -> bool:
    """A hold on one child's records: for a child the DPO's organisation holds (the subject
    access scope: not through emergency access or an administrator's grant)."""
    return may_keep_retention(user) and may_prepare_subject_access(user, child_id)


def subject_access_retention(user: User) -> ColumnElement[bool]:
    """The destroyed records a subject access pack lists (what, when, under which rule): all for
    the hub's DPO, the organisation's own for an organisation's DPO (its pack's scope)."""
    if is_hub_dpo(user):
        return true()
    return RetentionRecord.owning_org_id == user.organisation_id
