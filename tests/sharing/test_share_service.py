"""The register's rules, through the service layer: who sees a share, consent, the Article 9
rule, corrections, withdrawal, handling codes, receipts, audit, and bad input storing nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from hub import db
from hub.audit import integrator as audit_integrator
from hub.consent import service as consent_service
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditEvent
from hub.models.consent import ConsentRecord, GivenBy
from hub.models.roles import Role
from hub.models.sharing import Category, ConsentPosition, ShareRecord
from hub.permissions import child_access
from hub.sharing import corrections as share_corrections
from hub.sharing import decisions as share_decisions
from hub.sharing import gateways as share_gateways
from hub.sharing import reading as share_reading
from hub.sharing import recipients as share_recipients
from hub.sharing import register as share_register
from hub.sharing import service
from hub.sharing.legal_bases import BasisChoice
from tests.factories import csrf_token, involve, make_child, make_user, post_form, sign_in
from tests.support.sharing import draft


def _count() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareRecord))


def test_sender_and_each_recipient_see_a_share_and_nobody_else_does(world):
    share = service.create_share(world["worker"], draft(world))
    for who in ("worker", "dsl", "nurse"):
        assert share_reading.get_share(world[who], share.id).id == share.id
    for who in ("other_dsl", "officer", "hub_dpo"):
        with pytest.raises(NotFound):
            share_reading.get_share(world[who], share.id)


def test_a_recipient_reaches_the_child_through_the_share(world):
    service.create_share(world["worker"], draft(world))
    assert child_access(world["nurse"], world["child"].id).basis == "share-received"
    assert not child_access(world["officer"], world["child"].id)


def test_the_first_opening_by_a_recipient_is_kept_and_each_view_is_audited(world):
    share = service.create_share(world["worker"], draft(world))
    share_reading.get_share(world["worker"], share.id)
    assert all(r.first_opened_at is None for r in share.recipients)  # the sender's own reads do not count
    first = share_reading.get_share(world["dsl"], share.id)
    opened = next(r for r in first.recipients if r.organisation_id == world["school"].id).first_opened_at
    share_reading.get_share(world["dsl"], share.id)
    again = next(r for r in share_reading.get_share(world["dsl"], share.id).recipients
                 if r.organisation_id == world["school"].id).first_opened_at
    assert opened is not None and again == opened
    events = db.session().scalars(select(AuditEvent.action).where(AuditEvent.object_type == "share")).all()
    assert events.count("share") == 1 and events.count("read") == 4


def test_the_share_event_carries_the_purposes_category_and_legal_basis_but_not_the_free_text(world):
    share = service.create_share(world["worker"], draft(world))
    audit_integrator.integrate_all()  # the leaf is written by the integrator
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "share"))
    assert (event.object_id, event.child_id) == (str(share.id), world["child"].id)
    assert event.legal_basis == "6(1)(e); CA1989-s47" and event.purpose == "risk_assessment"
    assert b"strategy discussion" not in event.leaf
    assert b"older males" not in event.leaf


def test_health_information_cannot_be_saved_without_an_article_9_condition(world):
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, category=Category.health_information))
    assert "article_9" in info.value.errors and _count() == 0
    share = service.create_share(world["worker"], draft(
        world, category=Category.health_information,
        bases=BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA1989-s47")))
    assert share.special_category


@pytest.mark.parametrize("changes, field", [
    ({"bases": BasisChoice(gateway="CA1989-s47")}, "article_6"),
    ({"authorised_by_user_id": None}, "authorised_by_user_id"),
    ({"recipient_org_ids": [999999]}, "recipient_org_ids"),
    ({"obtained_on": date.today() + timedelta(days=3)}, "obtained_on"),
    ({"rationale": ""}, "rationale"),
    ({"family_not_told_reason": ""}, "family_not_told_reason"),
    ({"summary": " "}, "summary"),
], ids=["no-legal-basis", "no-authoriser", "unknown-recipient", "future-date", "no-rationale", "family", "summary"])
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_stored(world, changes, field):
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, **changes))
    assert field in info.value.errors and info.value.errors[field]
    assert _count() == 0


def test_an_authoriser_without_the_right_role_or_from_elsewhere_is_refused(world):
    for authoriser in (world["dsl"], make_user(world["la"], Role.mace_member)[0]):
        with pytest.raises(Invalid) as info:
            service.create_share(world["worker"], draft(world, authorised_by_user_id=authoriser.id))
        assert "authorised_by_user_id" in info.value.errors


def test_refused_consent_needs_someone_else_to_authorise(world):
    refused = dict(consent_position=ConsentPosition.refused_but_justified, no_consent_reason=None)
    with pytest.raises(Invalid):
        service.create_share(world["worker"], draft(world, authorised_by_user_id=world["worker"].id, **refused))
    assert service.create_share(world["worker"], draft(world, **refused)).id


def _consent(world, **changes):
    values = dict(child_id=world["child"].id, given_by=GivenBy.child, giver_description="the child", given=True,
                  purposes=[Category.risk_assessment], recipient_org_ids=[world["school"].id, world["health"].id],
                  obtained_on=date.today() - timedelta(days=2), child_competent=True)
    values.update(changes)
    return consent_service.record_consent(world["worker"], consent_service.ConsentDetails(**values))


def test_a_share_can_rely_on_consent_that_covers_it(world):
    consent = _consent(world)
    relies = dict(consent_position=ConsentPosition.consent, consent_record_id=consent.id, rationale=None,
                  no_consent_reason=None, authorised_by_user_id=None)
    assert service.create_share(world["worker"], draft(world, **relies)).consent_record_id == consent.id
    with pytest.raises(Invalid) as info:  # not for the police
        service.create_share(world["worker"], draft(world, recipient_org_ids=[world["police"].id], **relies))
    assert "does not cover" in info.value.errors["consent_record_id"]


def test_a_child_giving_consent_needs_a_competence_judgement(world):
    with pytest.raises(Invalid) as info:
        _consent(world, child_competent=None)
    assert "child_competent" in info.value.errors


def test_withdrawing_consent_blocks_new_shares_and_flags_earlier_ones(world):
    consent = _consent(world)
    relies = dict(consent_position=ConsentPosition.consent, consent_record_id=consent.id, rationale=None,
                  no_consent_reason=None, authorised_by_user_id=None)
    earlier = service.create_share(world["worker"], draft(world, **relies))
    assert consent_service.withdraw(world["worker"], consent.id, "Told her social worker she has changed her mind") == 1
    db.session().refresh(earlier)
    assert earlier.review_flagged_at is not None
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, **relies))
    assert "withdrawn" in info.value.errors["consent_record_id"]


def test_a_correction_supersedes_and_keeps_the_original(world):
    original = service.create_share(world["worker"], draft(world))
    corrected = share_corrections.correct(world["worker"], original.id, draft(world, summary="Corrected summary"),
                                "The date of the sighting was wrong")
    chronology = share_reading.chronology(world["dsl"], world["child"].id)
    assert [s.id for s in chronology] == [corrected.id, original.id]
    assert corrected.supersedes_id == original.id and corrected.supersede_reason.startswith("The date")
    with pytest.raises(NotFound):
        share_corrections.correct(world["dsl"], original.id, draft(world), "not mine to correct")


def test_handling_code_c_forbids_onward_sharing_and_p_allows_it_with_its_origin(world):
    involve(world["child"], world["police"], "missing-person record")
    intel = dict(category=Category.police_intelligence, law_enforcement=True, recipient_org_ids=[world["la"].id],
                 bases=BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"), source_evaluation="2",
                 intelligence_assessment="B", authorised_by_user_id=world["officer"].id)
    guarded = service.create_share(world["officer"], draft(world, handling_code="C", **intel))
    onward = draft(world, recipient_org_ids=[world["school"].id])
    with pytest.raises(Invalid):
        share_corrections.share_onward(world["worker"], guarded.id, onward)
    open_intel = service.create_share(world["officer"], draft(world, handling_code="P", **intel))
    passed_on = share_corrections.share_onward(world["worker"], open_intel.id, onward)
    assert passed_on.origin_share_id == open_intel.id


def test_police_intelligence_needs_its_grading(world):
    involve(world["child"], world["police"], "missing-person record")
    with pytest.raises(Invalid) as info:
        service.create_share(world["officer"], draft(
            world, category=Category.police_intelligence, law_enforcement=True, recipient_org_ids=[world["la"].id],
            bases=BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"), authorised_by_user_id=world["officer"].id))
    assert {"source_evaluation", "intelligence_assessment", "handling_code"} <= set(info.value.errors)


def test_a_revoked_recipient_loses_the_share_and_a_recipient_can_decline(world):
    share = service.create_share(world["worker"], draft(world))
    share_recipients.respond(world["nurse"], share.id, accept=False)
    share_recipients.revoke(world["worker"], share.id, world["school"].id, "Sent to the wrong school")
    with pytest.raises(NotFound):
        share_reading.get_share(world["dsl"], share.id)
    statuses = {r.organisation_id: r.status.value
                for r in share_reading.get_share(world["worker"], share.id).recipients}
    assert statuses == {world["school"].id: "revoked", world["health"].id: "declined"}


def test_an_unrelated_practitioner_cannot_share_about_the_child(world):
    with pytest.raises(NotFound):
        service.create_share(world["other_dsl"], draft(world))
    assert _count() == 0


def test_a_decision_not_to_share_is_recorded_and_never_reaches_the_would_be_recipients(world):
    decision = share_decisions.record_decision_not_to_share(world["worker"], draft(
        world, rationale="The school already knows; sharing more is not proportionate."))
    assert decision.shared is False
    with pytest.raises(NotFound):
        share_reading.get_share(world["dsl"], decision.id)
    assert share_reading.get_share(world["worker"], decision.id).id == decision.id
    with pytest.raises(Invalid):
        share_decisions.record_decision_not_to_share(world["worker"], draft(world, rationale=""))


def test_each_side_lists_what_it_shared_and_received(world):
    share = service.create_share(world["worker"], draft(world))
    assert [s.id for s in share_register.lists(world["dsl"]).received] == [share.id]
    assert share_register.lists(world["dsl"]).sent == []
    assert [s.id for s in share_register.lists(world["worker"]).sent] == [share.id]
    assert share_register.lists(world["other_dsl"]).received == []


def test_the_register_filters_by_legal_basis_consent_and_category_and_exports_xlsx(world):
    first = service.create_share(world["worker"], draft(world))
    second = service.create_share(world["worker"], draft(
        world, category=Category.health_information,
        bases=BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA2004-s11")))
    f = share_register.RegisterFilter
    assert [s.id for s in share_register.register(world["worker"], f())[0]] == [second.id, first.id]
    assert [s.id for s in share_register.register(world["worker"], f(legal_basis="9(2)(g)+S1P18"))[0]] == [second.id]
    assert [s.id for s in share_register.register(world["worker"], f(category=Category.risk_assessment))[0]] == [
        first.id]
    assert [s.id for s in share_register.register(world["worker"], f(sort="oldest"))[0]] == [first.id, second.id]
    assert [s.id for s in share_register.register(world["worker"], f(sort="drop table"))[0]] == [second.id, first.id]
    assert share_register.register(world["other_dsl"], f())[0] == []
    with pytest.raises(Invalid):
        share_register.register(world["worker"], f(date_from=date.today(), date_to=date.today() - timedelta(days=1)))
    sheet = load_workbook(io.BytesIO(share_register.register_xlsx(world["dsl"], f()))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Share" and {r[0] for r in rows[1:]} == {first.id, second.id}


def test_the_sender_revokes_a_recipient_from_the_share_page(app, world):
    worker, secret = make_user(world["la"], Role.social_worker)
    share = service.create_share(worker, draft(world))
    client = app.test_client()
    sign_in(client, worker, secret)
    page = client.get(f"/sharing/{share.id}").get_data(as_text=True)
    assert "Revoke a recipient" in page
    client.post(f"/sharing/{share.id}/revoke", data={"csrf_token": csrf_token(page), "recipient": world["school"].id,
                                                     "reason": "Wrong school"})
    with pytest.raises(NotFound):
        share_reading.get_share(world["dsl"], share.id)


def test_a_practitioner_records_and_withdraws_consent_on_the_pages(app, world):
    worker, secret = make_user(world["la"], Role.social_worker)
    client = app.test_client()
    sign_in(client, worker, secret)
    today = date.today()
    response = post_form(client, f"/consent/new/{world['child'].id}", {
        "given_by": "child", "giver_description": "the child", "child_competent": "yes", "given": "yes",
        "purposes": ["risk_assessment"], "recipient_org_ids": [world["school"].id],
        "obtained_on": [str(today.day), str(today.month), str(today.year)]})
    assert response.status_code == 302
    page = client.get(f"/children/{world['child'].id}").get_data(as_text=True)
    assert "given by the child" in page
    consent_id = int(__import__("re").search(r"/consent/(\d+)/withdraw", page).group(1))
    client.post(f"/consent/{consent_id}/withdraw", data={"csrf_token": csrf_token(page), "reason": "Changed her mind"})
    assert "Withdrawn" in client.get(f"/children/{world['child'].id}").get_data(as_text=True)
    missing = post_form(client, f"/consent/new/{world['child'].id}", {"given_by": "child", "given": "yes"})
    assert "There is a problem" in missing.get_data(as_text=True)


def test_two_corrections_of_one_share_at_the_same_moment_cannot_both_be_stored(world):
    """Both passed the "latest version" check before either was stored (the race): the unique
    index on supersedes_id lets the first in and refuses the second, which stores nothing."""
    original = service.create_share(world["worker"], draft(world))
    first = service.create_share(world["worker"], draft(world, summary="First fix"), supersedes=original,
                                 supersede_reason="wrong date")
    before = _count()
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, summary="Second fix"), supersedes=original,
                             supersede_reason="wrong place")
    assert "corrected by someone else" in info.value.errors[""]
    assert _count() == before
    assert [s.id for s in share_corrections.corrections(world["worker"], original)] == [first.id]


# --- Each rule that no test ran before (issue 24, "every rule executed"): the refusal says what is
# wrong, on the field at fault, and stores nothing. ---------------------------------------------


def _shares() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareRecord))


def _consents() -> int:
    return db.session().scalar(select(func.count()).select_from(ConsentRecord))


def _refused(actor, share_draft, field: str, message: str) -> None:
    before = _shares()
    with pytest.raises(Invalid) as info:
        service.create_share(actor, share_draft)
    assert message in info.value.errors.get(field, ""), info.value.errors
    assert _shares() == before


def test_no_one_shares_with_their_own_organisation(world):
    _refused(world["worker"], draft(world, recipient_org_ids=[world["la"].id, world["school"].id]),
             "recipient_org_ids", "You cannot share with your own organisation")


def test_a_share_needs_a_recipient(world):
    _refused(world["worker"], draft(world, recipient_org_ids=[]), "recipient_org_ids",
             "Choose who you are sharing with")


@pytest.mark.parametrize("who", ["other_dsl", "nobody"])
def test_a_named_person_must_belong_to_a_recipient(world, who):
    named = world["other_dsl"].id if who == "other_dsl" else 10**6  # another school's DSL; no such person
    _refused(world["worker"], draft(world, recipient_user_ids=[named]), "recipient_user_ids",
             "A named person must belong to one of the recipient organisations")
    assert service.create_share(world["worker"], draft(world, recipient_user_ids=[world["dsl"].id])).id


@pytest.mark.parametrize("field, message", [
    ("content", "Write the information you are sharing"), ("purpose", "Say why you are sharing it")])
def test_the_content_and_purpose_are_required(world, field, message):
    _refused(world["worker"], draft(world, **{field: "  "}), field, message)


def test_a_purpose_over_its_length_is_refused(world):
    _refused(world["worker"], draft(world, purpose="p" * (service.PURPOSE_MAX + 1)), "purpose",
             f"in {service.PURPOSE_MAX} characters or fewer")


def _relying_on(consent_id, **changes):
    return dict(consent_position=ConsentPosition.consent, consent_record_id=consent_id, rationale=None,
                no_consent_reason=None, authorised_by_user_id=None, **changes)


def test_a_consent_share_needs_a_consent_record_about_this_child(world):
    _refused(world["worker"], draft(world, **_relying_on(None)), "consent_record_id",
             "Choose the consent record this share relies on")
    sibling = make_child("Other", "About", responsible_authority_id=world["la"].id)
    theirs = _consent(world, child_id=sibling.id)
    _refused(world["worker"], draft(world, **_relying_on(theirs.id)), "consent_record_id",
             "Choose the consent record this share relies on")


def test_withdrawn_consent_cannot_be_relied_on(world):
    consent = _consent(world)
    consent_service.withdraw(world["worker"], consent.id, "She told her social worker she no longer agrees")
    _refused(world["worker"], draft(world, **_relying_on(consent.id)), "consent_record_id", "has been withdrawn")


def test_article_6_1_a_needs_the_share_to_rely_on_a_consent_record(world):
    _refused(world["worker"], draft(world, bases=BasisChoice(article_6="6(1)(a)", gateway="CA1989-s47")),
             "article_6", "Consent as the Article 6 basis needs the share to rely on a consent record")


def test_a_decision_not_to_share_needs_what_was_not_shared_and_why(world):
    for field, changes, message in (("summary", {"summary": " "}, "Say what information you decided not to share"),
                                    ("rationale", {"rationale": ""}, "Record why you decided not to share"),
                                    ("recipient_org_ids", {"recipient_org_ids": [world["la"].id]},
                                     "You cannot share with your own organisation")):
        with pytest.raises(Invalid) as info:
            share_decisions.record_decision_not_to_share(world["worker"], draft(world, **changes))
        assert message in info.value.errors[field]
    assert _shares() == 0


def test_only_a_recipient_accepts_or_declines(world):
    share = service.create_share(world["worker"], draft(world))
    with pytest.raises(Invalid) as info:
        share_recipients.respond(world["worker"], share.id, accept=True)  # the sender, who sees it, is no recipient
    assert info.value.errors[""] == "Only a recipient can accept or decline a share"
    with pytest.raises(NotFound):
        share_recipients.respond(world["other_dsl"], share.id, accept=True)  # nor is anyone else
    share_recipients.respond(world["dsl"], share.id, accept=False)


@pytest.mark.parametrize("changes, field, message", [
    ({"giver_description": "  "}, "giver_description", "by their relationship to the child"),
    ({"purposes": []}, "purposes", "Choose what the consent is for"),
    ({"recipient_org_ids": []}, "recipient_org_ids", "Choose who the consent covers"),
    ({"obtained_on": date.today() + timedelta(days=1)}, "obtained_on", "today or in the past"),
    ({"valid_until": date.today() - timedelta(days=10)}, "valid_until", "after the date consent was obtained"),
], ids=["giver", "purposes", "recipients", "future", "ends-before"])
def test_consent_is_refused_with_a_clear_error_and_nothing_stored(world, changes, field, message):
    with pytest.raises(Invalid) as info:
        _consent(world, **changes)
    assert message in info.value.errors[field]
    assert _consents() == 0


def test_consent_is_recorded_only_by_a_practitioner_who_may_see_the_child(world):
    outsider = make_user(world["other_school"], Role.dsl)[0]
    with pytest.raises(NotFound):
        consent_service.record_consent(outsider, consent_service.ConsentDetails(
            child_id=world["child"].id, given_by=GivenBy.parental_responsibility, giver_description="her mother",
            given=True,
            purposes=[Category.risk_assessment], recipient_org_ids=[world["school"].id],
            obtained_on=date.today()))
    assert _consents() == 0 and consent_service.consents_for(outsider, world["child"].id) == []


def test_consent_is_withdrawn_once_and_with_a_reason(world):
    consent = _consent(world)
    with pytest.raises(Invalid) as info:
        consent_service.withdraw(world["worker"], consent.id, "  ")
    assert info.value.errors["reason"] == "Record how and why consent was withdrawn"
    assert consent_service.withdraw(world["worker"], consent.id, "Her mother rang") == 0
    with pytest.raises(Invalid) as info:
        consent_service.withdraw(world["worker"], consent.id, "again")
    assert info.value.errors["reason"] == "This consent has already been withdrawn"
    assert consent_service.child_of(consent.id) == world["child"].id and consent_service.child_of(10**6) is None
def test_a_share_today_cannot_name_the_information_sharing_duty_before_it_is_in_force(world):
    """The Children's Wellbeing and Schools Act 2026's s.16LA gateway awaits its commencement."""
    assert "CA2004-s16LA" not in {g.code for g in share_gateways.gateways()}
    with pytest.raises(Invalid) as refused:
        service.create_share(world["worker"], draft(world, bases=BasisChoice(article_6="6(1)(e)",
                                                                             gateway="CA2004-s16LA")))
    assert "is not in force on" in refused.value.errors["gateway"] and _count() == 0
