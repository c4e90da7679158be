"""A data protection officer reviews a child's accesses, verifies the log and downloads xlsx."""

from __future__ import annotations

from openpyxl import load_workbook

from hub.dpo import integrity as dpo_integrity
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from tests.factories import PASSWORD, enrol, make_child, make_org, make_user
from tests.support.browser import assert_accessible, sign_in


def test_a_dpo_filters_to_a_child_verifies_integrity_and_downloads_the_xlsx(page, live_server, tmp_path):
    host, school = make_org(OrgKind.mace_host), make_org(OrgKind.school)
    dsl, _ = make_user(school, Role.dsl)
    dpo, secret = make_user(host, Role.dpo)
    child = make_child("Rowan", "Featherstone")
    enrol(child, school)
    people.get_child(dsl, child.id, purpose="view record")

    sign_in(page, live_server, dpo.email, PASSWORD, secret)
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("Child", exact=True).fill("Rowan Featherstone")  # found as everyone finds a child
    page.get_by_role("button", name="Filter").click()
    events = page.get_by_test_id("audit-events").inner_text()
    assert dsl.name in events and "enrolment" in events and "view record" in events
    assert_accessible(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as spreadsheet (xlsx)").click()
    path = tmp_path / "audit.xlsx"
    download.value.save_as(path)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert rows[0][0] == "Sequence" and any(r[5] == dsl.name and r[11] == child.id for r in rows[1:])

    page.get_by_role("link", name="Integrity").click()
    page.get_by_role("button", name="Verify now").click()
    # The check runs in the background: the page shows it waiting, the worker runs it, and the
    # page's script sees it finish and offers the result.
    assert "The check has started" in page.locator(".govuk-notification-banner").inner_text()
    page.get_by_test_id("progress").wait_for()
    assert_accessible(page)
    assert dpo_integrity.run_queued_verifications() == 1
    page.get_by_test_id("see-summary").click(timeout=30_000)
    assert "Verified" in page.locator(".govuk-summary-list").inner_text()
    assert_accessible(page)
    page.goto(f"{live_server}/subject-access/{child.id}")
    page.get_by_role("heading", name="Rowan Featherstone", level=1).wait_for()
    assert_accessible(page)
    assert not page.console_errors  # no CSP violation, no missing asset
