"""The sharing forms, fuzzed (tests/support/form_fuzz.py): each page of the share journey, the
decision not to share, a correction, an onward share and revoking a recipient's access."""

from __future__ import annotations

import pytest

from hub.sharing import steps
from tests.factories import make_share
from tests.support.form_fuzz import fuzz
from tests.support.sharing import draft, pages_client, pages_world


@pytest.fixture
def world(app):
    return pages_world()


@pytest.fixture
def worker(app, world):
    return pages_client(app, world, "worker")


@pytest.mark.parametrize("slug", [step.slug for step in steps.STEPS])
def test_each_page_of_the_share_journey(world, worker, slug):
    page = f"/sharing/new/{world['child'].id}" + ("" if slug == "what" else f"/{slug}")
    assert fuzz(worker, page) >= 1


def test_the_decision_not_to_share_form(world, worker):
    assert fuzz(worker, f"/sharing/decision/{world['child'].id}") >= 3


def test_the_correction_onward_and_revoke_forms(app, world):
    corrected, revoked, passed_on = (make_share(world["worker"], draft(world)) for _ in range(3))
    worker, dsl = pages_client(app, world, "worker"), pages_client(app, world, "dsl")
    assert fuzz(worker, f"/sharing/{corrected.id}/correct") >= 8
    assert fuzz(worker, f"/sharing/{revoked.id}", f"/sharing/{revoked.id}/revoke") == 2
    assert fuzz(dsl, f"/sharing/{passed_on.id}/onward") >= 5
