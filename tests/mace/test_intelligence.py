"""MACE intelligence: a share record of the register, shared into a group, seen only by the group's
current named members, with the register's rules (legal basis, consent, grading, handling code)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import Invalid, NotFound
from hub.mace.operations import intelligence, subjects
from hub.models.audit import AuditEvent
from hub.models.mace import MaceAgendaChild, MaceIntelligenceSubject, MaceLink, MaceLocation
from hub.models.roles import Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    NoConsentReason,
    ObtainedHow,
    ShareRecord,
    SourceKind,
)
from hub.permissions import child_access
from hub.sharing import corrections as share_corrections
from hub.sharing import reading as share_reading
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import make_user, sign_in


def _draft(mace, who="police", **changes) -> sharing.ShareDraft:
    authoriser = {"police": "outsider_police", "nurse": "nurse", "chair": "chair"}[who]
    values = dict(
        child_id=None, category=Category.police_intelligence, summary="Older males at the rec ground",
        content="Two children seen getting into a black Audi.", purpose="Plan disruption at the location",
        recipient_org_ids=[], source_kind=SourceKind.organisation, source_description="Neighbourhood team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today() - timedelta(days=1),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime,
        rationale="Seeking consent would alert the adults.", authorised_by_user_id=mace.user(authoriser).id,
        source_evaluation="2", intelligence_assessment="B", handling_code="P",
        family_told=False, family_not_told_reason="Would place the children at risk.")
    values.update(changes)
    return sharing.ShareDraft(**values)


def _place(mace) -> MaceLocation:
    return subjects.add_location(mace.user("police"), mace.group.id, subjects.LocationDetails("Rec ground", "park"))


def _hold(mace, *children) -> None:
    with db.unit_of_work() as s:
        s.add_all(MaceAgendaChild(group_id=mace.group.id, child_id=c.id) for c in children)


def _count() -> int:
    return db.session().scalar(select(func.count()).select_from(ShareRecord))


def _share_about_place(mace, who="police", **changes) -> ShareRecord:
    place = _place(mace)
    return intelligence.share_intelligence(mace.user(who), mace.group.id, _draft(mace, who, **changes),
                                           intelligence.Subjects(location_ids=[place.id]))


def test_intelligence_is_a_share_record_to_the_groups_member_organisations(mace):
    share = _share_about_place(mace)
    assert share.mace_group_id == mace.group.id and share.child_id is None
    assert {r.organisation_id for r in share.recipients} == {mace.authority.id, mace.health.id, mace.school.id}
    assert (share.source_evaluation, share.intelligence_assessment, share.handling_code) == ("2", "B", "P")
    subjects_ = list(db.session().scalars(select(MaceIntelligenceSubject).where(
        MaceIntelligenceSubject.share_id == share.id)))
    assert len(subjects_) == 1 and subjects_[0].location_id is not None
    actions = [(e.action, e.object_type) for e in db.session().scalars(select(AuditEvent).where(
        AuditEvent.object_id == str(share.id), AuditEvent.object_type.in_(["share", "mace-intelligence"]))
        .order_by(AuditEvent.id))]
    assert actions == [("share", "share"), ("create", "mace-intelligence")]


def test_about_exactly_one_child_the_share_names_the_child(mace):
    child, other = mace.children[0], mace.children[1]
    _hold(mace, child, other)
    one = intelligence.share_intelligence(mace.user("police"), mace.group.id, _draft(mace),
                                          intelligence.Subjects(child_ids=[child.id]))
    both = intelligence.share_intelligence(mace.user("police"), mace.group.id, _draft(mace),
                                           intelligence.Subjects(child_ids=[child.id, other.id]))
    assert one.child_id == child.id and both.child_id is None


def test_a_current_member_of_another_member_organisation_sees_it_and_the_first_opening_is_kept(mace):
    share = _share_about_place(mace)
    item = intelligence.intelligence_item(mace.user("nurse"), share.id)
    assert item.share.id == share.id and [s.kind for s in item.subjects] == ["location"]
    opened = [r for r in item.share.recipients if r.organisation_id == mace.health.id]
    assert opened[0].first_opened_at is not None
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "mace-intelligence",
                                                          AuditEvent.action == "read")).all()[-1]
    assert event.actor_user_id == mace.user("nurse").id and json.loads(event.detail)["children"] == []
    page = intelligence.group_intelligence(mace.user("dsl"), mace.group.id)
    assert [i.id for i in page.items] == [share.id]


@pytest.mark.parametrize("who", ["former", "outsider_police", "colleague"])
def test_a_former_member_or_a_non_member_colleague_of_a_recipient_cannot_see_it(mace, who):
    share = _share_about_place(mace, "nurse")  # police and the school receive it
    # The DSL's colleague works for a recipient organisation but is not named on the group.
    user = make_user(mace.school, Role.dsl)[0] if who == "colleague" else mace.user(who)
    with pytest.raises(NotFound):
        intelligence.intelligence_item(user, share.id)
    with pytest.raises(NotFound):
        share_reading.get_share(user, share.id)
    refused = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.outcome == "refused")).all()
    assert refused


def test_a_non_member_colleague_does_not_reach_the_child_through_the_intelligence(mace):
    child = mace.children[0]
    _hold(mace, child)
    intelligence.share_intelligence(mace.user("police"), mace.group.id, _draft(mace),
                                    intelligence.Subjects(child_ids=[child.id]))
    colleague = make_user(mace.health, Role.health_practitioner)[0]
    assert not child_access(colleague, child.id)


def test_handling_code_c_blocks_onward_sharing_and_a_former_member_cannot_pass_it_on(mace):
    child = mace.children[0]
    _hold(mace, child)
    coded = intelligence.share_intelligence(mace.user("nurse"), mace.group.id,
                                            _draft(mace, "nurse", handling_code="C"),
                                            intelligence.Subjects(child_ids=[child.id]))
    with pytest.raises(Invalid) as exc:
        share_corrections.for_onward(mace.user("police"), coded.id)
    assert "(C)" in exc.value.errors[""]
    open_item = intelligence.share_intelligence(mace.user("nurse"), mace.group.id, _draft(mace, "nurse"),
                                                intelligence.Subjects(child_ids=[child.id]))
    assert share_corrections.for_onward(mace.user("police"), open_item.id).id == open_item.id
    with pytest.raises(NotFound):
        share_corrections.for_onward(mace.user("former"), open_item.id)


def test_intelligence_about_only_a_place_stays_in_the_group(mace):
    share = _share_about_place(mace)
    with pytest.raises(Invalid) as exc:
        share_corrections.for_onward(mace.user("nurse"), share.id)
    assert "stays within its MACE group" in exc.value.errors[""]


@pytest.mark.parametrize("changes, field", [
    ({"consent_position": ConsentPosition.consent}, "consent_position"),
    ({"bases": BasisChoice(article_6="6(1)(e)", gateway="CDA1998-s115")}, "article_10"),
    ({"handling_code": "X"}, "handling_code"),
    ({"source_evaluation": None}, "source_evaluation"),
    ({"summary": ""}, "summary"),
    ({"obtained_on": date.today() + timedelta(days=1)}, "obtained_on"),
])
def test_the_registers_rules_apply_and_nothing_is_stored_when_one_fails(mace, changes, field):
    place = _place(mace)
    with pytest.raises(Invalid) as exc:
        intelligence.share_intelligence(mace.user("police"), mace.group.id, _draft(mace, **changes),
                                        intelligence.Subjects(location_ids=[place.id]))
    assert field in exc.value.errors
    assert _count() == 0 and db.session().scalar(select(func.count()).select_from(MaceIntelligenceSubject)) == 0


def test_subjects_must_be_the_groups_own(mace):
    unheld = mace.children[2]
    with pytest.raises(Invalid) as exc:
        intelligence.share_intelligence(mace.user("nurse"), mace.group.id, _draft(mace, "nurse"),
                                        intelligence.Subjects(child_ids=[unheld.id], location_ids=[999999]))
    assert {"child_ids", "location_ids"} <= set(exc.value.errors)
    with pytest.raises(Invalid) as exc:
        intelligence.share_intelligence(mace.user("nurse"), mace.group.id, _draft(mace, "nurse"),
                                        intelligence.Subjects())
    assert "subjects" in exc.value.errors
    assert _count() == 0


def test_a_former_member_cannot_share_into_the_group_and_the_refusal_is_audited(mace):
    place = _place(mace)
    with pytest.raises(NotFound):
        intelligence.share_intelligence(mace.user("former"), mace.group.id, _draft(mace),
                                        intelligence.Subjects(location_ids=[place.id]))
    assert _count() == 0
    assert db.session().scalars(select(AuditEvent).where(AuditEvent.actor_user_id == mace.user("former").id,
                                                         AuditEvent.outcome == "refused")).all()


def test_a_link_created_from_intelligence_records_its_share(mace):
    child = mace.children[0]
    _hold(mace, child)
    share = _share_about_place(mace)
    place_id = db.session().scalar(select(MaceIntelligenceSubject.location_id).where(
        MaceIntelligenceSubject.share_id == share.id))
    link = subjects.add_link(mace.user("police"), mace.group.id, subjects.LinkDetails(
        "From the intelligence", date.today(), child_id=child.id, location_id=place_id, share_id=share.id))
    assert db.session().get(MaceLink, link.id).share_id == share.id
    location_page = subjects.location_page(mace.user("nurse"), place_id)
    assert [i.id for i in location_page.intelligence] == [share.id]


def test_the_intelligence_pages_work_for_a_member_and_refuse_an_outsider(app, mace):
    share = _share_about_place(mace)
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    assert "Older males" in client.get(f"/mace/groups/{mace.group.id}/intelligence").get_data(as_text=True)
    assert "Older males" in client.get(f"/mace/intelligence/{share.id}").get_data(as_text=True)
    assert client.get(f"/mace/groups/{mace.group.id}/intelligence/new").status_code == 200
    outsider = app.test_client()
    sign_in(outsider, *mace.users["outsider_dsl"])
    assert outsider.get(f"/mace/intelligence/{share.id}").status_code == 404


def test_intelligence_goes_only_to_the_groups_member_organisations(mace):
    """The register's own rule, for a draft that names the group (share_intelligence picks the
    members itself): an organisation not on the group is refused, and nothing is stored."""
    place = _place(mace)
    stray = _draft(mace, recipient_org_ids=[mace.health.id, mace.other_school.id], mace_group_id=mace.group.id)
    with pytest.raises(Invalid) as info:
        sharing.create_share(mace.user("police"), stray)
    assert info.value.errors["recipient_org_ids"] == "MACE intelligence goes only to the group's member organisations"
    assert _count() == 0 and place.id
