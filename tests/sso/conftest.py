"""Police force POL01 signing in through the module's provider (each module starts its own)."""

from __future__ import annotations

import pytest

from hub.admin import service as admin
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user
from tests.sso.harness import SECRET


@pytest.fixture
def police(app, provider):
    provider.set_faults({})
    org = make_org(OrgKind.police, code="POL01")
    admin.set_sso(None, org.id, provider.issuer, "hub-test", SECRET)
    user, _ = make_user(org, Role.police_officer, email="alice@police.example.test", password=None, totp=False)
    return org, user
