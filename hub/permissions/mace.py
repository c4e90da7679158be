"""MACE: every route to a group's objects is current, named membership.

Groups, meetings, agenda items, intelligence, places, persons, links, actions and outcomes are
reached only by a current named member of their group: never through an organisation's place on
the group, a role (the MACE roles alone give nothing), a membership that has ended, or
administration. An administrator manages a group's membership (names and ends members) without
reading anything the group holds. An agency's own updates and outcome text are seen only by its
own representatives.
"""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.mace import (
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MaceOutcome,
    MacePerson,
)
from hub.models.sharing import ShareRecord
from hub.permissions.children import DENIED, Access, child_access, child_bases, is_object_id
from hub.permissions.membership import is_mace_chair, mace_membership, member_group_ids
from hub.permissions.roles import MACE_CHAIR_ROLES, may_administer


def may_manage_mace_membership(user: User | None, group_id: int) -> bool:
    """The group's chair or co-chair, and hub administrators (membership only, never content)."""
    return may_administer(user) or is_mace_chair(user, group_id)


def _group_of(obj) -> int | None:
    """The MACE group an object belongs to."""
    if isinstance(obj, MaceGroup):
        return obj.id
    if isinstance(obj, ShareRecord):
        return obj.mace_group_id
    if isinstance(obj, (MaceAgendaItem, MaceOutcome)):
        return db.session().scalar(select(MaceMeeting.group_id).where(MaceMeeting.id == obj.meeting_id))
    return getattr(obj, "group_id", None)


MACE_OBJECT_TYPES = {
    MaceGroup: "mace-group", MaceMeeting: "mace-meeting", MaceLocation: "mace-location", MacePerson: "mace-person",
    MaceAction: "mace-action", MaceAgendaItem: "mace-agenda-item", MaceOutcome: "mace-outcome",
    MaceLink: "mace-link", ShareRecord: "mace-intelligence",
}


def mace_object_visible(user: User, model):
    """The clause "a current named member of the object's group": every MACE list's filter."""
    groups = member_group_ids(user)
    if model is MaceGroup:
        return MaceGroup.id.in_(groups)
    if model is ShareRecord:
        return ShareRecord.mace_group_id.in_(groups)
    if model in (MaceAgendaItem, MaceOutcome):
        return model.meeting_id.in_(select(MaceMeeting.id).where(MaceMeeting.group_id.in_(groups)))
    return model.group_id.in_(groups)


def load_mace_object(user: User, model, object_id, *, action: str = "read", chair: bool = False,
                     manage_membership: bool = False):
    """The one load-or-refuse helper of MACE: the object and the user's current membership of its
    group, or (not found, not a MACE object, not a current member, or not the chair when `chair`)
    the refusal audited in its own transaction and a 404, the same for all of these.
    `manage_membership`: the group's membership pages, which an administrator may use too."""
    obj = db.session().get(model, object_id) if is_object_id(object_id) else None
    if isinstance(obj, ShareRecord) and obj.mace_group_id is None:
        obj = None  # a share that is not MACE intelligence is no MACE object
    group_id = _group_of(obj) if obj is not None else None
    member = mace_membership(user, group_id)
    allowed = member is not None and (not (chair or manage_membership) or member.role in MACE_CHAIR_ROLES)
    if manage_membership and not allowed and isinstance(obj, MaceGroup) and may_administer(user):
        allowed = True  # administrators manage any group's membership, as members or not
    if not allowed:
        child_id = getattr(obj, "child_id", None) if obj is not None else None
        audit.record_refusal(user, MACE_OBJECT_TYPES.get(model, "mace"), object_id, child_id, action=action)
        raise NotFound("MACE record not found")
    return obj, member


def may_record_mace_outcome(member: MaceMember | None, organisation_id: int) -> bool:
    """Only a current named member representing the agency records (and confirms) its outcome."""
    return member is not None and member.organisation_id == organisation_id


def mace_agency_sees(member: MaceMember | None, organisation_id: int) -> bool:
    """An agency's own updates and outcomes are seen by its own representatives (exports, outcome
    text): other agencies see only whether an outcome was confirmed."""
    return member is not None and member.organisation_id == organisation_id


def is_chairing(member: MaceMember | None) -> bool:
    """The membership is a chair's or co-chair's."""
    return member is not None and member.role in MACE_CHAIR_ROLES


def mace_group_holds_child(group_id: int, child_id: int | None) -> bool:
    """The group holds the child (brought onto an agenda and not removed)."""
    return child_id is not None and bool(db.session().scalar(select(MaceAgendaChild.id).where(
        MaceAgendaChild.group_id == group_id, MaceAgendaChild.child_id == child_id,
        MaceAgendaChild.removed_at.is_(None)).limit(1)))


def mace_child_access(user: User, group_id: int, child_id: int) -> Access:
    """A current member may name a child in the group's subjects (links, intelligence, network)
    when the group holds the child, or the member may see the child anyway."""
    if mace_membership(user, group_id) is None:
        return DENIED
    return Access(True, "mace-member") if mace_group_holds_child(group_id, child_id) else child_access(user, child_id)


def mace_intelligence_access(user: User, group_id: int, child_id: int | None) -> Access:
    """Sharing intelligence into a MACE group: current named membership (not a role), and for an
    item about one child, that child reachable through the group (mace_child_access)."""
    if child_id is None:
        return Access(True, "mace-member") if mace_membership(user, group_id) is not None else DENIED
    return mace_child_access(user, group_id, child_id)


def mace_intelligence_recipients_ok(group_id: int, organisation_ids: list[int]) -> bool:
    """MACE intelligence goes only to the group's member organisations."""
    members = set(db.session().scalars(select(MaceMembership.organisation_id).where(
        MaceMembership.group_id == group_id)))
    return set(organisation_ids) <= members


def mace_agenda_child_access(user: User, group_id: int, child_id: int) -> Access:
    """May the chair bring the child onto the group's agenda: as mace_child_access, for the chair."""
    return mace_child_access(user, group_id, child_id) if is_mace_chair(user, group_id) else DENIED


def mace_proposable_child_ids(user: User, group_id: int, child_ids: list[int]) -> set[int]:
    """Of these children, those the group's agenda proposals may name to this chair: the children
    the group holds, and those the chair may see anyway. The same rule as bringing a child onto the
    agenda by hand (`mace_agenda_child_access`), for many children in two queries: a child of the
    group's area whom only another agency knows is not offered (a proposal names the child)."""
    if not child_ids or not is_mace_chair(user, group_id):
        return set()
    held = set(db.session().scalars(select(MaceAgendaChild.child_id).where(
        MaceAgendaChild.group_id == group_id, MaceAgendaChild.child_id.in_(child_ids),
        MaceAgendaChild.removed_at.is_(None))))
    return held | set(child_bases(user, [c for c in child_ids if c not in held]))

