"""Sharing about a child one question per page, then "Check your answers": driven through the test
client as a practitioner would, page by page."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from hub import db
from hub.models.audit import AuditEvent
from hub.models.sharing import ShareDraftRecord, ShareRecord
from tests.factories import csrf_token, post_form
from tests.support.sharing import pages_client, pages_world


@pytest.fixture
def world(app) -> dict:
    return pages_world()

YESTERDAY = date.today() - timedelta(days=1)


def _pages(world) -> list[tuple[str, dict]]:
    """The question pages, in order, and a good answer to each."""
    return [
        ("", {"category": "risk_assessment", "summary": "Risk raised after third episode",
              "content": "Seen with older males near the station twice this week.",
              "purpose": "Plan a strategy discussion"}),
        ("/with-whom", {"recipient_org_ids": [world["school"].id, world["health"].id]}),
        ("/legal-basis", {"article_6": "6(1)(e)", "gateway": "CA1989-s47"}),
        ("/consent", {"consent_position": "not_needed", "no_consent_reason": "significant_harm",
                      "rationale": "Asking would alert the adults exploiting her.",
                      "authorised_by_user_id": world["manager"].id, "family_told": "no",
                      "family_not_told_reason": "Telling the family now could place the child at risk."}),
        ("/source", {"source_kind": "organisation", "source_description": "Missing team",
                     "obtained_how": "return_interview",
                     "obtained_on": [str(YESTERDAY.day), str(YESTERDAY.month), str(YESTERDAY.year)]}),
    ]


def _shares() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareRecord))


def _share_events() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "share"))


def _walk(client, world) -> str:
    """Answer every question page; answers the check page's address."""
    start = f"/sharing/new/{world['child'].id}"
    query = ""
    for path, answers in _pages(world):
        response = post_form(client, start + path + query, answers)
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        location = response.headers["Location"]
        query = location[location.index("?"):]
    assert location.startswith(f"{start}/check?draft=")
    return location


def _confirm(client, check_url: str, token: str | None = None):
    token = token or csrf_token(client.get(check_url).get_data(as_text=True))
    return client.post(check_url, data={"csrf_token": token, "submit": "Share"})


