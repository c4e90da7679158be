"""A MACE locality group's meeting, clicked through as its members would (issue 11): the chair
schedules a meeting and accepts the agenda proposals (two children of the area with new missing
episodes); a police member adds a place, links the two children to it and shares intelligence
about it; the chair records attendance, risk levels and an action, and records the meeting as
held; the school nurse records the health outcome with the health record reference; the other
agencies confirm theirs and the chair sees every agency confirmed; the network page of the place
shows the two children linked through it; a DSL of a school outside the group gets a 404."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, timedelta

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from hub.db import utcnow
from hub.mace.operations import outcomes
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.roles import OrgKind, Role
from tests.factories import PASSWORD, involve, make_org, make_user
from tests.support.browser import assert_accessible, signed_in_page

PLACE = "Rec ground behind the library"
#: The menu item, with the member's count of waiting work when there is some ("MACE (2)").
MENU_MACE = re.compile(r"^MACE( \(\d+\))?$")


def _missing_episode(child, reference: str) -> None:
    """A missing episode reported a few hours ago, recorded by an officer of a force involved."""
    force = make_org(OrgKind.police)
    involve(child, force)
    officer, _ = make_user(force, Role.police_officer)
    missing.record_episode(officer, child.id, missing_details.EpisodeDetails(
        police_reference=reference, reported_start=utcnow() - timedelta(hours=3),
        classification=Classification.missing, risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))


def _fill_date(scope, legend: str, day: date) -> None:
    group = scope.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def _signed_in(browser, live_server, who: tuple):
    return signed_in_page(browser, live_server, who, PASSWORD)


def _open_group(page, group_name: str) -> None:
    page.get_by_role("navigation", name="Menu").get_by_role("link", name=MENU_MACE).click()
    assert_accessible(page)
    page.get_by_role("link", name=group_name).click()


def _flash_ok(page, text: str) -> None:
    """The page the action led to says `text`: waited for (the click only starts the navigation,
    and on a busy machine reading the page at once reads the page before it)."""
    with suppress(PlaywrightTimeoutError):
        page.get_by_text(text).first.wait_for(timeout=30_000)
    if text not in page.content():
        summary = page.locator(".govuk-error-summary, .govuk-error-message")
        raise AssertionError(f"{text!r} not on {page.url}: "
                             f"{summary.all_inner_texts() if summary.count() else page.content()[-3000:]}")


def test_a_mace_meeting_from_proposals_to_every_agency_confirmed(browser, live_server, mace):
    first, second = mace.children[0], mace.children[1]
    _missing_episode(first, "MP/26/1101")
    _missing_episode(second, "MP/26/1102")
    today = date.today()

    # 1. The chair schedules a meeting and accepts the two children into the agenda.
    # The chair stays signed in for the whole journey (signing in again within one 30-second step
    # would replay the TOTP code, which the hub refuses).
    chair = _signed_in(browser, live_server, mace.users["chair"])
    _open_group(chair, mace.group.name)
    assert_accessible(chair)
    chair.get_by_role("link", name="Schedule a meeting").click()
    assert_accessible(chair)
    _fill_date(chair, "Date", today)
    chair.get_by_label("Start time").fill("00:30")
    chair.get_by_label("Venue").fill("Northbridge police station, room 2")
    chair.get_by_role("button", name="Schedule meeting").click()
    _flash_ok(chair, "Meeting scheduled.")
    meeting_url = chair.url
    meeting_id = int(re.search(r"/mace/meetings/(\d+)", meeting_url).group(1))
    assert_accessible(chair)
    chair.get_by_role("link", name="Agenda proposals").click()
    assert_accessible(chair)
    proposals = chair.locator("tbody tr")
    for child in (first, second):
        row = proposals.filter(has_text=child.full_name).filter(has_text="Missing episode since the last meeting")
        assert row.count() == 1, proposals.all_inner_texts()
    for child in (first, second):
        chair.get_by_label(f"Choose {child.full_name}: Missing episode since the last meeting").check()
    chair.get_by_role("button", name="Add the chosen to the agenda").click()
    _flash_ok(chair, "2 added to the agenda.")
    chair.get_by_role("link", name="Back to the meeting").click()
    agenda = chair.get_by_role("table", name="Agenda items in order").inner_text()
    assert first.full_name in agenda and second.full_name in agenda

    # 2. A police member adds the place, links both children to it, and shares intelligence about it.
    police = _signed_in(browser, live_server, mace.users["police"])
    _open_group(police, mace.group.name)
    police.get_by_role("link", name="Locations").click()
    assert_accessible(police)
    police.get_by_role("link", name="Add a place").click()
    assert_accessible(police)
    police.get_by_label("Name of the place").fill(PLACE)
    police.get_by_label("Park").check()
    police.get_by_label("Address or description of where it is").fill("Playing field off Mill Lane")
    police.get_by_role("button", name="Save the place").click()
    _flash_ok(police, "Place added.")
    location_url = police.url
    location_id = int(re.search(r"/mace/locations/(\d+)", location_url).group(1))
    assert_accessible(police)
    for child in (first, second):
        police.get_by_role("link", name="Link a child or person to it").click()
        assert_accessible(police)
        police.get_by_label("Child", exact=True).select_option(label=child.full_name)
        assert police.get_by_label("Place", exact=True).input_value() == str(location_id)
        police.get_by_label("Who or what says they are linked?").fill("Police patrol")
        _fill_date(police, "When were they seen together or linked?", today - timedelta(days=2))
        police.get_by_role("button", name="Save the link").click()
        _flash_ok(police, "Link added.")
        assert police.url == location_url  # back on the place, which now lists the link
    links = police.locator("main").inner_text()
    assert first.full_name in links and second.full_name in links

    police.goto(f"{live_server}/mace/groups/{mace.group.id}")
    police.get_by_role("link", name="Intelligence").click()
    assert_accessible(police)
    police.get_by_role("link", name="Share intelligence with the group").click()
    assert_accessible(police)
    police.get_by_role("group", name="Places").get_by_label(PLACE).check()
    police.get_by_label("What kind of information is it?").select_option(label="Police intelligence")
    police.get_by_label("Summary").fill("Older males meeting children at the rec ground")
    police.get_by_label("The information").fill("Two children seen getting into a black Audi after dark.")
    police.get_by_label("Why are you sharing it?").fill("Plan disruption at the location")
    police.get_by_label("It includes information about offences or alleged offences").check()
    police.get_by_label("Public task (6(1)(e))").check()
    police.get_by_label("Article 10 condition (criminal-offence information)").select_option("10+S1P10")
    police.get_by_label("Statutory gateway").select_option("CDA1998-s115")
    police.get_by_label("Which organisation or role, or the third party's relationship to the child").fill(
        "Neighbourhood policing team")
    police.get_by_label("How was it obtained?").select_option("observation")
    _fill_date(police, "When was it obtained?", today - timedelta(days=1))
    police.get_by_label("Source evaluation (intelligence)").select_option("2")
    police.get_by_label("Intelligence assessment").select_option("B")
    police.get_by_label("Handling code").select_option("P")
    police.get_by_label("Consent is not needed: another basis applies").check()
    police.get_by_label("Why is consent not needed?").select_option("crime")
    police.get_by_label("Why sharing without consent is necessary and proportionate").fill(
        "Seeking consent would alert the adults.")
    police.get_by_label("Who authorised sharing without consent?").select_option(
        label=mace.user("outsider_police").name)
    police.get_by_label("No", exact=True).check()
    police.get_by_label("Why not?").fill("It would place the children at risk.")
    police.get_by_role("button", name="Share with the group").click()
    _flash_ok(police, "Shared with the group's member agencies.")
    assert PLACE in police.locator("main").inner_text()
    assert_accessible(police)
    police.context.close()

    # 3. The meeting: the place goes on the agenda too; attendance, risk levels, an action; held.
    _open_group(chair, mace.group.name)
    chair.locator(f'a[href$="/mace/meetings/{meeting_id}"]').click()
    chair.get_by_role("link", name="Agenda proposals").click()
    chair.get_by_label(f"Choose {PLACE}: Linked to two or more children").check()
    chair.get_by_role("button", name="Add the chosen to the agenda").click()
    _flash_ok(chair, "1 added to the agenda.")
    chair.get_by_role("link", name="Back to the meeting").click()

    chair.get_by_role("link", name="Record attendance").click()
    assert_accessible(chair)
    for who in ("police", "nurse", "dsl", "chair"):
        user = mace.user(who)
        chair.get_by_role("group", name=re.compile(re.escape(user.name) + ",")).get_by_label("Present").check()
    chair.get_by_role("button", name="Save attendance").click()
    _flash_ok(chair, "Attendance saved.")
    attendance = chair.get_by_role("table", name="Members and their attendance").inner_text()
    assert attendance.count("Present") == 4

    for child, level in ((first, "High"), (second, "Medium")):
        chair.get_by_role("link", name=f"Record minutes, risk level and updates for {child.full_name}").click()
        assert_accessible(chair)
        chair.get_by_label("Minutes").fill("Missing twice; seen at the rec ground with older males.")
        chair.get_by_role("button", name="Save minutes").click()
        _flash_ok(chair, "Saved.")
        chair.get_by_role("group", name="Risk level on the group's scale").get_by_label(level, exact=True).check()
        chair.get_by_role("button", name="Set risk level").click()
        _flash_ok(chair, "Saved.")
        assert f"{level}, review by" in chair.locator("main").inner_text()
        chair.get_by_role("link", name="Back to the meeting").click()
    items = chair.get_by_role("table", name="Agenda items in order")
    assert "High" in items.get_by_role("row").filter(has_text=first.full_name).inner_text()
    assert "Medium" in items.get_by_role("row").filter(has_text=second.full_name).inner_text()

    chair.get_by_role("link", name="Add an action").click()
    assert_accessible(chair)
    chair.get_by_label("Agenda item").select_option(index=1)
    chair.get_by_label("What is to be done").fill("Patrol the rec ground after school for four weeks")
    chair.get_by_label("Owner agency").select_option(label=mace.police.name)
    chair.get_by_label("Owner (optional)").select_option(label=f"{mace.user('police').name}, {mace.police.name}")
    _fill_date(chair, "Due by", today + timedelta(days=28))
    chair.get_by_role("button", name="Add action").click()
    _flash_ok(chair, "Action added.")
    assert "Patrol the rec ground" in chair.locator("main").inner_text()
    assert_accessible(chair)

    chair.goto(meeting_url)
    chair.get_by_role("button", name="Record the meeting as held").click()
    _flash_ok(chair, "The meeting is recorded as held.")
    assert_accessible(chair)

    # 4. The school nurse records the health outcome for each child, with the health record reference.
    nurse = _signed_in(browser, live_server, mace.users["nurse"])
    _open_group(nurse, mace.group.name)
    nurse.locator(f'a[href$="/mace/meetings/{meeting_id}"]').click()
    assert_accessible(nurse)
    nurse.get_by_role("link", name="Agency outcomes").click()
    assert_accessible(nurse)
    for n, child in enumerate((first, second), start=1):
        form = nurse.locator("form").filter(has=nurse.get_by_role(
            "heading", name=f"Record {mace.health.name}'s outcome for {child.full_name}"))
        form.get_by_label("Your agency's outcome").fill("Health assessment booked with the school nurse")
        form.get_by_label("Your agency's system").fill("SystmOne")
        form.get_by_label("Reference of the record on that system").fill(f"HR-2026-00{n}")
        form.get_by_role("button", name="Confirm it is on our system").click()
        _flash_ok(nurse, "Outcome recorded and confirmed.")
    health = nurse.get_by_role("table", name=f"Outcomes of {mace.health.name}").inner_text()
    assert "SystmOne: HR-2026-001" in health and "SystmOne: HR-2026-002" in health
    assert_accessible(nurse)
    nurse.context.close()

    # 5. The school confirms through the page; the police and social care through the service.
    dsl = _signed_in(browser, live_server, mace.users["dsl"])
    dsl.goto(f"{live_server}/mace/meetings/{meeting_id}/outcomes")
    for child in (first, second):
        form = dsl.locator("form").filter(has=dsl.get_by_role(
            "heading", name=f"Record {mace.school.name}'s outcome for {child.full_name}"))
        form.get_by_label("Your agency's outcome").fill("Added to the school's safeguarding chronology")
        form.get_by_label("Your agency's system").fill("CPOMS")
        form.get_by_label("Reference of the record on that system").fill(f"CPOMS-{child.id}")
        form.get_by_role("button", name="Confirm it is on our system").click()
        _flash_ok(dsl, "Outcome recorded and confirmed.")
    dsl.context.close()
    for who, org, system in (("police", mace.police, "Niche"), ("chair", mace.authority, "Liquidlogic")):
        for child in (first, second):
            outcomes.record_outcome(mace.user(who), meeting_id, outcomes.OutcomeDraft(
                org.id, child.id, "Recorded against the child", system, f"{system}-{child.id}"))

    _open_group(chair, mace.group.name)
    chair.locator(f'a[href$="/mace/meetings/{meeting_id}"]').click()
    chair.get_by_role("link", name="Agency outcomes").click()
    assert_accessible(chair)
    for org in (mace.police, mace.health, mace.school, mace.authority):
        expect(chair.get_by_role("heading", level=2, name=f"{org.name} Confirmed", exact=True)).to_have_count(1)
    assert "Waiting" not in chair.locator("main").inner_text()

    # 6. The network of the place: both children, linked through it, in the picture and the table.
    chair.goto(f"{live_server}/mace/groups/{mace.group.id}")
    chair.get_by_role("link", name="Locations").click()
    chair.get_by_role("link", name=PLACE).click()
    chair.get_by_role("link", name="See its network").click()
    network_url = chair.url
    assert_accessible(chair)
    svg = chair.get_by_test_id("network-svg")
    drawn = svg.locator("text").all_text_contents()
    assert PLACE in drawn and first.full_name in drawn and second.full_name in drawn
    assert svg.locator("line").count() == 2  # the place to each child
    described = svg.locator("desc").text_content()
    assert first.full_name in described and second.full_name in described
    table = chair.get_by_test_id("network-table")
    for child in (first, second):
        cells = table.get_by_role("row").filter(has_text=child.full_name).get_by_role("cell").all_inner_texts()
        assert [c.strip() for c in cells] == [child.full_name, "Child", "1", "Directly"], cells
    # From one child, the other is two steps away through the place.
    table.get_by_role("link", name=first.full_name).click()
    chair.wait_for_url(lambda url: url != network_url)  # else the place's table, still on screen, is read
    cells = chair.get_by_test_id("network-table").get_by_role("row").filter(
        has_text=second.full_name).get_by_role("cell").all_inner_texts()
    assert [c.strip() for c in cells][2:] == ["2", PLACE], cells
    assert_accessible(chair)
    assert not chair.console_errors, chair.console_errors
    chair.context.close()

    # 7. A DSL of a school outside the group finds nothing at any of its addresses.
    outsider = _signed_in(browser, live_server, mace.users["outsider_dsl"])
    assert outsider.get_by_role("navigation", name="Menu").get_by_role("link", name=MENU_MACE).count() == 0
    for url in (f"{live_server}/mace/groups/{mace.group.id}", meeting_url, network_url,
                f"{live_server}/mace/network/location/{location_id}",
                f"{live_server}/mace/meetings/{meeting_id}/outcomes"):
        response = outsider.goto(url)
        assert response.status == 404, (url, response.status)
        assert PLACE not in outsider.content() and first.full_name not in outsider.content()
    outsider.context.close()
