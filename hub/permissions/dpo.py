"""May this data protection officer see this audit event, this flag, this subject access pack?

| who                   | events                                                                  |
|-----------------------|-------------------------------------------------------------------------|
| the hub's DPO         | every event and every flag                                              |
| an organisation's DPO | what their organisation's users did; what was done to the records of the children their organisation holds (listings that showed such a child included); flags raised on their organisation's users |

Nobody else searches the log: administrators see the integrity panel only (no event's content).

A subject access pack about a child: the hub's DPO for any child; an organisation's DPO for a
child their organisation holds (not through break glass or an administrator's grant), with the
episodes of their force or naming their authority, and the profile their organisation keeps.
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select, true

from hub import db
from hub.audit.models import AuditEvent, AuditEventChild, AuditFlag
from hub.auth.models import User, UserRole
from hub.missing.models import MissingEpisode, PhilomenaProfile
from hub.people.models import Child
from hub.permissions.children import child_access, organisation_child_ids
from hub.permissions.roles import DPO_ROLES, is_dpo, is_hub_dpo
from hub.permissions.shares import share_visible


def audit_event_scope(user: User):
    """The three routes into an organisation's DPO's scope, as one condition (None: the hub's
    DPO, everything): their users did it, it concerns a child their organisation holds, or it is
    a listing that showed such a child.

    Shaped for a newest-first walk of the log's primary key that stops at a page: the first two
    are hashed look-ups, and the listing index is probed only for listing events (no child of
    their own, "children" in the detail), never gathered whole. Reading each route apart and
    merging made PostgreSQL gather and sort every event about the held children (84,792 rows
    for a school, 587,109 listing rows for an authority, at 10M events). The cost now follows how
    thinly the scope is spread through the log, not its size."""
    if is_hub_dpo(user):
        return None
    held = organisation_child_ids(user.organisation_id)
    listed = exists().where(AuditEventChild.event_id == AuditEvent.id, AuditEventChild.child_id.in_(held))
    return or_(AuditEvent.actor_org_id == user.organisation_id, AuditEvent.child_id.in_(held),
               and_(AuditEvent.child_id.is_(None), AuditEvent.detail.like('%"children"%'), listed))


def audit_person_scope(user: User):
    """The people a DPO finds by name to review what they did (None: the hub's DPO, everyone): an
    organisation's DPO, their own organisation's users, the staff whose acts they review."""
    return None if is_hub_dpo(user) else User.organisation_id == user.organisation_id


def may_review_child_audit(user: User | None, child_id: int) -> bool:
    """"Who has seen this record" from a child's page: the hub's DPO for any child; an
    organisation's DPO for a child their organisation holds (the children audit_event_scope
    covers), never through emergency access or an administrator's grant. Nobody else."""
    if is_hub_dpo(user):
        return True
    return may_prepare_subject_access(user, child_id)


def audit_flag_scope(user: User):
    """Flags in the DPO's scope (None: the hub's DPO, every flag)."""
    return None if is_hub_dpo(user) else AuditFlag.actor_org_id == user.organisation_id


def may_read_emergency_reasons(user: User | None, of_user: User) -> bool:
    """The typed reasons of someone's emergency (break-glass) access, kept on the grants and off
    the log: the DPOs whose flags name them (audit_flag_scope), the hub's for anyone, an
    organisation's for its own staff."""
    return is_hub_dpo(user) or (is_dpo(user) and user.organisation_id == of_user.organisation_id)


#: Ways to a child that do not mean the DPO's organisation holds them: emergency access and the
#: administrator's grant give no subject-access scope.
NOT_DPO_SCOPE = frozenset({"break-glass", "role:hub-admin"})


def may_prepare_subject_access(user: User | None, child_id: int) -> bool:
    """A DPO, and for an organisation's DPO only a child their organisation holds."""
    if not is_dpo(user):
        return False
    access = child_access(user, child_id)
    return bool(access) and access.basis not in NOT_DPO_SCOPE


def subject_access_episodes(user: User):
    """The child's episodes a pack holds: all for the hub's DPO; for an organisation's DPO those of
    its force, or naming it as home or receiving authority."""
    if is_hub_dpo(user):
        return true()
    org = user.organisation_id
    return ((MissingEpisode.police_org_id == org) | (MissingEpisode.home_authority_id == org)
            | (MissingEpisode.receiving_authority_id == org))


def subject_access_profile(user: User):
    """The Philomena profile a pack holds: any for the hub's DPO; otherwise one their organisation
    keeps (the child's placing or home authority: the keepers of hub.permissions.episodes)."""
    if is_hub_dpo(user):
        return true()
    org = user.organisation_id
    return PhilomenaProfile.child_id.in_(select(Child.id).where(
        (Child.placing_authority_id == org) | (Child.responsible_authority_id == org)))


def subject_access_shares(user: User):
    """The shares a pack holds: every share about the child for the hub's DPO (MACE intelligence
    included, for audit); those the DPO's organisation holds otherwise (hub.permissions.shares)."""
    return true() if is_hub_dpo(user) else share_visible(user)


def hub_dpos() -> list[User]:
    """The hub's DPOs, active: who is told (by e-mail, no personal data) of the audit log's alarms."""
    candidates = db.session().scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                      .where(UserRole.role.in_(DPO_ROLES)).distinct())
    return [user for user in candidates if is_hub_dpo(user)]
