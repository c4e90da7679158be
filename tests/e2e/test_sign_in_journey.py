"""A designated safeguarding lead signs in with password and TOTP in a real browser."""

from __future__ import annotations

import dataclasses

import pytest

from hub.missing import service as missing
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, enrol, episode_details, involve, make_child, make_org, make_user
from tests.support.browser import assert_accessible, sign_in


def test_a_dsl_signs_in_and_reaches_the_home_page_and_their_pupils(app, page, live_server, tmp_path):
    app.config["HUB"] = dataclasses.replace(app.config["HUB"], demo=True)  # the demo banner is checked too
    school = make_org(OrgKind.school)
    user, secret = make_user(school, Role.dsl)
    child = make_child("Juniper", "Ashcombe")
    enrol(child, school)
    police = make_org(OrgKind.police)
    involve(child, police, "missing-person record")
    officer, _ = make_user(police, Role.police_officer)
    for reference in ("MP/26/0101", "MP/26/0102"):  # two episodes: two new notifications for the DSL
        missing.record_episode(officer, child.id, episode_details(police_reference=reference))
    sign_in(page, live_server, user.email, PASSWORD, secret)
    page.get_by_role("heading", name="Safeguarding hub", level=1).wait_for()
    # The home page is the DSL's work, and the menu carries the same count.
    assert "2 notifications" in page.get_by_test_id("work-notifications").inner_text()
    assert page.get_by_role("navigation", name="Menu").get_by_role("link", name="Notifications (2)").is_visible()
    banner = page.get_by_test_id("signed-in-as").inner_text()
    assert user.name in banner and school.name in banner
    assert page.get_by_role("banner").get_by_text("fictional demonstration").is_visible()
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    page.get_by_role("link", name="Children").first.click()
    assert "Juniper Ashcombe" in page.get_by_test_id("children").inner_text()
    # Search by the start of a name, and by a misspelling that sounds the same.
    for typed in ("Juni", "Junipur Ashcom"):
        page.get_by_label("Name, date of birth or identifier").fill(typed)
        page.get_by_role("button", name="Search").click()
        assert "Juniper Ashcombe" in page.get_by_test_id("children").inner_text(), typed
    assert_accessible(page)
    assert not page.console_errors  # no CSP violation, no missing asset


def test_a_wrong_password_shows_the_error_summary(page, live_server):
    school = make_org(OrgKind.school)
    user, _ = make_user(school, Role.dsl)
    page.goto(f"{live_server}/auth/sign-in")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator(".govuk-error-summary")
    assert "There is a problem" in summary.inner_text()
    assert "The e-mail address or password is not right" in summary.inner_text()
    assert_accessible(page)


def test_the_accessibility_check_fails_on_content_outside_a_landmark(page, live_server):
    page.goto(f"{live_server}/auth/sign-in")
    assert_accessible(page)
    page.evaluate("() => document.body.insertAdjacentHTML('afterbegin', '<p>Outside every landmark</p>')")
    with pytest.raises(AssertionError, match='"rule": "region"'):
        assert_accessible(page)
