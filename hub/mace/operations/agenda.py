"""A MACE meeting's agenda: what the chair adds by hand or accepts from the proposals, and each
item's minutes, decisions, risk level and agencies' updates.

The same rules as meetings.py: every function loads through hub.permissions.load_mace_object (an
audited 404 for anyone else), checks its input (hub.errors.Invalid, nothing stored), and writes its
audit event in the same unit of work as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import raiseload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.mace.operations import proposals as rules
from hub.mace.operations.meetings import ItemView, item_for, item_views, meeting_for, read_event
from hub.mace.service import check_text
from hub.models.auth import User
from hub.models.mace import (
    MaceAgencyUpdate,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MacePerson,
    MaceProposalDecision,
    ProposalDecision,
    SubjectKind,
)
from hub.models.people import Child
from hub.permissions import is_chairing, mace_agenda_child_access
from hub.retention import scheduling as retention

BY_CHAIR = "Added by the chair"


# --- the agenda ------------------------------------------------------------------------------------------

@dataclass
class ItemDraft:
    kind: SubjectKind | None
    subject_id: int | None


@dataclass
class AgendaChoices:
    meeting: MaceMeeting
    children: list[Child]
    locations: list[MaceLocation]
    persons: list[MacePerson]


def agenda_choices(actor: User, meeting_id: int) -> AgendaChoices:
    """What the chair may add by hand: the group's children, locations and persons (a child not
    yet held is added by the hub record number of a child the chair may see)."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    s = db.session()
    gid = meeting.group_id
    children = sorted(s.scalars(select(Child).join(MaceAgendaChild, MaceAgendaChild.child_id == Child.id).where(
        MaceAgendaChild.group_id == gid, MaceAgendaChild.removed_at.is_(None)).options(raiseload("*"))),
        key=lambda c: c.full_name)
    locations = sorted(s.scalars(select(MaceLocation).where(MaceLocation.group_id == gid)), key=lambda x: x.name)
    persons = sorted(s.scalars(select(MacePerson).where(MacePerson.group_id == gid,
                                                        MacePerson.removed_at.is_(None))), key=lambda x: x.name)
    read_event(actor, "mace-agenda-choices", meeting.id, [c.id for c in children])
    return AgendaChoices(meeting, children, locations, persons)


def _subject_errors(actor: User, meeting: MaceMeeting, draft: ItemDraft) -> tuple[dict[str, str], str | None]:
    """Whether the subject may go on the agenda; the access basis for a child."""
    s = db.session()
    if draft.kind is None or draft.subject_id is None:
        return {"subject": "Choose a child, location or person"}, None
    if draft.kind is SubjectKind.child:
        access = mace_agenda_child_access(actor, meeting.group_id, draft.subject_id)
        if not access:
            return {"subject": "There is no child with that hub record number that you may bring to the group"}, None
        return {}, access.basis
    model = MaceLocation if draft.kind is SubjectKind.location else MacePerson
    row = s.get(model, draft.subject_id)
    if row is None or row.group_id != meeting.group_id or getattr(row, "removed_at", None) is not None:
        return {"subject": f"Choose a {draft.kind.label.lower()} of this group"}, None
    return {}, None


def _add_item(actor: User, meeting: MaceMeeting, kind: SubjectKind, subject_id: int, reason: str,
              position: int) -> MaceAgendaItem:
    """Inside a unit of work: the item, and for a child the group's hold on the child."""
    s = db.session()
    item = MaceAgendaItem(meeting_id=meeting.id, position=position, reason=reason[:200], added_by_user_id=actor.id,
                          **{f"{kind.value}_id": subject_id})
    s.add(item)
    if kind is SubjectKind.child:
        held = s.scalar(select(MaceAgendaChild).where(MaceAgendaChild.group_id == meeting.group_id,
                                                      MaceAgendaChild.child_id == subject_id))
        if held is None:
            s.add(MaceAgendaChild(group_id=meeting.group_id, child_id=subject_id))
        elif held.removed_at is not None:
            held.removed_at = None
    s.flush()
    retention.schedule_agenda_items([item], meeting.group_id)
    return item


