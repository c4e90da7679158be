"""MACE actions and disruption activity: the only code that changes them.

An action is agreed at a meeting (optionally on one agenda item) with an owner agency, optionally a
named owner who is a current member for that agency, and a due date. A disruption action carries
its own fields so that disruption can be counted; a Child Abduction Warning Notice (CAWN) needs the
person warned, the child it protects, the date served (not in the future), the serving officer and
a review date after the date served, and counts its breaches. Every change of status and every
breach adds a row to the action's history. Any current member of the group may update an action
(owner, chair or member); an action is overdue when it is not closed and its due date has passed.
Every read and change is audited in the same transaction; pages use a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.mace.service import (
    SHORT_MAX,
    check_text,
    current_members,
    group_for,
    member_organisations,
    subject_names,
)
from hub.models.auth import Organisation, User
from hub.models.mace import (
    ActionKind,
    ActionStatus,
    DisruptionKind,
    MaceAction,
    MaceActionUpdate,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceMeeting,
    MaceMember,
    MacePerson,
)
from hub.models.people import Child
from hub.permissions import load_mace_object, member_group_ids
from hub.retention import scheduling as retention


@dataclass
class ActionDraft:
    """What the new-action form says; ids are checked against the meeting's group."""

    description: str | None
    owner_organisation_id: int | None
    due_on: date | None
    kind: ActionKind = ActionKind.task
    item_id: int | None = None
    owner_user_id: int | None = None
    disruption_kind: DisruptionKind | None = None
    person_id: int | None = None
    child_id: int | None = None
    served_on: date | None = None
    serving_officer: str | None = None
    review_on: date | None = None


@dataclass
class ActionOptions:
    """The choices the new-action form offers, all from the meeting's group."""

    meeting: MaceMeeting
    items: list[MaceAgendaItem]
    organisations: list[Organisation]
    members: list[MaceMember]
    persons: list[MacePerson]
    children: list[Child]
    #: Each agenda item's subject by name (item id to name), as the meeting page names it.
    item_names: dict[int, str] = field(default_factory=dict)


def _held_children(group_id: int) -> list[Child]:
    return list(db.session().scalars(select(Child).join(MaceAgendaChild, MaceAgendaChild.child_id == Child.id).where(
        MaceAgendaChild.group_id == group_id, MaceAgendaChild.removed_at.is_(None)).order_by(Child.id)))


def _persons(group_id: int) -> list[MacePerson]:
    return list(db.session().scalars(select(MacePerson).where(
        MacePerson.group_id == group_id, MacePerson.removed_at.is_(None)).order_by(MacePerson.id)))


def action_options(actor: User, meeting_id: int) -> ActionOptions:
    """The new-action form's choices for a member of the meeting's group (audited read)."""
    meeting, _ = load_mace_object(actor, MaceMeeting, meeting_id)
    items = list(db.session().scalars(select(MaceAgendaItem).where(MaceAgendaItem.meeting_id == meeting.id)
                                      .order_by(MaceAgendaItem.position, MaceAgendaItem.id)))
    options = ActionOptions(meeting, items, member_organisations(meeting.group_id), current_members(meeting.group_id),
                            _persons(meeting.group_id), _held_children(meeting.group_id), subject_names(items))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-meeting", object_id=meeting.id, basis="mace-member",
                     detail={"page": "new-action", "group": meeting.group_id})
    return options


def _check_owner(errors: dict[str, str], draft: ActionDraft, options: ActionOptions) -> None:
    if draft.owner_organisation_id not in {o.id for o in options.organisations}:
        errors["owner_organisation_id"] = "Choose the agency that owns the action (one that sits on the group)"
    elif draft.owner_user_id and not any(m.user_id == draft.owner_user_id and
                                         m.organisation_id == draft.owner_organisation_id for m in options.members):
        errors["owner_user_id"] = "Choose an owner who is a current member of the group for that agency"
    if draft.item_id and draft.item_id not in {i.id for i in options.items}:
        errors["item_id"] = "Choose an item on this meeting's agenda"


