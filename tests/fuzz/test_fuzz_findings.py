"""What the form fuzz found (tests/fuzz/), each kept as a test of its own.

A record number past the database's integers (99999999999999999999 in a flag's checkbox) reached
the query that looks the record up, and the database refused to run it: a 500. Every field that
chooses a record by its number now takes only 0 to hub.forms.MAX_ID (hub.forms.record_id,
hub.forms.typed_id): a larger number is a refusal with a message, and nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub import db
from hub.forms import MAX_ID, record_id
from hub.models.audit import AuditFlag
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, fail_sign_in_five_times, make_org, make_user, post_form, sign_in

TOO_LARGE = "99999999999999999999"


def test_a_record_number_is_taken_from_0_to_the_largest_the_database_holds():
    assert (record_id("0"), record_id(str(MAX_ID))) == (0, MAX_ID)
    for refused in (str(MAX_ID + 1), TOO_LARGE, "-1", "x"):
        with pytest.raises(ValueError):
            record_id(refused)


def test_closing_a_flag_past_the_databases_integers_is_refused_with_a_message_and_closes_nothing(app):
    dsl, _ = make_user(make_org(OrgKind.school), Role.dsl)
    hub_dpo = make_user(make_org(OrgKind.mace_host), Role.dpo)
    fail_sign_in_five_times(app, dsl)
    client = app.test_client()
    sign_in(client, *hub_dpo)
    page = client.get("/audit/flags").get_data(as_text=True)
    response = client.post(
        "/audit/flags/close",
        data={"csrf_token": csrf_token(page), "flag_id": TOO_LARGE, "note": "Looked into it"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Select the flags to close from the list" in response.get_data(as_text=True)
    assert db.session().scalars(select(AuditFlag.status)).all() == ["open"]


@pytest.mark.parametrize("field", ["child_id", "person_id"])
def test_an_erasure_request_for_a_number_past_the_databases_integers_is_refused_on_the_page(app, field):
    client = app.test_client()
    sign_in(client, *make_user(make_org(OrgKind.childrens_social_care), Role.dpo))
    response = post_form(
        client,
        "/erasure/new",
        {field: TOO_LARGE, "requester": "Their mother", "received_on": ["1", "12", "2026"], "request_text": "Erase"},
    )
    assert response.status_code == 200 and "govuk-error-summary" in response.get_data(as_text=True)