def _next_position(meeting_id: int) -> int:
    top = db.session().scalar(select(func.max(MaceAgendaItem.position)).where(MaceAgendaItem.meeting_id == meeting_id))
    return (top or 0) + 1


def add_item(actor: User, meeting_id: int, draft: ItemDraft) -> MaceAgendaItem:
    """The chair puts a child, a location or a person on the agenda by hand."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    errors, basis = _subject_errors(actor, meeting, draft)
    if not errors and db.session().scalar(select(MaceAgendaItem.id).where(
            MaceAgendaItem.meeting_id == meeting.id,
            getattr(MaceAgendaItem, f"{draft.kind.value}_id") == draft.subject_id)):
        errors = {"subject": "That subject is already on the agenda"}
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        item = _add_item(actor, meeting, draft.kind, draft.subject_id, BY_CHAIR, _next_position(meeting.id))
        audit.record("create", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis=basis,
                     detail={"meeting": meeting.id, "kind": draft.kind.value, "subject": draft.subject_id})
    return item


# --- proposals -------------------------------------------------------------------------------------------

def proposals_page(actor: User, meeting_id: int) -> tuple[MaceMeeting, rules.Proposals]:
    """The chair's agenda proposals (children not yet held by the group among them: basis
    "mace-proposal")."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True)
    found = rules.compute(meeting, actor)
    read_event(actor, "mace-proposals", meeting.id, found.child_ids, basis="mace-proposal",
          proposals=len(found.proposals))
    return meeting, found


def decide(actor: User, meeting_id: int, keys: list[str], decision: ProposalDecision) -> list[MaceAgendaItem]:
    """The chair accepts (onto the agenda) or dismisses several proposals at once; each answer is
    kept against the proposal's key, so it is not proposed again until its evidence changes."""
    meeting, _ = meeting_for(actor, meeting_id, chair=True, action="update")
    if not keys:
        raise Invalid({"keys": "Choose at least one proposal"})
    open_ = {p.key: p for p in rules.compute(meeting, actor).proposals}
    if any(k not in open_ for k in keys):
        raise Invalid({"keys": "A proposal you chose is no longer open: the list has been refreshed"})
    chosen = [open_[k] for k in dict.fromkeys(keys)]
    items: list[MaceAgendaItem] = []
    with unit_of_work() as s:
        position = _next_position(meeting.id)
        placed: set[tuple[str, int]] = set()
        for p in chosen:
            s.add(MaceProposalDecision(group_id=meeting.group_id, meeting_id=meeting.id, proposal_key=p.key,
                                       decision=decision, decided_by_user_id=actor.id))
            if decision is ProposalDecision.accepted and p.kind != "group" and (p.kind, p.subject_id) not in placed:
                placed.add((p.kind, p.subject_id))
                items.append(_add_item(actor, meeting, SubjectKind(p.kind), p.subject_id, p.reason, position))
                position += 1
        audit.record("update", actor=actor, object_type="mace-proposals", object_id=meeting.id,
                     basis="mace-proposal", detail={"decision": decision.value, "proposals": [p.key for p in chosen],
                                                    "items": [i.id for i in items]})
    return items


# --- an agenda item: minutes, decisions, risk, agency updates ----------------------------------------------

@dataclass
class ItemPage:
    view: ItemView
    meeting: MaceMeeting
    membership: MaceMember
    default_review_on: date

    @property
    def is_chair(self) -> bool:
        return is_chairing(self.membership)


