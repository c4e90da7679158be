"""The API tests' world: a police force with API clients, a child at a school with key adults; and
the token helpers."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

from hub.api import service as api
from hub.db import utcnow
from hub.models.auth import Organisation, User
from hub.models.people import Child, IdentifierKind
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user, valid_nhs_number

READ_WRITE = "episodes:read episodes:write"


@dataclass
class ApiWorld:
    la_edu: Organisation
    school: Organisation
    police: Organisation
    other_police: Organisation
    nhs_number: str
    child: Child
    dsl: User
    deputy: User
    #: The force's system (read and write), its dashboard (read only), another force's system.
    client: api.NewClient
    reader: api.NewClient
    other: api.NewClient


def api_world() -> ApiWorld:
    la_edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    police, other_police = make_org(OrgKind.police), make_org(OrgKind.police)
    nhs_number = valid_nhs_number(4242)
    child = make_child("Api", "Child", identifiers={IdentifierKind.nhs_number: nhs_number,
                                                    IdentifierKind.police_id: "PID-API-1"})
    enrol(child, school)
    dsl, deputy = make_user(school, Role.dsl)[0], make_user(school, Role.deputy_dsl)[0]
    return ApiWorld(la_edu=la_edu, school=school, police=police, other_police=other_police, nhs_number=nhs_number,
                    child=child, dsl=dsl, deputy=deputy,
                    client=api.create_client(police.code, "Force system", READ_WRITE),
                    reader=api.create_client(police.code, "Force dashboard", "episodes:read"),
                    other=api.create_client(other_police.code, "Other force system", READ_WRITE))


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
