"""The missing-episode and notification forms, fuzzed (tests/support/form_fuzz.py): reporting a
child missing, the episode's progress (found, return interview, closure), a school's
acknowledgement, "seen at school", information passed on to the police, and INSET days."""

from __future__ import annotations

from tests.factories import notify_key_adults, report_episode, signed_in_client
from tests.support.form_fuzz import fuzz


def test_the_report_missing_form(app, world):
    officer = signed_in_client(app, world.officer.id)
    assert fuzz(officer, f"/missing/new/{world.child.id}") >= 6


def test_the_episode_progress_form(app, world):
    episode = report_episode(world.officer, world.child)
    officer = signed_in_client(app, world.officer.id)
    assert fuzz(officer, f"/missing/{episode.id}") >= 10


def test_the_forms_of_a_school_notification(app, world):
    # One episode's notification for "seen at school" and the information (either acknowledges it
    # for the school), another's for the acknowledgement itself.
    told, other = (notify_key_adults(report_episode(world.officer, world.child))[0] for _ in range(2))
    page = f"/notifications/{told.id}"
    dsl = signed_in_client(app, told.user_id)
    assert fuzz(dsl, page, f"{page}/seen-at-school") >= 3
    assert fuzz(dsl, page, f"{page}/information") >= 1
    assert fuzz(signed_in_client(app, other.user_id), f"/notifications/{other.id}") == 1


def test_a_schools_inset_day_form(app, world):
    dsl = signed_in_client(app, world.dsl.id)
    assert fuzz(dsl, "/notifications/closures") >= 3