def item_page(actor: User, item_id: int) -> ItemPage:
    item, member = item_for(actor, item_id)
    meeting = db.session().get(MaceMeeting, item.meeting_id)
    view = next(v for v in item_views(meeting.id) if v.item.id == item.id)
    if item.child_id is not None:
        view.held = db.session().scalar(select(MaceAgendaChild).where(
            MaceAgendaChild.group_id == meeting.group_id, MaceAgendaChild.child_id == item.child_id))
    page = ItemPage(view, meeting, member, date.today() + timedelta(days=meeting.group.review_interval_days))
    read_event(actor, "mace-agenda-item", item.id, [item.child_id] if item.child_id else [],
          meeting=meeting.id, kind=item.subject_kind.value, subject=item.subject_id)
    return page


@dataclass
class MinutesDraft:
    minutes: str | None
    decisions: str | None


def record_minutes(actor: User, item_id: int, draft: MinutesDraft) -> MaceAgendaItem:
    """The chair records the item's minutes and decisions."""
    item, _ = item_for(actor, item_id, chair=True, action="update")
    errors: dict[str, str] = {}
    minutes = check_text(errors, "minutes", draft.minutes, "the minutes", required=False)
    decisions = check_text(errors, "decisions", draft.decisions, "the decisions", required=False)
    if errors:
        raise Invalid(errors)
    with unit_of_work():
        item.minutes, item.decisions = minutes, decisions
        audit.record("update", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis="mace-member", detail={"fields": ["minutes", "decisions"]})
    return item


def add_update(actor: User, item_id: int, text: str | None) -> MaceAgencyUpdate:
    """Any current member adds their agency's update on the item."""
    item, member = item_for(actor, item_id, action="create")
    errors: dict[str, str] = {}
    text = check_text(errors, "text", text, "your agency's update")
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        update = MaceAgencyUpdate(item_id=item.id, organisation_id=member.organisation_id, user_id=actor.id, text=text)
        s.add(update)
        s.flush()
        audit.record("create", actor=actor, object_type="mace-agency-update", object_id=update.id,
                     child_id=item.child_id, basis="mace-member", detail={"item": item.id})
    return update


@dataclass
class RiskDraft:
    level: str | None
    review_on: date | None


def set_risk(actor: User, item_id: int, draft: RiskDraft) -> MaceAgendaItem:
    """The chair sets a child's risk level on the group's own scale, with its review date (by
    default the group's interval from today; never later, and in the future). The group's
    current view of the child follows."""
    item, _ = item_for(actor, item_id, chair=True, action="update")
    meeting = db.session().get(MaceMeeting, item.meeting_id)
    group = meeting.group
    latest = date.today() + timedelta(days=group.review_interval_days)
    review_on = draft.review_on or latest
    errors: dict[str, str] = {}
    if item.child_id is None:
        errors[""] = "A risk level is set for a child only"
    if draft.level not in group.risk_levels:
        errors["level"] = f"Choose a risk level from the group's scale: {', '.join(group.risk_levels)}"
    if review_on <= date.today():
        errors["review_on"] = "The review date must be in the future"
    elif review_on > latest:
        errors["review_on"] = (f"The review date must be no later than {latest:%-d %B %Y} (the group reviews "
                               f"risk levels at least every {group.review_interval_days} days)")
    if errors:
        raise Invalid(errors)
    s = db.session()
    with unit_of_work():
        item.risk_level, item.risk_review_on = draft.level, review_on
        held = s.scalar(select(MaceAgendaChild).where(MaceAgendaChild.group_id == group.id,
                                                      MaceAgendaChild.child_id == item.child_id))
        if held is None:
            held = MaceAgendaChild(group_id=group.id, child_id=item.child_id)
            s.add(held)
        held.risk_level, held.risk_set_at, held.risk_review_due = draft.level, utcnow(), review_on
        audit.record("update", actor=actor, object_type="mace-agenda-item", object_id=item.id,
                     child_id=item.child_id, basis="mace-member",
                     detail={"risk_level": draft.level, "review_on": review_on.isoformat()})
    return item
