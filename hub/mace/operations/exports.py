"""A meeting's agenda, minutes, actions and outcomes as one xlsx workbook for the requesting member's
agency, for its own records: what that agency may see and nothing more.

Sheets: Agenda (each item's subject, reason, risk level, minutes and decisions, with the agency's
own update; the meeting's general minutes first), Actions (every action of the meeting) and
Outcomes (the agency's own outcomes only). Other agencies' updates and outcomes are never read.
A fixed number of queries whatever the size of the meeting; written by hub.exports (formula-like
text made inert); audited as an export.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.exports import Sheet, write_workbook
from hub.models.auth import Organisation, User
from hub.models.mace import (
    MaceAction,
    MaceAgencyUpdate,
    MaceAgendaItem,
    MaceLocation,
    MaceMeeting,
    MaceOutcome,
    MacePerson,
)
from hub.models.people import Child
from hub.permissions import load_mace_object

AGENDA_HEADERS = ["Item", "Subject type", "Subject", "Why on the agenda", "Risk level", "Risk review by",
                  "Minutes", "Decisions", "Our agency's update"]
ACTION_HEADERS = ["Action", "Agenda item", "Kind", "What", "Owner agency", "Owner", "Due", "Status",
                  "Disruption", "Served on", "Review on", "Breaches"]
OUTCOME_HEADERS = ["Child", "Outcome", "System", "Reference", "Confirmed at"]


@dataclass
class MeetingExport:
    filename: str
    content: bytes


def _by_id(model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {o.id: o for o in db.session().scalars(select(model).where(model.id.in_(ids)))}


def meeting_export(actor: User, meeting_id: int) -> MeetingExport:
    """The workbook for the actor's agency (the organisation they represent on the group)."""
    meeting, member = load_mace_object(actor, MaceMeeting, meeting_id, action="export")
    org_id = member.organisation_id
    s = db.session()
    items = list(s.scalars(select(MaceAgendaItem).where(MaceAgendaItem.meeting_id == meeting.id)
                           .order_by(MaceAgendaItem.position, MaceAgendaItem.id)))
    item_ids = [i.id for i in items]
    updates: dict[int, list[str]] = defaultdict(list)
    if item_ids:
        for update in s.scalars(select(MaceAgencyUpdate).where(MaceAgencyUpdate.item_id.in_(item_ids),
                                                               MaceAgencyUpdate.organisation_id == org_id)
                                .order_by(MaceAgencyUpdate.id)):
            updates[update.item_id].append(update.text)
    actions = list(s.scalars(select(MaceAction).where(MaceAction.meeting_id == meeting.id).order_by(MaceAction.id)))
    outcomes = list(s.scalars(select(MaceOutcome).where(MaceOutcome.meeting_id == meeting.id,
                                                        MaceOutcome.organisation_id == org_id)
                              .order_by(MaceOutcome.child_id)))
    children = _by_id(Child, {i.child_id for i in items if i.child_id} | {o.child_id for o in outcomes})
    locations = _by_id(MaceLocation, {i.location_id for i in items if i.location_id})
    persons = _by_id(MacePerson, {i.person_id for i in items if i.person_id})
    owners = _by_id(User, {a.owner_user_id for a in actions if a.owner_user_id})
    orgs = _by_id(Organisation, {a.owner_organisation_id for a in actions})

    def subject(item: MaceAgendaItem) -> str:
        if item.child_id:
            return children[item.child_id].full_name
        return (locations[item.location_id] if item.location_id else persons[item.person_id]).name

    positions = {item.id: n for n, item in enumerate(items, start=1)}
    agenda = [["Meeting", "", "", "General minutes and decisions", "", None, meeting.notes or "", "", ""]]
    agenda += [[n, i.subject_kind.label, subject(i), i.reason, i.risk_level or "", i.risk_review_on, i.minutes or "",
                i.decisions or "", "\n\n".join(updates.get(i.id, []))] for n, i in enumerate(items, start=1)]
    action_rows = [[a.id, positions.get(a.item_id, ""), a.kind.value.capitalize(), a.description,
                    orgs[a.owner_organisation_id].name, owners[a.owner_user_id].name if a.owner_user_id else "",
                    a.due_on, a.status.label, a.disruption_kind.label if a.disruption_kind else "", a.served_on,
                    a.review_on, a.breaches if a.disruption_kind else None] for a in actions]
    outcome_rows = [[children[o.child_id].full_name, o.outcome or "", o.system_name or "", o.system_reference or "",
                     o.confirmed_at] for o in outcomes]
    content = write_workbook([Sheet("Agenda", AGENDA_HEADERS, agenda), Sheet("Actions", ACTION_HEADERS, action_rows),
                              Sheet("Outcomes", OUTCOME_HEADERS, outcome_rows)])
    with unit_of_work():
        audit.record("export", actor=actor, object_type="mace-meeting", object_id=meeting.id, basis="mace-member",
                     detail={"meeting": meeting.id, "organisation": org_id, "items": len(items),
                             "actions": len(actions), "outcomes": len(outcomes),
                             "children": sorted(children)})
    return MeetingExport(f"mace-meeting-{meeting.id}-{meeting.scheduled_for:%Y-%m-%d}.xlsx", content)
