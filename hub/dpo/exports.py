"""Exports of the audit log: JSON with its proofs, and a DPO's filtered spreadsheet; each audited."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.export import build_export
from hub.db import unit_of_work
from hub.dpo.integrity import _integrate_for_check
from hub.dpo.scope import _child_names, _require, _scoped
from hub.dpo.search import EventFilter, _names
from hub.errors import Invalid
from hub.exports import write_xlsx
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.permissions import is_hub_dpo

# --- exports ------------------------------------------------------------------------------------

def export_json(actor: User | None, prove_from: int | None = None, **filters) -> dict:
    """Signed JSON export; from the command line (actor None) or by a DPO (scoped to what they see).
    Invalid, naming what is wrong, when the log does not verify well enough to be signed."""
    seqs = None
    if (failed := _integrate_for_check()) is not None:  # the export holds sequenced entries only
        raise Invalid({"": f"The audit log cannot be exported now: {failed}"})
    if actor is not None:
        _require(actor)
        if not is_hub_dpo(actor) or filters.get("user_id") or filters.get("organisation_id") or \
                filters.get("action") or filters.get("outcome"):
            query = _scoped(actor, EventFilter(**filters).apply(select(AuditEvent.seq)))
            seqs = list(db.session().scalars(query))
    try:
        data = build_export(child_id=filters.get("child_id"), date_from=filters.get("date_from"),
                            date_to=filters.get("date_to"), seqs=seqs, prove_from=prove_from)
    except audit_tree_heads.SigningRefused as refused:
        raise Invalid({"": "The audit log cannot be exported: the hub will not sign it, because "
                           + "; ".join(refused.problems)}) from refused
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.get("child_id"),
                     basis="role:dpo" if actor else "operator", detail={
                         "format": "json", "entries": len(data["entries"]),
                         "filters": EventFilter(**filters).as_detail()})
    return data


XLSX_HEADERS = ["Sequence", "Time (UTC)", "Outcome", "Action", "User id", "User", "Organisation", "Roles",
                "Signed in with", "Object type", "Object id", "Child id", "Child", "Basis of access", "Purpose",
                "Legal basis", "Request id", "Client address", "Detail"]


def export_xlsx(actor: User, filters: EventFilter) -> bytes:
    _require(actor)
    filters.validate()
    query = _scoped(actor, filters.apply(select(AuditEvent))).order_by(AuditEvent.id)
    events = list(db.session().scalars(query))
    users, orgs = _names(events)
    children = _child_names(actor, {e.child_id for e in events if e.child_id})  # named where the DPO may see
    rows = ([e.seq, e.occurred_at, e.outcome, e.action, e.actor_user_id,
             users[e.actor_user_id].name if e.actor_user_id in users else "",
             orgs[e.actor_org_id].name if e.actor_org_id in orgs else "", e.actor_roles, e.auth_method,
             e.object_type, e.object_id, e.child_id, children.get(e.child_id, ""), e.access_basis, e.purpose,
             e.legal_basis, e.request_id,
             e.client_address, e.detail] for e in events)
    content = write_xlsx("Audit log", XLSX_HEADERS, rows)
    with unit_of_work():
        audit.record("export", actor=actor, object_type="audit-log", child_id=filters.child_id, basis="role:dpo",
                     detail={"format": "xlsx", "rows": len(events), "filters": filters.as_detail()})
    return content
