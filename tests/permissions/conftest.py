"""One compact world per test module (tests/permissions/world.py), asked many questions."""

from __future__ import annotations

import pytest

from hub import db
from tests.permissions.world import AccessWorld, build_access_world


@pytest.fixture(scope="module")
def world(module_app) -> AccessWorld:
    with module_app.app_context():
        built = build_access_world()
    return built


@pytest.fixture(autouse=True)
def _context(module_app, world):
    """Each test in the world's app and database (another module's app may have come between)."""
    db.bind(module_app.extensions["hub_engine"])
    with module_app.test_request_context():
        yield
    db.session.remove()
