"""Organisations and their single sign-on, as read by sign-in, administration and every page that
lists organisations (administration changes them: hub/admin/)."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.errors import NotFound
from hub.models.auth import Organisation, SsoProvider, User
from hub.models.roles import OrgKind

# --- organisations and their single sign-on, as read by sign-in, administration and every page
# that lists organisations (administration changes them: hub.admin.service) ----------------------

def organisations(kind: OrgKind | None = None) -> list[Organisation]:
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return list(db.session().scalars(query))


def get_organisation(org_id: int) -> Organisation:
    org = db.session().get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def recipients_for(actor: User) -> list[Organisation]:
    """The organisations an actor may share with, or name in a consent: every active one but their own."""
    return list(db.session().scalars(select(Organisation).where(
        Organisation.active.is_(True), Organisation.id != actor.organisation_id).order_by(Organisation.name)))


def organisation_by_code(code: str) -> Organisation | None:
    return db.session().scalar(select(Organisation).where(Organisation.code == code.strip().upper()))


def sso_provider_for(org_id: int) -> SsoProvider | None:
    return db.session().scalar(select(SsoProvider).where(SsoProvider.organisation_id == org_id))
