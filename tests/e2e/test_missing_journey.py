"""A police coordinator uploads the daily download (imported in the background); the DSL of the child's school sees the
notification, opens it, acknowledges it and tells the police the child is at school; the missing
team sees it acknowledged and the child seen at school."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl

from hub.db import utcnow
from hub.missing.imports import batches as import_batches
from hub.missing.imports.download import COLUMNS
from hub.models.people import IdentifierKind
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, enrol, make_child, make_org, make_user
from tests.support.browser import assert_accessible, sign_in


def _download(police_id: str) -> bytes:
    """A daily download in the hub's template, one row, made by openpyxl as a force would."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([c.heading for c in COLUMNS])
    started = (utcnow() - timedelta(hours=5)).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    row = {"police_reference": "MP/26/4242", "reported_start": started.strftime("%Y-%m-%d %H:%M"),
           "classification": "Missing", "risk_grade": "High", "missing_from": "Care placement",
           "police_id": police_id}
    sheet.append([row.get(c.field, "") for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_download_reaches_the_school_and_the_missing_team_sees_it_acknowledged(browser, live_server, tmp_path):
    la_edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    other_school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    police = make_org(OrgKind.police)
    csc = make_org(OrgKind.childrens_social_care)
    coordinator, coordinator_secret = make_user(police, Role.police_officer)
    dsl, dsl_secret = make_user(school, Role.dsl)
    other_dsl, other_secret = make_user(other_school, Role.dsl)
    team, team_secret = make_user(csc, Role.social_worker)
    child = make_child("Robin", "Ashcombe", responsible_authority_id=csc.id,
                       identifiers={IdentifierKind.police_id: "NB/P/4242"})
    enrol(child, school)
    upload = tmp_path / "daily-download.xlsx"
    upload.write_bytes(_download("NB/P/4242"))

    page = browser.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, coordinator.email, PASSWORD, coordinator_secret)
    page.get_by_role("link", name="Missing", exact=True).click()
    page.get_by_role("link", name="Import the police daily download").click()
    page.set_input_files("input[type=file]", str(upload))
    page.get_by_role("button", name="Import").click()
    # The request returns at once: the file waits for the worker, and the page says so.
    assert "Queued" in page.get_by_test_id("progress").inner_text()
    assert_accessible(page)
    # One cycle of the worker, in-process (the delivery worker runs this each cycle); the page, which
    # follows the progress in place, then offers the summary.
    assert import_batches.run_queued("e2e-worker") is not None
    page.get_by_test_id("see-summary").click(timeout=30_000)  # the page's script saw it finish
    page.get_by_test_id("summary").wait_for(timeout=30_000)
    assert page.get_by_test_id("count-created").inner_text() == "1", page.content()[-3000:]
    assert_accessible(page)
    page.context.close()

    dsl_page = browser.new_page()
    sign_in(dsl_page, live_server, dsl.email, PASSWORD, dsl_secret)
    dsl_page.get_by_role("navigation", name="Menu").get_by_role("link", name=re.compile(r"^Notifications")).click()
    assert "New" in dsl_page.get_by_test_id("inbox").inner_text()
    assert_accessible(dsl_page)
    dsl_page.get_by_role("link", name="Robin Ashcombe").click()
    assert "MP/26/4242" in dsl_page.content() and police.name in dsl_page.content()
    dsl_page.get_by_label("What did the school do? (optional)").fill("Not in school today; parents called")
    dsl_page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged" in dsl_page.get_by_test_id("acknowledged").inner_text()
    # Two-way: the child turns up, and the DSL tells the force (the time seen defaults to now).
    dsl_page.get_by_label("Anything the police should know (optional)").fill("Arrived late with a carer")
    dsl_page.get_by_role("button", name="Tell the police the child is at school").click()
    assert "The child is at school" in dsl_page.get_by_test_id("replies").inner_text()
    assert_accessible(dsl_page)
    dsl_page.context.close()

    other_page = browser.new_page()
    sign_in(other_page, live_server, other_dsl.email, PASSWORD, other_secret)
    other_page.goto(f"{live_server}/notifications")
    assert "Robin Ashcombe" not in other_page.content()
    other_page.context.close()

    team_page = browser.new_page()
    sign_in(team_page, live_server, team.email, PASSWORD, team_secret)
    team_page.get_by_role("link", name="Missing", exact=True).click()
    assert "Acknowledged" in team_page.get_by_test_id("school-status").inner_text()
    assert "Seen at school" in team_page.get_by_test_id("seen-at-school").inner_text()
    assert_accessible(team_page)
    team_page.get_by_role("link", name="Robin Ashcombe").click()
    told = team_page.get_by_test_id("schools-told").inner_text()
    # One honest status per school: it replied (seen at school), after acknowledging with what it did.
    assert school.name in told and "Replied" in told and "acknowledged" in told and "parents called" in told
    assert school.name in team_page.get_by_test_id("seen-at-school-banner").inner_text()
    assert_accessible(team_page)
    team_page.context.close()
