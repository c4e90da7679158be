"""May this data protection officer see this audit event, this flag, this subject access pack?

| who                   | events                                                                  |
|-----------------------|-------------------------------------------------------------------------|
| the hub's DPO         | every event and every flag                                              |
| an organisation's DPO | what their organisation's users did; what was done about the children their organisation held at the time (listings that showed such a child included); flags raised on their organisation's users |

Nobody else searches the log: administrators see the integrity panel only (no event's content).

A subject access pack about a child: the hub's DPO for any child; an organisation's DPO for a
child their organisation holds (not through break glass or an administrator's grant), with the
episodes of their force or naming their authority, and the profile their organisation keeps.
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, true

from hub import db
from hub.audit import service as audit
from hub.models.audit import AuditEvent, AuditEventChild, AuditEventOrganisation, AuditFlag
from hub.models.auth import User, UserRole
from hub.models.missing import MissingEpisode, PhilomenaProfile
from hub.models.people import Child
from hub.permissions.children import child_access, organisation_child_ids, organisations_holding
from hub.permissions.roles import DPO_ROLES, is_dpo, is_hub_dpo
from hub.permissions.shares import share_visible

#: Children whose holders are read in one statement while indexing events (well under SQLite's
#: limit on bound parameters).
HOLDERS_CHUNK = 1000


def event_organisations(connection, events: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """The organisations whose DPO sees each of these events, as `audit_event_organisation` rows:
    the actor's organisation, and every organisation that holds the event's child, or a child the
    event names as shown (a listing), as the relationships stand now. The integrator asks it when
    it sequences the events, a second or so after they happened: so the DPO of a school keeps the
    events of a child's time there after the child leaves, and sees none from before the child
    came. `events`: mappings of id, actor_org_id, child_id and detail (the column's JSON text)."""
    children = {event["id"]: _children_of(event) for event in events}
    wanted = sorted({child for found in children.values() for child in found})
    holders: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(wanted), HOLDERS_CHUNK):
        for child_id, organisation_id in connection.execute(
                organisations_holding(wanted[start:start + HOLDERS_CHUNK])):
            holders[child_id].add(organisation_id)
    rows = []
    for event in events:
        organisations = {event["actor_org_id"]} - {None}
        for child in children[event["id"]]:
            organisations |= holders[child]
        rows += [{"organisation_id": org, "event_id": event["id"]} for org in sorted(organisations)]
    return rows


def _children_of(event: Mapping[str, Any]) -> list[int]:
    """The event's child and the children its detail names as shown (most events name none)."""
    detail = event["detail"]
    listed = audit.listed_children(json.loads(detail)) if detail and '"children"' in detail else []
    return ([event["child_id"]] if event["child_id"] else []) + listed


@dataclass(frozen=True)
class EventScope:
    """An organisation DPO's part of the log: the sequenced events `audit_event_organisation`
    names for their organisation (written by `event_organisations`), and the events still waiting
    to be sequenced (seconds old) by the same rule applied now."""

    organisation_id: int

    def indexed(self):
        """The index rows of the organisation: join them to the log by event id (newest first, a
        walk of the index's primary key that stops at a page, however large the log)."""
        return AuditEventOrganisation.organisation_id == self.organisation_id

    def sees(self, connection, events: Sequence[AuditEvent]) -> set[int]:
        """Which of these entries, waiting to be sequenced, the organisation's DPO sees: the ids
        `event_organisations` gives the organisation now (a page's few waiting entries)."""
        rows = event_organisations(connection, [{"id": e.id, "actor_org_id": e.actor_org_id, "child_id": e.child_id,
                                                 "detail": e.detail} for e in events])
        return {row["event_id"] for row in rows if row["organisation_id"] == self.organisation_id}

    def pending(self):
        """The rule of `event_organisations` as one condition on entries not yet sequenced, for an
        export's whole scope: their users did it, it concerns a child their organisation holds, or
        it showed such a child."""
        held = organisation_child_ids(self.organisation_id)
        listed = exists().where(AuditEventChild.event_id == AuditEvent.id, AuditEventChild.child_id.in_(held))
        return and_(AuditEvent.seq.is_(None), or_(
            AuditEvent.actor_org_id == self.organisation_id, AuditEvent.child_id.in_(held), listed))

    def clause(self):
        """Both, as one condition on the log (an export: every event in scope, not a page)."""
        indexed = select(AuditEventOrganisation.event_id).where(self.indexed())
        return or_(AuditEvent.id.in_(indexed), self.pending())


def audit_event_scope(user: User) -> EventScope | None:
    """An organisation DPO's scope in the log (None: the hub's DPO, everything): what their
    organisation's users did, and what was done about the children their organisation held when
    it was done (listings that showed such a child included)."""
    return None if is_hub_dpo(user) else EventScope(user.organisation_id)


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