def test_walking_the_question_pages_then_confirming_creates_exactly_one_share(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    token = csrf_token(client.get(check_url).get_data(as_text=True))
    response = _confirm(client, check_url, token)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    share = db.session().scalar(select(ShareRecord))
    assert response.headers["Location"].endswith(f"/sharing/{share.id}") and _shares() == 1
    assert share.summary == "Risk raised after third episode" and share.obtained_on == YESTERDAY
    assert {r.organisation_id for r in share.recipients} == {world["school"].id, world["health"].id}
    assert share.gateway == "CA1989-s47" and share.authorised_by_user_id == world["manager"].id
    assert _share_events() == 1
    assert db.session().scalar(select(func.count()).select_from(ShareDraftRecord)) == 0  # the draft is gone
    again = _confirm(client, check_url, token)  # the same confirmation twice: still one share
    assert again.status_code == 404 and _shares() == 1


def test_nothing_is_stored_as_a_share_before_confirming(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    page = client.get(check_url).get_data(as_text=True)
    assert "Check your answers before sharing" in page
    assert _shares() == 0 and _share_events() == 0
    # The draft's answers are encrypted at rest: no answer is readable in the table.
    stored = db.session().execute(text("SELECT answers FROM share_draft")).scalar_one()
    assert "older males" not in stored and "Missing team" not in stored


def test_reloading_a_question_page_keeps_the_answers(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    query = check_url[check_url.index("?"):]
    what = client.get(f"/sharing/new/{world['child'].id}{query}").get_data(as_text=True)
    assert 'value="Risk raised after third episode"' in what and "older males near the station" in what
    source = client.get(f"/sharing/new/{world['child'].id}/source{query}").get_data(as_text=True)
    assert 'value="Missing team"' in source and f'value="{YESTERDAY.year}"' in source
    consent = client.get(f"/sharing/new/{world['child'].id}/consent{query}").get_data(as_text=True)
    assert "Asking would alert the adults exploiting her." in consent
    # A changed answer replaces the old one and the journey returns to the check page.
    changed = post_form(client, f"/sharing/new/{world['child'].id}{query}&change=1",
                        dict(_pages(world)[0][1], summary="A better summary"))
    assert changed.headers["Location"].endswith(f"/check{query}")
    assert "A better summary" in client.get(check_url).get_data(as_text=True)


def test_another_user_cannot_open_my_draft(app, world):
    check_url = _walk(pages_client(app, world, "worker"), world)
    query = check_url[check_url.index("?"):]
    manager = pages_client(app, world, "manager")  # same organisation, may see the child: still not theirs
    refused_before = db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "share-draft", AuditEvent.outcome == "refused"))
    for path in ("", "/with-whom", "/consent", "/check"):
        response = manager.get(f"/sharing/new/{world['child'].id}{path}{query}")
        assert response.status_code == 404 and "older males" not in response.get_data(as_text=True)
    confirm = manager.post(check_url, data={"csrf_token": csrf_token(manager.get(
        f"/sharing/new/{world['child'].id}").get_data(as_text=True)), "submit": "Share"})
    assert confirm.status_code == 404 and _shares() == 0
    refusals = db.session().scalars(select(AuditEvent).where(
        AuditEvent.object_type == "share-draft", AuditEvent.outcome == "refused")).all()
    assert len(refusals) - refused_before == 5
    assert {e.actor_user_id for e in refusals} == {world["manager"].id}
    assert db.session().scalar(select(func.count()).select_from(ShareDraftRecord)) == 1  # untouched


def test_bad_answers_on_a_page_give_clear_errors_and_keep_what_was_typed(app, world):
    client = pages_client(app, world, "worker")
    start = f"/sharing/new/{world['child'].id}"
    what = post_form(client, start, {"category": "risk_assessment", "summary": "",
                                     "content": "Seen near the station", "purpose": ""})
    page = what.get_data(as_text=True)
    assert what.status_code == 200 and "There is a problem" in page
    assert "Write a short summary of what you are sharing" in page and "Say why you are sharing it" in page
    assert "Seen near the station" in page  # what was typed stays
    assert db.session().scalar(select(func.count()).select_from(ShareDraftRecord)) == 0

    # The register's own rules, page by page: no consent needs a reason, a rationale and an authoriser.
    first = post_form(client, start, _pages(world)[0][1])
    query = first.headers["Location"][first.headers["Location"].index("?"):]
    consent = post_form(client, f"{start}/consent{query}", {
        "consent_position": "not_needed", "rationale": "Typed but not finished", "family_told": "yes"})
    page = consent.get_data(as_text=True)
    assert consent.status_code == 200
    assert "Choose why consent is not needed" in page and "Choose who authorised sharing without consent" in page
    assert "Enter when they were told" in page and "Typed but not finished" in page
    future = date.today() + timedelta(days=3)
    source = post_form(client, f"{start}/source{query}", {
        "source_kind": "third_party", "source_description": "", "obtained_how": "observation",
        "obtained_on": [str(future.day), str(future.month), str(future.year)]})
    page = source.get_data(as_text=True)
    assert "Describe the third party by their relationship to the child" in page
    assert "The date it was obtained must be today or in the past" in page
    assert _shares() == 0


def test_the_check_your_answers_page_shows_each_answer_with_a_change_link(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    query = check_url[check_url.index("?"):]
    page = client.get(check_url).get_data(as_text=True)
    start = f"/sharing/new/{world['child'].id}"
    for shown in ("Risk raised after third episode", "Plan a strategy discussion", world["school"].name,
                  world["health"].name, "Public task (6(1)(e))", "Asking would alert the adults exploiting her.",
                  world["manager"].name, "Missing team", f"{YESTERDAY:%-d %B %Y}", "govuk-summary-list"):
        assert shown in page, shown
    for path in ("", "/with-whom", "/legal-basis", "/consent", "/source"):
        assert f'href="{start}{path}{query}&amp;change=1' in page, path
    assert page.count(">Change<") >= 12


def test_confirming_with_an_unanswered_page_names_the_page_and_shares_nothing(app, world):
    client = pages_client(app, world, "worker")
    start = f"/sharing/new/{world['child'].id}"
    first = post_form(client, start, _pages(world)[0][1])
    check_url = f"{start}/check" + first.headers["Location"][first.headers["Location"].index("?"):]
    page = client.get(check_url).get_data(as_text=True)
    assert "Not answered yet" in page
    response = _confirm(client, check_url)
    assert response.status_code == 200 and "Answer &#39;Who are you sharing it with?&#39;" in \
        response.get_data(as_text=True)
    assert _shares() == 0


def _drafts() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareDraftRecord))


