"""MACE groups and their named membership: the only code that changes them.

Membership, not a role, is what lets anyone see a group (hub.permissions.load_mace_object): a
health practitioner, a DSL, a police officer or a social worker can each be a named member, from
a start date until an end date, and loses access on the end date. The group's chair (or co-chair)
and hub administrators manage membership; every change and every read is audited in the same
transaction. The rest of the package (meetings, subjects, intelligence, actions, outcomes) builds
on `group_for` and the text checks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import raiseload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.models.auth import Organisation, User
from hub.models.mace import (
    MaceAgendaItem,
    MaceGroup,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MacePerson,
    MemberRole,
    SubjectKind,
)
from hub.models.people import Child
from hub.permissions import load_mace_object, member_group_ids

#: The longest free text a MACE form takes (minutes, updates, descriptions): long enough for real
#: minutes, short enough that a pasted file is refused with a clear error instead of stored.
TEXT_MAX = 10_000
SHORT_MAX = 200


def check_text(errors: dict[str, str], field: str, value: str | None, label: str, *, required: bool = True,
               limit: int = TEXT_MAX) -> str | None:
    """Strip `value` and record a clear error when it is missing or too long; the cleaned text."""
    text = (value or "").strip()
    if required and not text:
        errors[field] = f"Enter {label}"
    elif len(text) > limit:
        errors[field] = f"{label[0].upper()}{label[1:]} must be {limit:,} characters or fewer (it is {len(text):,})"
    return text or None


# --- reading ----------------------------------------------------------------------------------------

@dataclass
class GroupSummary:
    group: MaceGroup
    membership: MaceMember
    next_meeting: MaceMeeting | None


def my_groups(actor: User) -> list[GroupSummary]:
    """The groups the actor is a current named member of, with their next meeting (one query
    each for groups, memberships and meetings, whatever the number of groups)."""
    s = db.session()
    groups = list(s.scalars(select(MaceGroup).where(MaceGroup.id.in_(member_group_ids(actor)))
                            .order_by(MaceGroup.name)))
    ids = [g.id for g in groups]
    memberships = {m.group_id: m for m in s.scalars(select(MaceMember).where(
        MaceMember.user_id == actor.id, MaceMember.group_id.in_(ids)).order_by(MaceMember.id))
        if m.current_on(date.today())}
    upcoming: dict[int, MaceMeeting] = {}
    for meeting in s.scalars(select(MaceMeeting).where(
            MaceMeeting.group_id.in_(ids), MaceMeeting.held_at.is_(None)).order_by(MaceMeeting.scheduled_for)):
        upcoming.setdefault(meeting.group_id, meeting)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-groups", detail={"groups": ids})
    return [GroupSummary(g, memberships[g.id], upcoming.get(g.id)) for g in groups if g.id in memberships]


def group_for(actor: User, group_id: int, *, chair: bool = False, action: str = "read",
              manage_membership: bool = False) -> tuple[MaceGroup, MaceMember | None]:
    """The group and the actor's current membership of it, or an audited 404. `manage_membership`:
    the membership pages, which an administrator who is not a member may use too (and nothing else)."""
    return load_mace_object(actor, MaceGroup, group_id, chair=chair, action=action,
                            manage_membership=manage_membership)


@dataclass
class GroupPage:
    group: MaceGroup
    membership: MaceMember | None
    members: list[MaceMember]
    meetings: list[MaceMeeting]


def group_page(actor: User, group_id: int) -> GroupPage:
    """A group's page: its members (current and former) and its meetings, newest first."""
    group, member = group_for(actor, group_id)
    s = db.session()
    members = list(s.scalars(select(MaceMember).where(MaceMember.group_id == group.id)
                             .order_by(MaceMember.end_date.is_not(None), MaceMember.role, MaceMember.id)))
    meetings = list(s.scalars(select(MaceMeeting).where(MaceMeeting.group_id == group.id)
                              .order_by(MaceMeeting.scheduled_for.desc()).limit(24)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-group", object_id=group.id, basis="mace-member")
    return GroupPage(group, member, members, meetings)


def member_organisations(group_id: int) -> list[Organisation]:
    """The agencies that sit on the group (the recipients of its intelligence)."""
    return list(db.session().scalars(select(Organisation).join(MaceMembership, MaceMembership.organisation_id ==
                                                               Organisation.id)
                                     .where(MaceMembership.group_id == group_id).order_by(Organisation.name)))


def current_members(group_id: int, day: date | None = None) -> list[MaceMember]:
    day = day or date.today()
    return [m for m in db.session().scalars(select(MaceMember).where(MaceMember.group_id == group_id)
                                            .order_by(MaceMember.id)) if m.current_on(day)]


# --- membership ---------------------------------------------------------------------------------------

@dataclass
class MemberDetails:
    user_id: int | None
    role: MemberRole
    start_date: date | None


def add_member(actor: User, group_id: int, details: MemberDetails) -> MaceMember:
    """The chair or an administrator names a person on the group; their agency joins the group's
    member organisations if it was not there yet."""
    group, _ = group_for(actor, group_id, manage_membership=True, action="update")
    errors: dict[str, str] = {}
    user = db.session().get(User, details.user_id) if details.user_id else None
    if user is None or not user.active:
        errors["user_id"] = "Choose a person who has an active account on the hub"
    if details.start_date is None:
        errors["start_date"] = "Enter the date their membership starts"
    if not errors and any(m.user_id == user.id for m in current_members(group.id, details.start_date)):
        errors["user_id"] = "That person is already a member of this group"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        member = MaceMember(group_id=group.id, user_id=user.id, organisation_id=user.organisation_id,
                            role=details.role, start_date=details.start_date, added_by_user_id=actor.id)
        s.add(member)
        if not s.scalar(select(MaceMembership.id).where(MaceMembership.group_id == group.id,
                                                        MaceMembership.organisation_id == user.organisation_id)):
            s.add(MaceMembership(group_id=group.id, organisation_id=user.organisation_id))
        s.flush()
        audit.record("create", actor=actor, object_type="mace-member", object_id=member.id,
                     detail={"group": group.id, "user": user.id, "role": details.role.value,
                             "start": details.start_date.isoformat()})
    return member


def end_membership(actor: User, member_id: int, end_date: date | None) -> MaceMember:
    """End a named membership: from `end_date` on the person sees nothing of the group (what they
    read before stays in the audit log)."""
    member = db.session().get(MaceMember, member_id)
    group_id = member.group_id if member is not None else -1
    group_for(actor, group_id, manage_membership=True, action="update")
    if end_date is None:
        raise Invalid({"end_date": "Enter the date the membership ends"})
    if member.end_date is not None:
        raise Invalid({"end_date": "That membership has already ended"})
    if end_date < member.start_date:
        raise Invalid({"end_date": "The end date must be on or after the date the membership started"})
    with unit_of_work():
        member.end_date = end_date
        audit.record("update", actor=actor, object_type="mace-member", object_id=member.id,
                     detail={"group": member.group_id, "user": member.user_id, "end": end_date.isoformat()})
    return member


def candidates(actor: User, group_id: int) -> list[User]:
    """People who could be named on the group: active users of any organisation (a chair adds the
    agency's representative; the agency joins with them)."""
    group, _ = group_for(actor, group_id, manage_membership=True)
    users = list(db.session().scalars(select(User).where(User.active.is_(True)).order_by(User.name)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-member-candidates", object_id=group.id)
    return users


def subject_names(items: list[MaceAgendaItem]) -> dict[int, str]:
    """Each agenda item's subject by name (the child's, the place's or the person's), by item id,
    in at most one statement per kind. Every current member of the group reads the agenda's
    names on the meeting page; any form offering the items names them the same way."""
    s = db.session()
    ids: dict[SubjectKind, set[int]] = {kind: set() for kind in SubjectKind}
    for item in items:
        ids[item.subject_kind].add(item.subject_id)
    names: dict[tuple[SubjectKind, int], str] = {}
    for kind, model in ((SubjectKind.child, Child), (SubjectKind.location, MaceLocation),
                        (SubjectKind.person, MacePerson)):
        if ids[kind]:
            for row in s.scalars(select(model).where(model.id.in_(ids[kind])).options(raiseload("*"))):
                names[(kind, row.id)] = row.full_name if kind is SubjectKind.child else row.name
    return {i.id: names.get((i.subject_kind, i.subject_id), "Unknown") for i in items}
