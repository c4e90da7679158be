"""A police force with an API client, a child at a school with key adults, and token helpers."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from hub.api import service as api
from hub.auth.roles import OrgKind, Role
from hub.db import utcnow
from hub.people.models import IdentifierKind
from tests.factories import enrol, make_child, make_org, make_user, valid_nhs_number

READ_WRITE = "episodes:read episodes:write"


class World:
    pass


@pytest.fixture
def world(app):
    w = World()
    w.la_edu = make_org(OrgKind.la_education)
    w.school = make_org(OrgKind.school, local_authority_id=w.la_edu.id)
    w.police = make_org(OrgKind.police)
    w.other_police = make_org(OrgKind.police)
    w.nhs_number = valid_nhs_number(4242)
    w.child = make_child("Api", "Child", identifiers={IdentifierKind.nhs_number: w.nhs_number,
                                                      IdentifierKind.police_id: "PID-API-1"})
    enrol(w.child, w.school)
    w.dsl, _ = make_user(w.school, Role.dsl)
    w.deputy, _ = make_user(w.school, Role.deputy_dsl)
    w.client = api.create_client(w.police.code, "Force system", READ_WRITE)
    w.reader = api.create_client(w.police.code, "Force dashboard", "episodes:read")
    w.other = api.create_client(w.other_police.code, "Other force system", READ_WRITE)
    return w


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_token(http, new_client, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = http.post("/api/v1/oauth/token", data=data,
                         headers=basic(new_client.client.client_id, new_client.secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def episode_body(**overrides) -> dict:
    body = {
        "child": {"police_id": "PID-API-1"},
        "police_reference": "MP/26/API/1",
        "reported_start": (utcnow() - timedelta(hours=2)).isoformat(),
        "classification": "missing",
        "risk_grade": "medium",
        "missing_from": "home",
    }
    body.update(overrides)
    return body
