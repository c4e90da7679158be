"""The API tests' world (tests/support/api.py)."""

from __future__ import annotations

import pytest

from tests.support.api import ApiWorld, api_world


@pytest.fixture
def world(app) -> ApiWorld:
    return api_world()
