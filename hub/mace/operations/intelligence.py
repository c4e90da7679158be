"""MACE intelligence: a share record of the sharing register shared into a group.

There is one write path: `share_intelligence` fills a ShareDraft (the group, its member
organisations other than the sender's as recipients, the child when the item is about exactly
one) and calls hub.sharing.service.create_share, which applies the register's rules (legal bases,
consent, source, 3x5x2 grading, handling code) and checks membership through hub.permissions.
The subjects the item concerns are written in the same transaction. Only the group's current
named members (and the sender's organisation) see the item; onward sharing and handling code C
follow the register (hub.sharing.corrections.share_onward / for_onward).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.mace.service import group_for, member_organisations
from hub.models.auth import User
from hub.models.mace import MaceGroup, MaceIntelligenceSubject, MaceLocation, MacePerson
from hub.models.people import Child
from hub.models.sharing import ShareRecord
from hub.permissions import load_mace_object, mace_child_access, share_visible, visible_child_ids
from hub.sharing import reading as share_reading
from hub.sharing import service as sharing


@dataclass
class Subjects:
    child_ids: list[int] = field(default_factory=list)
    location_ids: list[int] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)

    def rows(self) -> list[MaceIntelligenceSubject]:
        return ([MaceIntelligenceSubject(child_id=i) for i in self.child_ids]
                + [MaceIntelligenceSubject(location_id=i) for i in self.location_ids]
                + [MaceIntelligenceSubject(person_id=i) for i in self.person_ids])


def _check_subjects(actor: User, group_id: int, subjects: Subjects) -> dict[str, str]:
    s = db.session()
    subjects.child_ids = list(dict.fromkeys(subjects.child_ids))
    subjects.location_ids = list(dict.fromkeys(subjects.location_ids))
    subjects.person_ids = list(dict.fromkeys(subjects.person_ids))
    if not (subjects.child_ids or subjects.location_ids or subjects.person_ids):
        return {"subjects": "Choose at least one child, place or person the intelligence is about"}
    errors: dict[str, str] = {}
    if any(not mace_child_access(actor, group_id, c) for c in subjects.child_ids):
        errors["child_ids"] = "Choose children the group holds"
    places = set(s.scalars(select(MaceLocation.id).where(MaceLocation.id.in_(subjects.location_ids),
                                                         MaceLocation.group_id == group_id)))
    if places != set(subjects.location_ids):
        errors["location_ids"] = "Choose the group's own locations"
    people = set(s.scalars(select(MacePerson.id).where(MacePerson.id.in_(subjects.person_ids),
                                                       MacePerson.group_id == group_id,
                                                       MacePerson.removed_at.is_(None))))
    if people != set(subjects.person_ids):
        errors["person_ids"] = "Choose the group's own persons or peer groups of concern"
    return errors


def share_intelligence(actor: User, group_id: int, draft: sharing.ShareDraft, subjects: Subjects) -> ShareRecord:
    """Share intelligence into the group, about the subjects given; nothing is stored when any rule
    of the register or of the group fails."""
    group, _ = group_for(actor, group_id, action="share")
    errors = _check_subjects(actor, group.id, subjects)
    recipients = [o.id for o in member_organisations(group.id) if o.id != actor.organisation_id]
    if not recipients:
        errors["recipient_org_ids"] = "No other agency sits on this group yet: there is no one to share with"
    if errors:
        raise Invalid(errors)
    draft.mace_group_id = group.id
    draft.recipient_org_ids, draft.recipient_user_ids = recipients, []
    draft.child_id = subjects.child_ids[0] if len(subjects.child_ids) == 1 else None
    with unit_of_work() as s:
        share = sharing.create_share(actor, draft)
        rows = subjects.rows()
        for row in rows:
            row.share_id = share.id
        s.add_all(rows)
        audit.record("create", actor=actor, object_type="mace-intelligence", object_id=share.id,
                     child_id=draft.child_id, basis="mace-member",
                     detail={"group": group.id, "children": subjects.child_ids, "locations": subjects.location_ids,
                             "persons": subjects.person_ids})
    return share


# --- reading ---------------------------------------------------------------------------------------------

@dataclass
class SubjectName:
    kind: str
    subject_id: int
    name: str


def _names(actor: User, rows: list[MaceIntelligenceSubject]) -> dict[int, list[SubjectName]]:
    """Each share's subjects, named (three queries whatever the number of rows)."""
    s = db.session()
    children = {c.id: c.full_name for c in s.scalars(select(Child).where(
        Child.id.in_({r.child_id for r in rows if r.child_id}), Child.id.in_(visible_child_ids(actor))))}
    places = {loc.id: loc.name for loc in s.scalars(select(MaceLocation).where(
        MaceLocation.id.in_({r.location_id for r in rows if r.location_id})))}
    people = {p.id: p.name for p in s.scalars(select(MacePerson).where(
        MacePerson.id.in_({r.person_id for r in rows if r.person_id}), MacePerson.removed_at.is_(None)))}
    named: dict[int, list[SubjectName]] = {}
    for r in rows:
        if r.child_id:
            item = SubjectName("child", r.child_id, children.get(r.child_id, "A child you may not see"))
        elif r.location_id:
            item = SubjectName("location", r.location_id, places.get(r.location_id, ""))
        elif r.person_id in people:
            item = SubjectName("person", r.person_id, people[r.person_id])
        else:
            continue  # a person removed at review
        named.setdefault(r.share_id, []).append(item)
    return named


