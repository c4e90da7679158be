"""Fixtures of the reports' tests."""

from __future__ import annotations

import pytest

from tests.reports.picture import World, build


@pytest.fixture
def picture(app) -> World:
    """The hand-counted picture of tests/reports/picture.py."""
    return build()
