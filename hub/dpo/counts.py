"""Counts of the audit log's work, for the home page and the menu: the audit package answers for
its tables. A count only, so reading it is not audited."""

from __future__ import annotations

from sqlalchemy import func, select

from hub import db
from hub.models.audit import AuditFlag
from hub.models.auth import User
from hub.permissions import audit_flag_scope


def open_flags(user: User) -> int:
    """Open flags in the DPO's scope: every flag for the hub's DPO, their organisation's otherwise."""
    query = select(func.count()).select_from(AuditFlag).where(AuditFlag.status == "open")
    scope = audit_flag_scope(user)
    return db.session().scalar(query if scope is None else query.where(scope))
