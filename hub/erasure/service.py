"""Erasure requests (UK GDPR Art 17): recording one, what each agency holds about the child, each
agency's decision for each class of its records, and the reply.

Every change checks permission (hub.permissions), applies the rule and writes its audit event in
the same transaction. The audit events carry ids, classes, outcomes and counts, never who asked,
what they asked or a decision's reason (those may name people: they are kept, encrypted, on the
rows).

An "erase" decision approves its records' destruction at once, whatever their review date: the
worker destroys them by the one destroy step (which refuses a record under a legal hold) and
their retention rows keep the rule "erasure: UK GDPR Art 17(1), request N", which the destruction
certificate and the child's subject access pack then name. A class under a standing legal hold
cannot be erased: the hold is lifted first, or the records kept (Art 17(3)(e) for a claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.models.auth import Organisation, User
from hub.models.erasure import ErasureDecision, ErasureRequest, Outcome, RequestStatus
from hub.models.people import Child
from hub.models.retention import RecordClass, RetentionRecord, RetentionStatus
from hub.permissions import (
    CHANGE,
    erasure_child_named,
    load_or_refuse,
    may_decide_for,
    may_handle_erasure,
    may_record_erasure,
    refuse,
    visible_clause,
)
from hub.retention import rules
from hub.retention.holds import held

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


def suggested(record_class: RecordClass) -> Outcome:
    return SUGGESTED.get(record_class, Outcome.keep_legal_obligation)


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


def record_request(actor: User, details: RequestDetails, today: date) -> ErasureRequest:
    """A DPO records a request about a child their organisation holds (the hub's DPO: any child)."""
    if not may_handle_erasure(actor):
        refuse(actor, OBJECT_TYPE, None, action=CHANGE)
    if details.child_id is None:
        raise Invalid({"child_id": "Enter the child's hub number"})
    if not may_record_erasure(actor, details.child_id):
        refuse(actor, "child", details.child_id, details.child_id, action=CHANGE)
    if details.received_on is None or details.received_on > today:
        raise Invalid({"received_on": "Enter the day the request was received, today or before"})
    requester = _text(details.requester, "requester", "Say who asked (the young person, a parent)", 200)
    asked = _text(details.request_text, "request_text", "Say what they asked to be erased", TEXT_MAX)
    with unit_of_work() as s:
        request = ErasureRequest(organisation_id=actor.organisation_id, child_id=details.child_id,
                                 received_on=details.received_on, requester=requester, request_text=asked,
                                 recorded_by_user_id=actor.id)
        s.add(request)
        s.flush()
        audit.record("create", actor=actor, object_type=OBJECT_TYPE, object_id=request.id, child_id=request.child_id,
                     basis="role:dpo", detail={"received_on": details.received_on.isoformat()})
    return request


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

    @property
    def complete(self) -> bool:
        return all(h.decision is not None for h in self.holdings)

    @property
    def undecided(self) -> int:
        return sum(1 for h in self.holdings if h.decision is None)


def _holdings(actor: User, request: ErasureRequest) -> list[Holding]:
    """Each (agency, class) holding records about the child, or that held records erased under
    this request, or that decided: counts only, no record's content."""
    session = db.session()
    remaining = RetentionRecord.status != RetentionStatus.destroyed
    rows = session.execute(
        select(RetentionRecord.owning_org_id, RetentionRecord.record_class,
               func.sum(case((remaining, 1), else_=0)),
               func.sum(case(((RetentionRecord.status == RetentionStatus.destroyed)
                              & (RetentionRecord.rule == erasure_rule(request.id)), 1), else_=0)),
               func.sum(case((remaining & held(), 1), else_=0)))
        .where(RetentionRecord.child_id == request.child_id)
        .group_by(RetentionRecord.owning_org_id, RetentionRecord.record_class)).all()
    decisions = {(d.organisation_id, d.record_class): d for d in session.scalars(
        select(ErasureDecision).where(ErasureDecision.request_id == request.id))}
    found = {(org, cls): (int(left or 0), int(erased or 0), int(on_hold or 0)) for org, cls, left, erased, on_hold
             in rows if (left or erased or (org, cls) in decisions)}
    for key in decisions:
        found.setdefault(key, (0, 0, 0))
    names = dict(session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({org for org, _ in found}))).all())
    holdings = [Holding(org, names.get(org, f"Organisation {org}"), cls, left, erased, on_hold,
                        decisions.get((org, cls)), suggested(cls), may_decide_for(actor, org))
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
                     children=[r.child_id for r in requests])


def named_children(actor: User, requests: list[ErasureRequest]) -> dict[int, Child]:
    """The children the list may name to this DPO (the others by hub number)."""
    ids = {r.child_id for r in requests if erasure_child_named(actor, r.child_id)}
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
    child = db.session().get(Child, request.child_id) if erasure_child_named(actor, request.child_id) else None
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
        RetentionRecord.child_id == request.child_id, RetentionRecord.owning_org_id == actor.organisation_id,
        RetentionRecord.record_class == record_class, RetentionRecord.status != RetentionStatus.destroyed)))
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