def _children(named: dict[int, list[SubjectName]]) -> list[int]:
    return sorted({n.subject_id for names in named.values() for n in names if n.kind == "child"})


@dataclass
class IntelligenceList:
    group: MaceGroup
    items: list[ShareRecord]
    subjects: dict[int, list[SubjectName]]


def group_intelligence(actor: User, group_id: int) -> IntelligenceList:
    """The group's intelligence the actor may see, newest first."""
    group, _ = group_for(actor, group_id)
    s = db.session()
    items = list(s.scalars(select(ShareRecord).where(ShareRecord.mace_group_id == group.id, share_visible(actor))
                           .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc())))
    rows = list(s.scalars(select(MaceIntelligenceSubject).where(
        MaceIntelligenceSubject.share_id.in_([i.id for i in items]))))
    named = _names(actor, rows)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-intelligence-list", object_id=group.id,
                     basis="mace-member", detail={"shares": [i.id for i in items], "children": _children(named)})
    return IntelligenceList(group, items, named)


@dataclass
class IntelligenceItem:
    share: ShareRecord
    subjects: list[SubjectName]
    mine: bool


def intelligence_item(actor: User, share_id: int) -> IntelligenceItem:
    """One item, for the group's current members: read through the register (visibility, the
    recipient's first opening, the audited read naming its children)."""
    share, _ = load_mace_object(actor, ShareRecord, share_id)
    rows = list(db.session().scalars(select(MaceIntelligenceSubject).where(
        MaceIntelligenceSubject.share_id == share.id)))
    named = _names(actor, rows)
    share = share_reading.get_share(actor, share.id, object_type="mace-intelligence",
                              detail={"group": share.mace_group_id, "children": _children(named)})
    return IntelligenceItem(share, named.get(share.id, []), share.sender_org_id == actor.organisation_id)


def intelligence_about(actor: User, kind: str, subject_id: int) -> list[ShareRecord]:
    """The intelligence items about one subject that the actor may see (for a subject's page,
    which writes the audit event)."""
    column = {"child": MaceIntelligenceSubject.child_id, "location": MaceIntelligenceSubject.location_id,
              "person": MaceIntelligenceSubject.person_id}[kind]
    ids = select(MaceIntelligenceSubject.share_id).where(column == subject_id)
    return list(db.session().scalars(select(ShareRecord).where(ShareRecord.id.in_(ids), share_visible(actor))
                                     .order_by(ShareRecord.created_at.desc())))
