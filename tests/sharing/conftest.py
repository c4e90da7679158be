"""The register's world (tests/support/sharing.py), for the sharing tests that do not build another."""

from __future__ import annotations

import pytest

from tests.support.sharing import register_world


@pytest.fixture
def world(app) -> dict:
    return register_world()