def test_no_question_page_deletes_a_draft_in_one_click(app, world):
    """"Delete this draft" is a link to a confirmation page, not a button posting beside Continue."""
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    query = check_url[check_url.index("?"):]
    abandon = f"/sharing/new/{world['child'].id}/abandon{query}"
    for page_url in [f"/sharing/new/{world['child'].id}{path}{query}" for path, _ in _pages(world)] + [check_url]:
        page = client.get(page_url).get_data(as_text=True)
        assert "/abandon" not in "".join(re.findall(r'<form[^>]*>', page)), page_url  # no form posts there
        assert f'href="{abandon.replace("&", "&amp;")}"' in page and "Delete this draft" in page, page_url
    shown = client.get(abandon)
    assert shown.status_code == 200 and _drafts() == 1  # looking at the confirmation deletes nothing
    text = shown.get_data(as_text=True)
    assert "Are you sure you want to delete this draft?" in text and "Paged Share" in text
    assert "What, With whom, Legal basis, Consent, Source" in text  # the pages answered, by name
    assert "Yes, delete this draft" in text


def test_deleting_a_draft_needs_its_confirmation_with_the_form_token_and_is_audited(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    query = check_url[check_url.index("?"):]
    abandon = f"/sharing/new/{world['child'].id}/abandon{query}"
    assert client.post(abandon, data={}).status_code == 400 and _drafts() == 1  # no token: nothing deleted
    response = client.post(abandon, data={"csrf_token": csrf_token(client.get(abandon).get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/children/{world['child'].id}")
    assert _drafts() == 0 and _shares() == 0
    assert client.get(check_url).status_code == 404 and client.get(abandon).status_code == 404
    deleted = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "share-draft",
                                                            AuditEvent.action == "delete")).all()
    assert [(e.actor_user_id, e.child_id) for e in deleted] == [(world["worker"].id, world["child"].id)]


def test_another_user_cannot_see_or_delete_someone_elses_draft(app, world):
    client = pages_client(app, world, "worker")
    check_url = _walk(client, world)
    abandon = f"/sharing/new/{world['child'].id}/abandon{check_url[check_url.index('?'):]}"
    other = pages_client(app, world, "manager")
    assert other.get(abandon).status_code == 404
    token = csrf_token(other.get(f"/sharing/new/{world['child'].id}").get_data(as_text=True))
    assert other.post(abandon, data={"csrf_token": token}).status_code == 404 and _drafts() == 1


def test_a_draft_keeps_what_each_page_sent_and_belongs_to_its_author(app, world):
    client = pages_client(app, world, "worker")
    _walk(client, world)
    record = db.session().scalar(select(ShareDraftRecord))
    assert json.loads(record.answers)["summary"] == ["Risk raised after third episode"]
    assert record.user_id == world["worker"].id


def test_the_legal_basis_page_names_the_sharing_duty_as_not_yet_in_force_and_does_not_offer_it(app, world):
    client = pages_client(app, world, "worker")
    page = client.get(f"/sharing/new/{world['child'].id}/legal-basis").get_data(as_text=True)
    assert 'value="CA2004-s16LA"' not in page and 'value="CA1989-s47"' in page
    note = page.split('data-testid="gateway-not-in-force"', 1)[1].split("</p>", 1)[0]
    assert "Children Act 2004 section 16LA" in note and "not yet in force" in note
