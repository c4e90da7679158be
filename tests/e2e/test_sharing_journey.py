"""A social worker shares with a school and health without consent, with a legal basis and a
rationale; the school's DSL sees it; another school's DSL does not."""

from __future__ import annotations

from hub.auth.roles import OrgKind, Role
from tests.e2e.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD, enrol, make_child, make_org, make_user


def test_a_social_worker_shares_and_only_the_recipients_see_it(browser, live_server):
    la = make_org(OrgKind.childrens_social_care)
    school, other_school, health = make_org(OrgKind.school), make_org(OrgKind.school), make_org(OrgKind.health)
    worker, worker_secret = make_user(la, Role.social_worker)
    manager, _ = make_user(la, Role.social_worker)
    dsl, dsl_secret = make_user(school, Role.dsl)
    other_dsl, other_secret = make_user(other_school, Role.dsl)
    child = make_child("Marlow", "Quinton", responsible_authority_id=la.id)
    enrol(child, school)

    page = browser.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server, worker.email, PASSWORD, worker_secret)
    page.goto(f"{live_server}/children/{child.id}")
    assert_accessible(page)
    page.get_by_role("link", name="Share information about this child").click()
    assert_accessible(page)
    page.get_by_label("Summary").fill("Seen with older males at the station")
    page.get_by_label("The information").fill("Twice this week after school, getting into a car.")
    page.get_by_label("Why are you sharing it?").fill("So the school can watch for pick-ups")
    page.get_by_label(school.name).check()
    page.get_by_label(health.name).check()
    page.get_by_label("Public task (6(1)(e))").check()
    page.get_by_label("Statutory gateway").select_option("CA2004-s11")
    page.get_by_label("Which organisation or role, or the third party's relationship to the child").fill("Missing team")
    from datetime import date

    today = date.today()
    page.locator("#obtained_on-day").fill(str(today.day))
    page.locator("#obtained_on-month").fill(str(today.month))
    page.locator("#obtained_on-year").fill(str(today.year))
    page.get_by_label("Consent is not needed: another basis applies").check()
    page.get_by_label("Why is consent not needed?").select_option("would_place_at_risk")
    page.get_by_label("Why sharing without consent is necessary and proportionate").fill(
        "Asking the family would warn the adults involved.")
    page.get_by_label("Who authorised sharing without consent?").select_option(label=manager.name)
    page.get_by_label("No", exact=True).check()
    page.get_by_label("Why not?").fill("It could place the child at risk.")
    page.get_by_role("button", name="Share").click()
    if "Shared." not in page.content():
        page.screenshot(path="/tmp/share_fail.png", full_page=True)
        raise AssertionError(page.locator(".govuk-error-summary").inner_text())
    share_url = page.url
    assert_accessible(page)
    page.context.close()

    dsl_page = browser.new_page()
    sign_in(dsl_page, live_server, dsl.email, PASSWORD, dsl_secret)
    dsl_page.get_by_role("link", name="Sharing").click()
    dsl_page.get_by_role("link", name="Seen with older males at the station").click()
    assert "getting into a car" in dsl_page.get_by_test_id("share-content").inner_text()
    assert_accessible(dsl_page)
    dsl_page.context.close()

    other = browser.new_page()
    sign_in(other, live_server, other_dsl.email, PASSWORD, other_secret)
    response = other.goto(share_url)
    assert response.status == 404 and "getting into a car" not in other.content()
    other.context.close()