def _check_disruption(errors: dict[str, str], draft: ActionDraft, options: ActionOptions, today: date) -> None:
    if draft.disruption_kind is None:
        errors["disruption_kind"] = "Choose the kind of disruption"
        return
    cawn = draft.disruption_kind is DisruptionKind.cawn
    if draft.person_id and draft.person_id not in {p.id for p in options.persons}:
        errors["person_id"] = "Choose a person of concern held by the group"
    elif cawn and not draft.person_id:
        errors["person_id"] = "Choose the person warned"
    if draft.child_id and draft.child_id not in {c.id for c in options.children}:
        errors["child_id"] = "Choose a child held by the group"
    elif cawn and not draft.child_id:
        errors["child_id"] = "Choose the child the notice protects"
    if draft.served_on and draft.served_on > today:
        errors["served_on"] = "The date served must be today or in the past"
    elif cawn and draft.served_on is None:
        errors["served_on"] = "Enter the date the notice was served"
    draft.serving_officer = check_text(errors, "serving_officer", draft.serving_officer, "the serving officer",
                                       required=cawn, limit=SHORT_MAX)
    if cawn and draft.review_on is None:
        errors["review_on"] = "Enter the date the notice is reviewed"
    elif draft.review_on and draft.served_on and draft.review_on <= draft.served_on:
        errors["review_on"] = "The review date must be after the date served"


def create_action(actor: User, meeting_id: int, draft: ActionDraft) -> MaceAction:
    """Record an action agreed at the meeting; refused (nothing stored) with clear errors."""
    options = action_options(actor, meeting_id)
    errors: dict[str, str] = {}
    draft.description = check_text(errors, "description", draft.description, "what the action is")
    _check_owner(errors, draft, options)
    if draft.due_on is None:
        errors["due_on"] = "Enter the date the action is due, as a real date"
    if draft.kind is ActionKind.disruption:
        _check_disruption(errors, draft, options, date.today())
    if errors:
        raise Invalid(errors)
    disruption = draft.kind is ActionKind.disruption
    with unit_of_work() as s:
        action = MaceAction(
            group_id=options.meeting.group_id, meeting_id=options.meeting.id, item_id=draft.item_id or None,
            kind=draft.kind, description=draft.description, owner_organisation_id=draft.owner_organisation_id,
            owner_user_id=draft.owner_user_id or None, due_on=draft.due_on, status=ActionStatus.open,
            disruption_kind=draft.disruption_kind if disruption else None,
            person_id=(draft.person_id or None) if disruption else None,
            child_id=(draft.child_id or None) if disruption else None,
            served_on=draft.served_on if disruption else None,
            serving_officer=draft.serving_officer if disruption else None,
            review_on=draft.review_on if disruption else None, breaches=0, created_by_user_id=actor.id)
        s.add(action)
        s.flush()
        retention.schedule_action(action)
        s.add(MaceActionUpdate(action_id=action.id, status=ActionStatus.open, user_id=actor.id))
        audit.record("create", actor=actor, object_type="mace-action", object_id=action.id, child_id=action.child_id,
                     basis="mace-member", detail={"meeting": options.meeting.id, "kind": draft.kind.value,
                                                  "owner_organisation": draft.owner_organisation_id})
    return action


# --- one action ----------------------------------------------------------------------------------------

@dataclass
class ActionPage:
    action: MaceAction
    meeting: MaceMeeting | None
    item: MaceAgendaItem | None
    person: MacePerson | None
    child: Child | None
    users: dict[int, User] = field(default_factory=dict)
    overdue: bool = False


def _load(actor: User, action_id: int, action: str = "read") -> MaceAction:
    return load_mace_object(actor, MaceAction, action_id, action=action)[0]


