"""Local statutory gateways: an administrator adds them, practitioners can then name them in a
share, retired ones cannot be chosen for new shares, and nobody else can change the list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import Forbidden, Invalid
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.roles import OrgKind, Role
from hub.models.sharing import LocalGateway
from hub.sharing import gateways as share_gateways
from hub.sharing import service
from hub.sharing.legal_bases import BasisChoice
from tests.factories import make_org, make_user, post_form, sign_in
from tests.support.sharing import draft


@pytest.fixture
def admin(app):
    user, secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    client = app.test_client()
    sign_in(client, user, secret)
    return client, user


def _gateways() -> int:
    return db.session().scalar(select(func.count()).select_from(LocalGateway))


def test_an_administrator_adds_a_gateway_and_a_practitioner_can_name_it(admin, world):
    client, user = admin
    response = post_form(client, "/admin/gateways", {
        "code": "local-missing-protocol", "label": "Northbridge missing children protocol 2026",
        "explanation": "Partners share what helps find a missing child under the local protocol."})
    assert response.status_code == 302
    assert "LOCAL-MISSING-PROTOCOL" in client.get("/admin/gateways").get_data(as_text=True)
    worker = db.session().get(User, world["worker"].id)  # the page request closed the test's session
    share = service.create_share(worker, draft(world, bases=BasisChoice(
        article_6="6(1)(e)", gateway="LOCAL-MISSING-PROTOCOL")))
    assert share.gateway == "LOCAL-MISSING-PROTOCOL"
    assert db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "local-gateway",
                                                        AuditEvent.actor_user_id == user.id)) is not None


def test_the_share_form_offers_it_and_a_retired_one_is_refused_for_new_shares(admin, world):
    _, user = admin
    gateway = share_gateways.add_local_gateway(user, "LOCAL-EXAMPLE", "Example protocol", "For the tests.")
    assert "LOCAL-EXAMPLE" in [g.code for g in share_gateways.gateways()]
    share_gateways.set_local_gateway_active(user, gateway.id, False)
    assert "LOCAL-EXAMPLE" not in [g.code for g in share_gateways.gateways()]
    with pytest.raises(Invalid) as refused:
        service.create_share(world["worker"], draft(world, bases=BasisChoice(article_6="6(1)(e)",
                                                                            gateway="LOCAL-EXAMPLE")))
    assert "gateway" in refused.value.errors


@pytest.mark.parametrize("code, label, field", [
    ("MISSING", "A name", "code"),               # not LOCAL-
    ("LOCAL-X Y", "A name", "code"),             # a space
    ("LOCAL-EXAMPLE", "", "label"),
])
def test_bad_entries_are_refused_with_a_message_and_nothing_is_stored(admin, code, label, field):
    client, _ = admin
    response = post_form(client, "/admin/gateways", {"code": code, "label": label, "explanation": "Why"})
    assert response.status_code == 200
    assert "govuk-error-summary" in response.get_data(as_text=True)
    assert _gateways() == 0


def test_a_duplicate_code_is_refused(admin):
    _, user = admin
    share_gateways.add_local_gateway(user, "LOCAL-EXAMPLE", "Example", "For the tests.")
    with pytest.raises(Invalid) as refused:
        share_gateways.add_local_gateway(user, "local-example", "Again", "Again.")
    assert refused.value.errors["code"] == "There is already a gateway with that code"
    with pytest.raises(Invalid):
        share_gateways.add_local_gateway(user, "CA1989-s47", "National", "Already national.")
    assert _gateways() == 1


def test_only_an_administrator_changes_the_list(app, world):
    client = app.test_client()
    dsl, secret = make_user(world["school"], Role.dsl)
    sign_in(client, dsl, secret)
    assert post_form(client, "/admin/gateways", {"code": "LOCAL-SNEAKY", "label": "x", "explanation": "x"},
                     form_page="/auth/account").status_code == 403
    with pytest.raises(Forbidden):
        share_gateways.add_local_gateway(db.session().get(User, world["worker"].id), "LOCAL-SNEAKY", "x", "x")
    assert _gateways() == 0
