"""The pages after a share: correcting it, passing it on, and recording a decision not to share,
driven through the test client as a practitioner would."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import Invalid
from hub.models.sharing import Category, ShareRecord
from hub.sharing import corrections as share_corrections
from hub.sharing import decisions as share_decisions
from hub.sharing import service
from hub.sharing.legal_bases import BasisChoice
from tests.factories import post_form
from tests.support.sharing import draft, pages_client, pages_world


@pytest.fixture
def world(app) -> dict:
    return pages_world()


def _fields(world, **changes) -> dict:
    """A share form, filled in as the page expects it."""
    on = date.today() - timedelta(days=1)
    values = {
        "category": "risk_assessment", "summary": "Risk raised after third episode",
        "content": "Seen with older males near the station twice this week.", "purpose": "Plan a strategy discussion",
        "recipient_org_ids": [world["school"].id, world["health"].id], "article_6": "6(1)(e)",
        "gateway": "CA1989-s47", "source_kind": "organisation", "source_description": "Missing team",
        "obtained_how": "return_interview", "obtained_on": [str(on.day), str(on.month), str(on.year)],
        "consent_position": "not_needed", "no_consent_reason": "significant_harm",
        "rationale": "Asking would alert the adults exploiting her.", "authorised_by_user_id": world["manager"].id,
        "family_told": "no", "family_not_told_reason": "Telling the family now could place the child at risk."}
    values.update(changes)
    return values


def _count() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareRecord))


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.get_data(as_text=True)


def test_a_correction_on_the_page_keeps_the_original_and_links_both_ways(app, world):
    original = service.create_share(world["worker"], draft(world))
    client = pages_client(app, world, "worker")
    assert "Correct this share" in _page(client, f"/sharing/{original.id}")
    form = _page(client, f"/sharing/{original.id}/correct")
    assert 'value="Risk raised after third episode"' in form and "What was wrong with the original?" in form
    assert "older males near the station" in form  # filled in from the original

    missing = post_form(client, f"/sharing/{original.id}/correct", _fields(world, summary="Corrected summary"))
    assert "Say what was wrong with the original" in missing.get_data(as_text=True) and _count() == 1

    response = post_form(client, f"/sharing/{original.id}/correct", _fields(
        world, summary="Corrected summary", supersede_reason="The date of the sighting was wrong"))
    assert response.status_code == 302
    correction = db.session().scalar(select(ShareRecord).where(ShareRecord.supersedes_id == original.id))
    assert response.headers["Location"].endswith(f"/sharing/{correction.id}") and _count() == 2

    before = _page(client, f"/sharing/{original.id}")
    assert f'href="/sharing/{correction.id}">Corrected by share {correction.id}</a>' in before
    assert "Correct this share" not in before
    corrects = _page(client, f"/sharing/{correction.id}")
    assert f"Corrects share {original.id}: The date of the sighting was wrong" in corrects
    chronology = _page(pages_client(app, world, "dsl"), f"/children/{world['child'].id}")
    assert "Corrected summary" in chronology and "Risk raised after third episode" in chronology
    assert chronology.count(">Superseded<") == 1


def test_a_share_already_corrected_or_a_decision_cannot_be_corrected(app, world):
    original = service.create_share(world["worker"], draft(world))
    correction = share_corrections.correct(world["worker"], original.id, draft(world), "Wrong date")
    with pytest.raises(Invalid) as info:
        share_corrections.correct(world["worker"], original.id, draft(world), "Wrong again")
    assert f"already corrected by share {correction.id}" in info.value.errors[""]
    decision = share_decisions.record_decision_not_to_share(world["worker"],
                                                            draft(world, rationale="Not proportionate"))
    with pytest.raises(Invalid):
        share_corrections.correct(world["worker"], decision.id, draft(world), "Changed my mind")
    page = pages_client(app, world, "worker").get(f"/sharing/{original.id}/correct")
    assert page.status_code == 400 and "correct that one" in page.get_data(as_text=True)
    again = share_corrections.correct(world["worker"], correction.id, draft(world), "Still wrong")
    assert again.supersedes_id == correction.id


def test_only_the_sender_corrects_and_only_a_recipient_shares_onward(app, world):
    share = service.create_share(world["worker"], draft(world))
    recipient, sender = pages_client(app, world, "dsl"), pages_client(app, world, "worker")
    received = _page(recipient, f"/sharing/{share.id}")
    assert f"/sharing/{share.id}/onward" in received and f"/sharing/{share.id}/correct" not in received
    assert recipient.get(f"/sharing/{share.id}/correct").status_code == 404
    refused = post_form(recipient, f"/sharing/{share.id}/correct", _fields(world, supersede_reason="Not mine"),
                        form_page=f"/sharing/{share.id}")
    assert refused.status_code == 404 and _count() == 1
    sent = _page(sender, f"/sharing/{share.id}")
    assert f"/sharing/{share.id}/onward" not in sent
    onward = sender.get(f"/sharing/{share.id}/onward")
    assert onward.status_code == 400 and "You sent this share" in onward.get_data(as_text=True)
    assert 'name="summary"' not in onward.get_data(as_text=True)


def test_a_recipient_shares_onward_and_the_new_share_names_its_origin(app, world):
    origin = service.create_share(world["worker"], draft(world))
    client = pages_client(app, world, "dsl")
    form = _page(client, f"/sharing/{origin.id}/onward")
    assert 'value="Risk raised after third episode"' in form and "older males near the station" in form
    assert "Plan a strategy discussion" not in form  # only category, summary and content are carried over
    response = post_form(client, f"/sharing/{origin.id}/onward", _fields(
        world, recipient_org_ids=[world["police"].id], authorised_by_user_id=world["dsl"].id))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    passed_on = db.session().scalar(select(ShareRecord).where(ShareRecord.origin_share_id == origin.id))
    assert passed_on is not None and passed_on.sender_org_id == world["school"].id
    assert f"Passed on from share {origin.id}" in _page(client, f"/sharing/{passed_on.id}")
    assert f"Passed on from share {origin.id}" in _page(pages_client(app, world, "officer"), f"/sharing/{passed_on.id}")


def test_handling_code_c_refuses_onward_sharing_with_its_message_and_stores_nothing(app, world):
    intel = service.create_share(world["officer"], draft(
        world, category=Category.police_intelligence, law_enforcement=True, recipient_org_ids=[world["la"].id],
        bases=BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"), source_evaluation="2",
        intelligence_assessment="B", handling_code="C", authorised_by_user_id=world["officer"].id))
    client = pages_client(app, world, "worker")
    page = _page(client, f"/sharing/{intel.id}")
    assert "Handling code C: this intelligence may not be shared onward" in page
    assert f"/sharing/{intel.id}/onward" not in page
    message = "The handling code of this intelligence (C) does not allow onward sharing"
    assert message in client.get(f"/sharing/{intel.id}/onward").get_data(as_text=True)
    response = post_form(client, f"/sharing/{intel.id}/onward", _fields(world, recipient_org_ids=[world["school"].id]),
                         form_page=f"/sharing/{intel.id}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _count() == 1


def test_a_decision_not_to_share_needs_reasons_and_only_its_sender_sees_it(app, world):
    child_id = world["child"].id
    client = pages_client(app, world, "worker")
    child_page = _page(client, f"/children/{child_id}")
    assert f'href="/sharing/decision/{child_id}">Record a decision not to share' in child_page
    decision = {"category": "school_concern", "summary": "Details of the police visit",
                "recipient_org_ids": [world["school"].id]}
    refused = post_form(client, f"/sharing/decision/{child_id}", decision)
    assert refused.status_code == 200 and "Record why you decided not to share" in refused.get_data(as_text=True)
    assert _count() == 0
    response = post_form(client, f"/sharing/decision/{child_id}",
                         {**decision, "rationale": "The school already knows enough to keep her safe."})
    assert response.status_code == 302
    record = db.session().scalar(select(ShareRecord))
    assert record.shared is False and response.headers["Location"].endswith(f"/sharing/{record.id}")
    for url in (f"/children/{child_id}", "/sharing/register"):
        assert re.search(r"Details of the police visit</a>\s*<br>.*?Decided not to share", _page(client, url), re.S)
    school = pages_client(app, world, "dsl")
    assert school.get(f"/sharing/{record.id}").status_code == 404
    for url in (f"/children/{child_id}", "/sharing/register", "/sharing"):
        assert "Details of the police visit" not in _page(school, url)
