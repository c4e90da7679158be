"""Erasure requests (UK GDPR Art 17): recording one (about a child, or about a MACE person of
concern), what each agency holds about them, each agency's decision for each class of its records,
and the reply.

Every change checks permission (hub.permissions), applies the rule and writes its audit event in
the same transaction. The audit events carry ids, classes, outcomes and counts, never who asked,
what they asked or a decision's reason (those may name people: they are kept, encrypted, on the
rows).

An "erase" decision approves its records' destruction at once, whatever their review date: the
worker destroys them by the one destroy step (which refuses a record under a legal hold) and
their retention rows keep the rule "erasure: UK GDPR Art 17(1), request N", which the destruction
certificate and the child's subject access pack then name. A class under a standing legal hold
cannot be erased: the hold is lifted first, or the records kept (Art 17(3)(e) for a claim).

A request about a MACE person of concern is the same flow. What the hub holds about the person,
each a retention row: the person's own record (class `mace_person`, with the group's links to them
and the agenda items about them, which hang only on it: one decision covers them), the
intelligence items naming them and the disruption actions (a CAWN) naming them. The person's
retention row is written when the request is recorded (a person is otherwise reviewed on its own
date, hub.mace), so erasing it goes through the one destroy step, which a legal hold blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import Organisation, User
from hub.models.erasure import ErasureDecision, ErasureRequest, Outcome, RequestStatus
from hub.models.mace import MaceAction, MaceAgendaItem, MaceGroup, MaceIntelligenceSubject, MaceLink, MacePerson
from hub.models.people import Child
from hub.models.retention import RecordClass, RetentionRecord, RetentionStatus
from hub.models.roles import OrgKind
from hub.permissions import (
    CHANGE,
    erasure_child_named,
    load_or_refuse,
    may_decide_for,
    may_handle_erasure,
    may_record_erasure,
    may_record_person_erasure,
    refuse,
    visible_clause,
)
from hub.retention import rules
from hub.retention.holds import held
from hub.retention.rules import london_day

OBJECT_TYPE = "erasure-request"
TEXT_MAX = 2000
REASON_MAX = 1000

#: The exception a class's records most often rest on when kept: a suggestion the deciding DPO
#: sees beside each class (the DPO decides). Police records are processed for law enforcement
#: (DPA 2018 Part 3: Art 17 does not apply); a consent record is the proof of a lawful share
#: (legal claims); every other class is kept under the statutory duties it serves (Children Act
#: 1989 and 2004, Working Together to Safeguard Children 2023: legal obligation or public task).
SUGGESTED: dict[RecordClass, Outcome] = {
    RecordClass.police_record: Outcome.keep_law_enforcement,
    RecordClass.police_share: Outcome.keep_law_enforcement,
    RecordClass.consent_record: Outcome.keep_legal_claims,
}
OUTCOMES = tuple(Outcome)


#: For a MACE person of concern (an adult, not a child of the hub): records a police force owns,
#: and the person's own record when held under a DPA 2018 Part 3 condition, are law enforcement
#: processing (Part 3: Art 17 does not apply; s47). Otherwise a disruption action (a Child Abduction
#: Warning Notice) is the evidence for proceedings on its breach: legal claims (Art 17(3)(e)); the
#: person's record, the links and the intelligence serve the group's safeguarding task: public task
#: (Art 17(3)(b)). The deciding DPO decides; this is the suggestion beside each class.
PERSON_SUGGESTED: dict[RecordClass, Outcome] = {
    RecordClass.mace_action: Outcome.keep_legal_claims,
    RecordClass.police_record: Outcome.keep_law_enforcement,
    RecordClass.police_share: Outcome.keep_law_enforcement,
}


def suggested(record_class: RecordClass, owner_kind: OrgKind | None = None,
              person: MacePerson | None = None) -> Outcome:
    """The usual exception for a class (`person`: the request is about this MACE person)."""
    if person is None and owner_kind is None:
        return SUGGESTED.get(record_class, Outcome.keep_legal_obligation)
    if owner_kind == OrgKind.police or (record_class == RecordClass.mace_person and person and person.part_3):
        return Outcome.keep_law_enforcement
    if person is None:
        return SUGGESTED.get(record_class, Outcome.keep_legal_obligation)
    return PERSON_SUGGESTED.get(record_class, Outcome.keep_legal_obligation)


#: A person request's classes whose rows one decision covers together: the person's record, and
#: the agenda items about the person (an item has one subject: it hangs only on the person).
PERSON_PARTS = (RecordClass.mace_person, RecordClass.mace_agenda_item)


def _decided_class(request: ErasureRequest, record_class: RecordClass) -> RecordClass:
    """The class a retention row is decided under (an agenda item about a person: the person's)."""
    if request.person_id is not None and record_class == RecordClass.mace_agenda_item:
        return RecordClass.mace_person
    return record_class


def _classes(request: ErasureRequest, record_class: RecordClass) -> tuple[RecordClass, ...]:
    """The row classes one decision covers."""
    if request.person_id is not None and record_class == RecordClass.mace_person:
        return PERSON_PARTS
    return (record_class,)


def about(request: ErasureRequest) -> ColumnElement[bool]:
    """The retention rows about the request's subject: the child's; or the MACE person's own record,
    the agenda items about them, the intelligence naming them and the disruption actions naming
    them. Rows erased under the request count too (what named the person is gone by then)."""
    if request.person_id is None:
        return RetentionRecord.child_id == request.child_id
    pid = request.person_id
    row = RetentionRecord
    return or_(
        and_(row.record_class == RecordClass.mace_person, row.record_id == pid),
        and_(row.record_class == RecordClass.mace_agenda_item,
             row.record_id.in_(select(MaceAgendaItem.id).where(MaceAgendaItem.person_id == pid))),
        and_(row.record_class == RecordClass.mace_intelligence,
             row.record_id.in_(select(MaceIntelligenceSubject.share_id)
                               .where(MaceIntelligenceSubject.person_id == pid))),
        and_(row.record_class == RecordClass.mace_action,
             row.record_id.in_(select(MaceAction.id).where(MaceAction.person_id == pid))),
        row.rule == erasure_rule(request.id))


def erasure_rule(request_id: int) -> str:
    """The rule an erased record is destroyed under (kept on its retention row)."""
    return f"erasure: UK GDPR Art 17(1), request {request_id}"


def _text(value: str | None, field: str, message: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid({field: message})
    if len(text) > limit:
        raise Invalid({field: f"Keep this to {limit} characters"})
    return text


# --- recording a request -------------------------------------------------------------------------

@dataclass
class RequestDetails:
    child_id: int | None
    received_on: date | None
    requester: str | None
    request_text: str | None
    #: Or the MACE person of concern the request is about (then no child).
    person_id: int | None = None


def record_request(actor: User, details: RequestDetails, today: date) -> ErasureRequest:
    """A DPO records a request about a child their organisation holds (the hub's DPO: any child),
    or about a MACE person of concern of a group their organisation hosts or sits on."""
    if not may_handle_erasure(actor):
        refuse(actor, OBJECT_TYPE, None, action=CHANGE)
    if (details.child_id is None) == (details.person_id is None):
        raise Invalid({"child_id": "Enter the child's hub number, or the MACE person's number (not both)"})
    person = None
    if details.person_id is not None:
        person = db.session().get(MacePerson, details.person_id)
        if not may_record_person_erasure(actor, person):
            refuse(actor, "mace-person", details.person_id, action=CHANGE)
    elif not may_record_erasure(actor, details.child_id):
        refuse(actor, "child", details.child_id, details.child_id, action=CHANGE)
    if details.received_on is None or details.received_on > today:
        raise Invalid({"received_on": "Enter the day the request was received, today or before"})
    requester = _text(details.requester, "requester", "Say who asked (the young person, a parent)", 200)
    asked = _text(details.request_text, "request_text", "Say what they asked to be erased", TEXT_MAX)
    with unit_of_work() as s:
        request = ErasureRequest(organisation_id=actor.organisation_id, child_id=details.child_id,
                                 person_id=details.person_id, mace_group_id=person.group_id if person else None,
                                 received_on=details.received_on, requester=requester, request_text=asked,
                                 recorded_by_user_id=actor.id)
        s.add(request)
        if person is not None:
            _schedule_person(person)
        s.flush()
        detail = {"received_on": details.received_on.isoformat()}
        if person is not None:
            detail |= {"person": person.id, "group": person.group_id}
        audit.record("create", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail=detail)
    return request


def _schedule_person(person: MacePerson) -> None:
    """The person's record as a retention row (once), owned by the group's host (a MACE group's
    records are its host's: hub.retention.rules), dated by the person's own review date."""
    session = db.session()
    if session.scalar(select(RetentionRecord.id).where(RetentionRecord.record_class == RecordClass.mace_person,
                                                       RetentionRecord.record_id == person.id)) is not None:
        return
    host = session.scalar(select(MaceGroup.host_organisation_id).where(MaceGroup.id == person.group_id))
    session.add(RetentionRecord(record_class=RecordClass.mace_person, record_id=person.id, owning_org_id=host,
                                child_id=None, written_on=london_day(person.created_at),
                                rule="mace_person: its own review date", review_on=person.review_on))


# --- what each agency holds, and the decisions ---------------------------------------------------

@dataclass
class Holding:
    """One agency's records of one class about the child."""

    organisation_id: int
    organisation: str
    record_class: RecordClass
    #: Records not destroyed yet.
    remaining: int
    #: Records destroyed under this request.
    erased: int
    #: Of the remaining, those under a standing legal hold.
    held: int
    decision: ErasureDecision | None
    suggested: Outcome
    #: Whether the viewing DPO decides it (their organisation's records).
    mine: bool

    @property
    def label(self) -> str:
        return rules.DEFAULTS[self.record_class].label


@dataclass
class RequestView:
    request: ErasureRequest
    #: The child, when the viewing DPO may see them (else the hub reference only).
    child: Child | None
    holdings: list[Holding]
    #: Whether the viewing DPO sends the reply (their organisation received the request).
    answers: bool
    #: A request about a MACE person: the group's current links to them (they go with the
    #: person's record; a count, nothing of them).
    links: int = 0

    @property
    def complete(self) -> bool:
        return all(h.decision is not None for h in self.holdings)

    @property
    def undecided(self) -> int:
        return sum(1 for h in self.holdings if h.decision is None)


def _holdings(actor: User, request: ErasureRequest) -> list[Holding]:
    """Each (agency, class) holding records about the child (or person), or that held records
    erased under this request, or that decided: counts only, no record's content."""
    session = db.session()
    person = session.get(MacePerson, request.person_id) if request.person_id is not None else None
    remaining = RetentionRecord.status != RetentionStatus.destroyed
    rows = session.execute(
        select(RetentionRecord.owning_org_id, RetentionRecord.record_class,
               func.sum(case((remaining, 1), else_=0)),
               func.sum(case(((RetentionRecord.status == RetentionStatus.destroyed)
                              & (RetentionRecord.rule == erasure_rule(request.id)), 1), else_=0)),
               func.sum(case((remaining & held(), 1), else_=0)))
        .where(about(request))
        .group_by(RetentionRecord.owning_org_id, RetentionRecord.record_class)).all()
    decisions = {(d.organisation_id, d.record_class): d for d in session.scalars(
        select(ErasureDecision).where(ErasureDecision.request_id == request.id))}
    found: dict[tuple[int, RecordClass], tuple[int, int, int]] = {}
    for org, cls, left, erased, on_hold in rows:
        key = (org, _decided_class(request, cls))
        if left or erased or key in decisions:
            before = found.get(key, (0, 0, 0))
            found[key] = (before[0] + int(left or 0), before[1] + int(erased or 0), before[2] + int(on_hold or 0))
    for key in decisions:
        found.setdefault(key, (0, 0, 0))
    orgs = {org: (name, kind) for org, name, kind in session.execute(
        select(Organisation.id, Organisation.name, Organisation.kind)
        .where(Organisation.id.in_({o for o, _ in found})))}
    holdings = [Holding(org, orgs.get(org, (f"Organisation {org}", None))[0], cls, left, erased, on_hold,
                        decisions.get((org, cls)),
                        suggested(cls, orgs.get(org, ("", None))[1], person) if request.person_id else suggested(cls),
                        may_decide_for(actor, org))
                for (org, cls), (left, erased, on_hold) in found.items()]
    return sorted(holdings, key=lambda h: (not h.mine, h.organisation, h.label))


def requests_for(actor: User) -> list[ErasureRequest]:
    """The requests the DPO sees: their organisation's, those about a child it holds records
    about, and (the hub's DPO) all; open first, newest first."""
    if not may_handle_erasure(actor):
        refuse(actor, OBJECT_TYPE, None)
    return list(db.session().scalars(select(ErasureRequest).where(visible_clause(actor, ErasureRequest)).order_by(
        ErasureRequest.status != RequestStatus.open, ErasureRequest.id.desc()).limit(200)))


def record_list_read(actor: User, requests: list[ErasureRequest]) -> None:
    """The list names children (by hub number, or name): one event for the listing."""
    with unit_of_work():
        audit.record("read", actor=actor, object_type=OBJECT_TYPE, detail={"count": len(requests)},
                     children=[r.child_id for r in requests if r.child_id is not None])


def named_children(actor: User, requests: list[ErasureRequest]) -> dict[int, Child]:
    """The children the list may name to this DPO (the others by hub number)."""
    ids = {r.child_id for r in requests if r.child_id is not None and erasure_child_named(actor, r.child_id)}
    return {c.id: c for c in db.session().scalars(select(Child).where(Child.id.in_(ids)))} if ids else {}


def request_page(actor: User, request_id: int) -> RequestView:
    """One request: what each agency holds about the child and the decisions; the read audited."""
    request = load_or_refuse(actor, ErasureRequest, request_id)
    with unit_of_work():
        view = _view(actor, request)
        audit.record("read", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail={"holdings": len(view.holdings), "undecided": view.undecided})
    return view


def _view(actor: User, request: ErasureRequest) -> RequestView:
    session = db.session()
    if request.person_id is not None:
        links = session.scalar(select(func.count()).select_from(MaceLink).where(
            MaceLink.person_id == request.person_id)) or 0
        return RequestView(request, None, _holdings(actor, request), request.organisation_id == actor.organisation_id,
                           links)
    child = session.get(Child, request.child_id) if erasure_child_named(actor, request.child_id) else None
    return RequestView(request, child, _holdings(actor, request), request.organisation_id == actor.organisation_id)


def holding_for(actor: User, request_id: int, record_class: RecordClass) -> tuple[ErasureRequest, Holding]:
    """The actor's organisation's holding of one class for a request (the decision page)."""
    request = load_or_refuse(actor, ErasureRequest, request_id)
    holding = next((h for h in _holdings(actor, request) if h.mine and h.record_class == record_class), None)
    if holding is None:
        refuse(actor, OBJECT_TYPE, request.id, request.child_id, action=CHANGE)
    return request, holding


def decide(actor: User, request_id: int, record_class: RecordClass, outcome: Outcome | None,
           reason: str | None) -> ErasureDecision:
    """The actor's organisation's decision for one class of its records about the child. Erase:
    the records are approved for destruction now (refused whole if any is under a legal hold)."""
    request, holding = holding_for(actor, request_id, record_class)
    if request.status != RequestStatus.open:
        raise Invalid({"outcome": "This request has been answered"})
    if holding.decision is not None:
        raise Invalid({"outcome": "Your organisation has already decided for these records"})
    if outcome is None:
        raise Invalid({"outcome": "Choose whether to erase the records or which exception keeps them"})
    reason = _text(reason, "reason", "Say why (the duty, the claim or the law the records are kept under)"
                   if outcome.kept else "Say why the records are erased", REASON_MAX)
    records = list(db.session().scalars(select(RetentionRecord).where(
        about(request), RetentionRecord.owning_org_id == actor.organisation_id,
        RetentionRecord.record_class.in_(_classes(request, record_class)),
        RetentionRecord.status != RetentionStatus.destroyed)))
    if outcome is Outcome.erase and holding.held:
        raise Invalid({"outcome": f"{holding.held} of these records {'is' if holding.held == 1 else 'are'} under a "
                                  "legal hold: lift the hold first, or keep them (Art 17(3)(e) for a claim)"})
    with unit_of_work() as s:
        now = utcnow()
        decision = ErasureDecision(request_id=request.id, organisation_id=actor.organisation_id,
                                   record_class=record_class, outcome=outcome, reason=reason, records=len(records),
                                   decided_by_user_id=actor.id, decided_at=now)
        s.add(decision)
        if outcome is Outcome.erase:
            rule = erasure_rule(request.id)
            for record in records:
                record.status, record.rule, record.keep_reason = RetentionStatus.approved, rule, None
                record.decided_by_user_id, record.decided_at = actor.id, now
        s.flush()
        audit.record("update", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail={"decision": outcome.value, "record_class": record_class.value,
                                               "records": len(records), "organisation": actor.organisation_id})
    return decision


# --- the reply -----------------------------------------------------------------------------------

@dataclass
class Reply:
    view: RequestView
    prepared_by: User
    prepared_at: datetime


def _answerable(actor: User, request_id: int) -> tuple[ErasureRequest, RequestView]:
    request = load_or_refuse(actor, ErasureRequest, request_id, action=CHANGE)
    view = _view(actor, request)
    if not view.complete:
        raise Invalid({"reply": f"{view.undecided} agency decision{'s are' if view.undecided != 1 else ' is'} still "
                                "to be made: the reply can be produced once every agency has decided"})
    return request, view


def reply(actor: User, request_id: int) -> Reply:
    """The reply to the requester, printable: only the receiving organisation's DPO, once every
    agency has decided. Audited as an export (it leaves the hub on paper)."""
    request, view = _answerable(actor, request_id)
    with unit_of_work():
        audit.record("export", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail={"format": "reply", "decisions": len(view.holdings)})
    return Reply(view, actor, utcnow())


def answer(actor: User, request_id: int) -> ErasureRequest:
    """The reply was sent: the request is answered (no decision can be added after)."""
    request, _view_ = _answerable(actor, request_id)
    if request.status == RequestStatus.answered:
        raise Invalid({"reply": "This request has already been answered"})
    with unit_of_work():
        request.status, request.answered_at, request.answered_by_user_id = RequestStatus.answered, utcnow(), actor.id
        audit.record("update", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail={"status": "answered"})
    return request
