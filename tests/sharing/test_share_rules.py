"""The register's remaining rules, each run (issue 24, "every rule executed"): revoking needs a
reason and a recipient that still holds the share; a correction says what was wrong; a share
about no child needs a group; the family were told on a day that has come; the register's
filters each narrow it and its pages follow on; a gateway's code is new and its name given; a
draft is its author's to keep and is confirmed once. Each refusal stores nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    LocalGateway,
    RecipientStatus,
    ShareDraftRecord,
    ShareRecord,
)
from hub.sharing import corrections, decisions, drafts, gateways, reading, recipients, register, service
from hub.sharing.legal_bases import BasisChoice
from tests.factories import make_org, make_user
from tests.support.sharing import draft


def _count(model) -> int:
    return db.session().scalar(select(func.count()).select_from(model))


def _statuses(world, share_id: int) -> dict[int, RecipientStatus]:
    db.session().expire_all()
    return {r.organisation_id: r.status for r in reading.get_share(world["worker"], share_id).recipients}


# --- recipients -------------------------------------------------------------------------------------------

def test_revoking_needs_a_reason_and_a_recipient_that_still_holds_the_share(world):
    share = service.create_share(world["worker"], draft(world))
    before = _statuses(world, share.id)
    for org, reason, message in ((world["school"].id, "  ", "Say why you are revoking access"),
                                 (world["police"].id, "Wrong agency", "That organisation does not hold this share")):
        with pytest.raises(Invalid) as info:
            recipients.revoke(world["worker"], share.id, org, reason)
        assert info.value.errors["reason"] == message
    assert _statuses(world, share.id) == before
    recipients.revoke(world["worker"], share.id, world["school"].id, "Sent to the wrong school")
    with pytest.raises(Invalid) as info:  # already revoked: nothing left to revoke
        recipients.revoke(world["worker"], share.id, world["school"].id, "Again")
    assert info.value.errors["reason"] == "That organisation does not hold this share"
    with pytest.raises(NotFound):  # only the sender revokes
        recipients.revoke(world["nurse"], share.id, world["health"].id, "Not wanted")
    assert _statuses(world, share.id)[world["health"].id] == RecipientStatus.sent


def test_a_recipient_accepts_a_share(world):
    share = service.create_share(world["worker"], draft(world))
    recipients.respond(world["dsl"], share.id, accept=True)
    assert _statuses(world, share.id)[world["school"].id] == RecipientStatus.accepted


# --- corrections and the rules of a share ------------------------------------------------------------------

def test_a_correction_says_what_was_wrong(world):
    original = service.create_share(world["worker"], draft(world))
    with pytest.raises(Invalid) as info:
        corrections.correct(world["worker"], original.id, draft(world, summary="Corrected"), " ")
    assert info.value.errors["supersede_reason"] == "Say what was wrong with the original"
    assert _count(ShareRecord) == 1


def test_a_share_about_no_child_outside_a_group_is_refused_and_audited(world):
    with pytest.raises(NotFound):
        service.create_share(world["worker"], draft(world, child_id=None))
    refusal = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")
                                   .order_by(AuditEvent.id.desc())).first()
    assert refusal.actor_user_id == world["worker"].id and refusal.action == "share"
    assert _count(ShareRecord) == 0


def test_a_practitioner_without_a_sharing_role_cannot_share(world):
    analyst = make_user(world["la"], Role.analyst)[0]
    with pytest.raises(NotFound):
        service.create_share(analyst, draft(world))
    assert _count(ShareRecord) == 0


@pytest.mark.parametrize("changes, message", [
    ({"family_told": True, "family_told_on": date.today() + timedelta(days=1)},
     "The date they were told must be today or in the past"),
    ({"family_told": True, "family_told_on": None}, "Enter when they were told"),
    ({"family_told": None}, "Say whether the child or family were told about this sharing"),
    ({"family_told": False, "family_not_told_reason": " "}, "Say why the child or family were not told"),
], ids=["told-tomorrow", "told-when", "told-or-not", "why-not-told"])
def test_what_the_family_were_told_is_checked(world, changes, message):
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, **changes))
    assert message in info.value.errors.values()
    assert _count(ShareRecord) == 0
    told = service.create_share(world["worker"], draft(world, family_told=True, family_told_on=date.today()))
    assert told.family_told_on == date.today()


def test_an_inactive_or_unknown_recipient_is_refused(world):
    with pytest.raises(Invalid) as info:
        service.create_share(world["worker"], draft(world, recipient_org_ids=[world["school"].id, 10**6]))
    assert info.value.errors["recipient_org_ids"] == "One of the recipients is not an organisation in the hub"
    assert _count(ShareRecord) == 0


# --- the register ------------------------------------------------------------------------------------------

def test_each_filter_of_the_register_narrows_it(world):
    first = service.create_share(world["worker"], draft(world))
    second = service.create_share(world["worker"], draft(world, recipient_org_ids=[world["health"].id],
                                                         category=Category.health_information,
                                                         bases=BasisChoice(article_6="6(1)(e)",
                                                                           article_9="9(2)(g)+S1P18",
                                                                           gateway="CA2004-s11")))
    f = register.RegisterFilter

    def ids(actor, **filters) -> list[int]:
        return [s.id for s in register.register(actor, f(**filters))[0]]

    assert ids(world["worker"], recipient_org_id=world["school"].id) == [first.id]
    assert ids(world["worker"], sender_org_id=world["la"].id) == [second.id, first.id]
    assert ids(world["worker"], sender_org_id=world["school"].id) == []
    assert ids(world["worker"], consent_position=ConsentPosition.not_needed) == [second.id, first.id]
    assert ids(world["worker"], consent_position=ConsentPosition.consent) == []
    assert ids(world["worker"], date_from=date.today(), date_to=date.today()) == [second.id, first.id]
    assert ids(world["worker"], date_from=date.today() + timedelta(days=1)) == []
    assert ids(world["worker"], date_to=date.today() - timedelta(days=1)) == []
    assert ids(world["dsl"]) == [first.id]  # the school received only the first


def test_the_register_pages_on(world, monkeypatch):
    monkeypatch.setattr(register, "REGISTER_PAGE", 2)
    made = [service.create_share(world["worker"], draft(world)).id for _ in range(3)]
    page_one, more = register.register(world["worker"], register.RegisterFilter(sort="oldest"))
    assert [s.id for s in page_one] == made[:2] and more
    page_two, more = register.register(world["worker"], register.RegisterFilter(sort="oldest"), page=2)
    assert [s.id for s in page_two] == made[2:] and not more


# --- local gateways --------------------------------------------------------------------------------------

@pytest.fixture
def administrator(app):
    return make_user(make_org(OrgKind.mace_host), Role.hub_admin)[0]


@pytest.mark.parametrize("code, label, explanation, field, message", [
    ("CA1989-s47", "Section 47", "Enquiries", "code", "Enter a code starting LOCAL-"),
    ("LOCAL-MACE", " ", "When the MACE protocol applies", "label", "Enter the gateway's name"),
    ("LOCAL-MACE", "MACE protocol", "", "explanation", "Explain in plain English"),
], ids=["not-local", "no-name", "no-explanation"])
def test_a_gateway_needs_a_local_code_a_name_and_an_explanation(administrator, code, label, explanation, field,
                                                               message):
    with pytest.raises(Invalid) as info:
        gateways.add_local_gateway(administrator, code, label, explanation)
    assert info.value.errors[field].startswith(message)
    assert _count(LocalGateway) == 0


def test_retiring_a_gateway_that_does_not_exist_or_by_anyone_else_is_refused(administrator, world):
    with pytest.raises(NotFound):
        gateways.set_local_gateway_active(administrator, 10**6, False)
    gateway = gateways.add_local_gateway(administrator, "LOCAL-MACE", "MACE protocol", "When the protocol applies")
    with pytest.raises(Forbidden):
        gateways.set_local_gateway_active(world["worker"], gateway.id, False)
    assert gateways.set_local_gateway_active(administrator, gateway.id, False).active is False
    assert "LOCAL-MACE" not in {g.code for g in gateways.local_gateways()}
    assert "LOCAL-MACE" in {g.code for g in gateways.local_gateways(include_retired=True)}


# --- drafts -----------------------------------------------------------------------------------------------

def test_a_draft_is_kept_only_by_someone_who_may_share_about_the_child(world):
    with pytest.raises(NotFound):
        drafts.save(world["other_dsl"], world["child"].id, None, {"summary": ["x"]})
    assert _count(ShareDraftRecord) == 0
    draft_id = drafts.save(world["worker"], world["child"].id, None, {"summary": ["Risk raised"]})
    kept = drafts.open_draft(world["worker"], world["child"].id, draft_id)
    assert drafts.answers(kept) == {"summary": ["Risk raised"]}


def test_a_draft_is_confirmed_once(world):
    draft_id = drafts.save(world["worker"], world["child"].id, None, {"summary": ["Risk raised"]})
    kept = drafts.open_draft(world["worker"], world["child"].id, draft_id)
    drafts.confirm(world["worker"], kept, draft(world))
    with pytest.raises(NotFound):  # a second click: one share, not two
        drafts.confirm(world["worker"], kept, draft(world))
    assert _count(ShareRecord) == 1 and _count(ShareDraftRecord) == 0


# --- the child's chronology --------------------------------------------------------------------------------

def test_a_page_past_the_end_of_the_chronology_shows_its_last_page(world):
    made = [service.create_share(world["worker"], draft(world)).id for _ in range(3)]
    stale = reading.chronology(world["worker"], world["child"].id, page=9, per_page=2)
    assert (stale.page, stale.pages, stale.total) == (2, 2, 3) and [s.id for s in stale] == made[:1]
    everything = reading.chronology(world["worker"], world["child"].id, per_page=None)
    assert (everything.pages, len(everything)) == (1, 3)


def test_a_decision_not_to_share_is_recorded_only_by_someone_who_may_share_about_the_child(world):
    with pytest.raises(NotFound):
        decisions.record_decision_not_to_share(world["other_dsl"], draft(world, recipient_org_ids=[world["la"].id]))
    assert _count(ShareRecord) == 0