def action_page(actor: User, action_id: int) -> ActionPage:
    """The action with its history, for any current member of its group (audited read)."""
    action = _load(actor, action_id)
    s = db.session()
    updates = action.updates  # one query: the history
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_({u.user_id for u in updates})))}
    page = ActionPage(action, s.get(MaceMeeting, action.meeting_id) if action.meeting_id else None,
                      s.get(MaceAgendaItem, action.item_id) if action.item_id else None,
                      s.get(MacePerson, action.person_id) if action.person_id else None,
                      s.get(Child, action.child_id) if action.child_id else None, users,
                      action.overdue_on(date.today()))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-action", object_id=action.id, child_id=action.child_id,
                     basis="mace-member", detail={"group": action.group_id})
    return page


def update_status(actor: User, action_id: int, status: ActionStatus | None, note: str | None) -> MaceAction:
    """Any current member moves the action on (open, in progress, done, cancelled) with a note."""
    action = _load(actor, action_id, "update")
    errors: dict[str, str] = {}
    if status is None:
        errors["status"] = "Choose the action's status"
    note = check_text(errors, "note", note, "a note", required=False)
    if not errors and status is action.status and not note:
        errors["note"] = "Choose a new status or add a note"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        previous = action.status
        action.status = status
        s.add(MaceActionUpdate(action_id=action.id, status=status, note=note, user_id=actor.id))
        audit.record("update", actor=actor, object_type="mace-action", object_id=action.id, child_id=action.child_id,
                     basis="mace-member", detail={"from": previous.value, "to": status.value})
    return action


def record_breach(actor: User, action_id: int, note: str | None) -> MaceAction:
    """A breach of a Child Abduction Warning Notice: counted (atomically) and added to its history."""
    action = _load(actor, action_id, "update")
    errors: dict[str, str] = {}
    if action.disruption_kind is not DisruptionKind.cawn:
        errors[""] = "Breaches are recorded on Child Abduction Warning Notices only"
    note = check_text(errors, "breach_note", note, "a note", required=False)
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        s.execute(update(MaceAction).where(MaceAction.id == action.id).values(breaches=MaceAction.breaches + 1)
                  .execution_options(synchronize_session=False))
        s.add(MaceActionUpdate(action_id=action.id, status=action.status, note=note, breach=True, user_id=actor.id))
        s.flush()
        s.refresh(action, ["breaches"])
        audit.record("update", actor=actor, object_type="mace-action", object_id=action.id, child_id=action.child_id,
                     basis="mace-member", detail={"breach": True, "breaches": action.breaches})
    return action


# --- lists ---------------------------------------------------------------------------------------------

@dataclass
class ActionList:
    actions: list[MaceAction]
    today: date
    group: MaceGroup | None = None

    @property
    def overdue(self) -> list[MaceAction]:
        return [a for a in self.actions if a.overdue_on(self.today)]


_OPEN = MaceAction.status.in_([ActionStatus.open, ActionStatus.in_progress])


def group_actions(actor: User, group_id: int, today: date | None = None) -> ActionList:
    """The chair's list of the group's open actions, overdue ones first."""
    group, _ = group_for(actor, group_id, chair=True)
    today = today or date.today()
    actions = list(db.session().scalars(select(MaceAction).where(MaceAction.group_id == group.id, _OPEN)
                                        .order_by(MaceAction.due_on, MaceAction.id)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-actions", object_id=group.id, basis="mace-member",
                     detail={"actions": [a.id for a in actions]})
    return ActionList(actions, today, group)


def mine_clause(actor: User):
    """Open actions of the actor's current groups that they own, or that their agency owns with no
    named owner."""
    return (MaceAction.group_id.in_(member_group_ids(actor)) & _OPEN
            & ((MaceAction.owner_user_id == actor.id)
               | (MaceAction.owner_user_id.is_(None) & (MaceAction.owner_organisation_id == actor.organisation_id))))


def my_actions(actor: User, today: date | None = None) -> ActionList:
    """"My actions": the actor's open actions across their current groups, soonest due first."""
    today = today or date.today()
    actions = list(db.session().scalars(select(MaceAction).where(mine_clause(actor))
                                        .order_by(MaceAction.due_on, MaceAction.id)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-actions", basis="mace-member",
                     detail={"mine": True, "actions": [a.id for a in actions]})
    return ActionList(actions, today)
