"""Statutory gateways a share may name: the national list and the locality's own, which a hub
administrator adds and retires."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.auth import User
from hub.models.sharing import LocalGateway
from hub.permissions import may_administer
from hub.sharing import legal_bases

LONDON = ZoneInfo("Europe/London")


# --- local gateways -----------------------------------------------------------------------------

def local_gateways(include_retired: bool = False) -> list[LocalGateway]:
    query = select(LocalGateway).order_by(LocalGateway.label)
    if not include_retired:
        query = query.where(LocalGateway.active.is_(True))
    return list(db.session().scalars(query))


def london_today() -> date:
    """The day a share made now is made on, as the law counts it (England: London time)."""
    return utcnow().astimezone(LONDON).date()


def gateways(on: date | None = None) -> list[legal_bases.LegalBasis]:
    """The statutory gateways a share made on the day (today) may name, which every form offers:
    the national list, then the locality's own; a provision enacted but not in force on the day
    is not among them (legal_bases.COMMENCEMENT)."""
    return legal_bases.offered(legal_bases.GATEWAYS + [legal_bases.LegalBasis(g.code, g.label, g.explanation)
                                                       for g in local_gateways()], on or london_today())


def _require_hub_admin(actor: User, object_id: int | None = None) -> None:
    if not may_administer(actor):
        audit.record_refusal(actor, "local-gateway", object_id, action="update")
        raise Forbidden("Only a hub administrator can change the list of gateways")


def add_local_gateway(actor: User, code: str, label: str, explanation: str) -> LocalGateway:
    """An administrator adds a local gateway (a local protocol or a power the national list lacks)."""
    _require_hub_admin(actor)
    code, label, explanation = (code or "").strip().upper(), (label or "").strip(), (explanation or "").strip()
    errors: dict[str, str] = {}
    if not re.fullmatch(r"LOCAL-[A-Z0-9][A-Z0-9\-]{1,33}", code):
        errors["code"] = ("Enter a code starting LOCAL- followed by capital letters, digits or -, "
                          "like LOCAL-MACE-PROTOCOL")
    elif code in legal_bases.BY_CODE["gateway"] or db.session().scalar(
            select(LocalGateway.id).where(LocalGateway.code == code)):
        errors["code"] = "There is already a gateway with that code"
    if not label:
        errors["label"] = "Enter the gateway's name, as practitioners will see it"
    if not explanation:
        errors["explanation"] = "Explain in plain English when it allows sharing"
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        gateway = LocalGateway(code=code, label=label[:200], explanation=explanation[:500], added_by_user_id=actor.id)
        s.add(gateway)
        s.flush()
        audit.record("create", actor=actor, object_type="local-gateway", object_id=gateway.id,
                     detail={"code": code})
    return gateway


def set_local_gateway_active(actor: User, gateway_id: int, active: bool) -> LocalGateway:
    """Retire (or bring back) a local gateway. Never deleted: earlier shares keep naming it."""
    _require_hub_admin(actor, gateway_id)
    with unit_of_work() as s:
        gateway = s.get(LocalGateway, gateway_id)
        if gateway is None:
            raise NotFound("gateway not found")
        gateway.active = active
        audit.record("update", actor=actor, object_type="local-gateway", object_id=gateway.id,
                     detail={"code": gateway.code, "active": active})
    return gateway
