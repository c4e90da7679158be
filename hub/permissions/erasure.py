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
- A request about a MACE person of concern (an adult): recorded and seen by the DPO of the
  person's group's host organisation or of an organisation that sits on the group (the agencies
  whose people see the person, as named members: hub.permissions.mace); not by another group's
  (a host's DPO is the hub's DPO for children, not for another group's persons of concern);
  decided, as for a child, by each agency's DPO for its own records (the group's host holds the
  group's records). The person is never named on these pages (their number only): a DPO is not a
  named member of the group, and the pages show counts, never content.
Anyone else: nothing (administrators, practitioners, the analyst).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, or_, select, true

from hub import db
from hub.models.auth import User
from hub.models.erasure import ErasureDecision
from hub.models.mace import MaceGroup, MaceMembership, MacePerson
from hub.models.retention import RetentionRecord, RetentionStatus
from hub.permissions.dpo import may_prepare_subject_access
from hub.permissions.roles import is_hub_dpo, may_keep_retention


def may_handle_erasure(user: User | None) -> bool:
    """The erasure pages at all: a DPO."""
    return may_keep_retention(user)


def may_record_erasure(user: User | None, child_id: int) -> bool:
    return may_keep_retention(user) and may_prepare_subject_access(user, child_id)


def _groups_of_organisation(organisation_id: int) -> Select:
    """The MACE groups an organisation hosts or sits on, as a SELECT of ids."""
    return select(MaceGroup.id).where(MaceGroup.host_organisation_id == organisation_id).union(
        select(MaceMembership.group_id).where(MaceMembership.organisation_id == organisation_id))


def may_record_person_erasure(user: User | None, person: MacePerson | None) -> bool:
    """A request about a MACE person of concern: the DPO of the group's host or of a member
    organisation (a group's persons are seen only through the group: hub.permissions.mace)."""
    if person is None or not may_keep_retention(user):
        return False
    return person.group_id in set(db.session().scalars(_groups_of_organisation(user.organisation_id)))


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
    # An agency that decided keeps sight of its decision after its records are erased.
    decided = exists().where(ErasureDecision.request_id == model.id,
                             ErasureDecision.organisation_id == user.organisation_id)
    # A request about a MACE person: the DPOs of the group's host and member organisations.
    group = model.mace_group_id.in_(_groups_of_organisation(user.organisation_id))
    if is_hub_dpo(user):  # every request about a child; a person's only through the group
        return or_(model.person_id.is_(None), own, decided, group)
    return or_(own, holds_records_about(user, model.child_id), decided, group)


def may_decide_for(user: User | None, owning_org_id: int) -> bool:
    """A decision about records owned by this organisation: its own DPO only."""
    return may_keep_retention(user) and user.organisation_id == owning_org_id
