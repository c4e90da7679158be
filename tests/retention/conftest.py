"""The retention world (tests/support/retention.py); the empty database a restore goes into is
tests/conftest.py's `fresh_database_url`."""

from __future__ import annotations

import pytest

from tests.support.retention import World, build_world


@pytest.fixture
def world(app) -> World:
    return build_world()
