"""The four MACE holes the outside check found (issue 18), each with the near-insider it let in:
a colleague of the sender who was never named on the group, a member whose membership ended, a
chair of the keepers' authority who is not a keeper, and the hub administrator. Each test failed
on the code before hub/permissions became a package: the register's query lacked the MACE clause,
"share-sent" counted intelligence, a profile release was visible to its sender's organisation,
and the chair-only pages let any administrator in."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from hub import db
from hub.db import utcnow
from hub.errors import Invalid
from hub.mace.operations import intelligence
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.missing.profiles import service as profiles
from hub.models.audit import AuditEvent
from hub.models.mace import MaceAgendaChild, MemberRole
from hub.models.missing import Classification, EpisodeSource, MissingFrom, RiskGrade
from hub.models.roles import Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.permissions import child_access
from hub.sharing import recipients as share_recipients
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import make_child, make_org, make_user, sign_in
from tests.support.mace import name_member

SUMMARY = "Zephyrine Quaillard seen at the rec ground"
CONTENT = "Vantablack hatchback, plate withheld, collects children after school"


def _intelligence(mace, child) -> int:
    """The police member shares intelligence about one child into the group."""
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
    draft = sharing.ShareDraft(
        child_id=None, category=Category.police_intelligence, summary=SUMMARY, content=CONTENT,
        purpose="Plan disruption", recipient_org_ids=[], source_kind=SourceKind.organisation,
        source_description="Neighbourhood team", obtained_how=ObtainedHow.observation,
        obtained_on=date.today() - timedelta(days=1),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime,
        rationale="Seeking consent would alert the adults.", authorised_by_user_id=mace.user("outsider_police").id,
        source_evaluation="2", intelligence_assessment="B", handling_code="P", family_told=False,
        family_not_told_reason="Would place the child at risk.")
    share = intelligence.share_intelligence(mace.user("police"), mace.group.id, draft,
                                            intelligence.Subjects(child_ids=[child.id]))
    return share.id


def _client(app, mace, who):
    client = app.test_client()
    sign_in(client, *mace.users[who])
    return client


def _refusals(user_id: int) -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.actor_user_id == user_id, AuditEvent.outcome == "refused"))


def _xlsx_text(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None)


@pytest.mark.parametrize("who", ["outsider_police", "former"])
def test_the_register_keeps_only_the_fact_of_intelligence_for_the_senders_colleagues(app, mace, who):
    child = mace.children[0]
    share_id = _intelligence(mace, child)
    client = _client(app, mace, who)
    for url in ("/sharing", "/sharing/register"):
        page = client.get(url).get_data(as_text=True)
        assert SUMMARY not in page and CONTENT not in page and child.given_name not in page, url
        assert "MACE intelligence shared into Central MACE" in page, url  # the fact stays in the register
        assert f"/sharing/{share_id}" not in page
    book = _xlsx_text(client.get("/sharing/register.xlsx").data)
    assert SUMMARY not in book and child.given_name not in book and "Plan disruption" not in book
    assert "Central MACE" in book and "seen only by the group's current members" in book


def test_a_current_member_of_the_senders_organisation_sees_the_intelligence_whole(app, mace):
    child = mace.children[0]
    _intelligence(mace, child)
    page = _client(app, mace, "police").get("/sharing/register").get_data(as_text=True)
    assert SUMMARY in page


@pytest.mark.parametrize("who", ["outsider_police", "former"])
def test_sending_intelligence_opens_nothing_of_the_share_or_the_child_to_the_senders_colleagues(app, mace, who):
    child = mace.children[0]
    share_id = _intelligence(mace, child)
    user = mace.user(who)
    assert not child_access(user, child.id)
    client = _client(app, mace, who)
    for url in (f"/sharing/{share_id}", f"/mace/intelligence/{share_id}", f"/sharing/{share_id}/correct",
                f"/children/{child.id}", f"/consent/new/{child.id}", f"/sharing/decision/{child.id}",
                f"/sharing/new/{child.id}", f"/missing/new/{child.id}"):
        before = _refusals(user.id)
        response = client.get(url)
        assert response.status_code in (403, 404), f"{who} got {response.status_code} on {url}"
        body = response.get_data(as_text=True)
        assert SUMMARY not in body and child.given_name not in body
        assert _refusals(user.id) > before, f"{url} refused {who} without an audit event"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def test_a_profile_release_shows_its_photo_to_the_force_it_went_to_and_not_to_the_authoritys_chair(app, mace):
    child = mace.children[0]
    keeper, keeper_secret = make_user(mace.authority, Role.social_worker)
    chair, chair_secret = make_user(mace.authority, Role.mace_chair)  # of the keepers' authority, not a keeper
    name_member(mace.group, chair, MemberRole.co_chair)
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
    assert child_access(chair, child.id)  # the group holds the child: the chair may open the record
    profiles.save_profile(keeper, child.id, {"physical_description": "Tall"}, profiles.PhotoChange(upload=_jpeg()))
    episode = missing.record_episode(mace.user("police"), child.id, missing_details.EpisodeDetails(
        police_reference="MP/26/7001", reported_start=utcnow() - timedelta(hours=2),
        classification=Classification.missing, risk_grade=RiskGrade.high, missing_from=MissingFrom.home))
    profiles.release_profile(keeper, episode.id)
    url = f"/missing/profile/{child.id}/photo"

    police = _client(app, mace, "police")
    assert police.get(url).mimetype == "image/jpeg"
    client = app.test_client()
    sign_in(client, chair, chair_secret)
    before = _refusals(chair.id)
    response = client.get(url)
    assert response.status_code == 404 and response.mimetype != "image/jpeg"
    assert _refusals(chair.id) == before + 1
    keeper_client = app.test_client()
    sign_in(keeper_client, keeper, keeper_secret)
    assert keeper_client.get(url).mimetype == "image/jpeg"


def test_the_hub_administrator_manages_membership_but_reads_nothing_the_group_holds(app, mace):
    host = make_org()
    admin, admin_secret = make_user(host, Role.hub_admin)
    client = app.test_client()
    sign_in(client, admin, admin_secret)
    group = mace.group.id
    for url in (f"/mace/groups/{group}/actions", f"/mace/groups/{group}/meetings/new", f"/mace/groups/{group}",
                f"/mace/groups/{group}/intelligence"):
        before = _refusals(admin.id)
        assert client.get(url).status_code == 404, url
        assert _refusals(admin.id) > before
    assert client.get(f"/mace/groups/{group}/members/new").status_code == 200


def test_a_member_named_after_intelligence_was_shared_reads_it_and_no_organisation_revokes_it(app, mace):
    """The group's content is reached through current membership alone: a member named after an
    item was shared reads it, whoever they work for; so access to intelligence ends with a
    membership, never with a revocation of an organisation."""
    child = mace.children[0]
    share_id = _intelligence(mace, child)
    late, late_secret = make_user(make_org(), Role.dsl)  # a school that joins the group later
    name_member(mace.group, late)
    client = app.test_client()
    sign_in(client, late, late_secret)
    assert SUMMARY in client.get(f"/mace/intelligence/{share_id}").get_data(as_text=True)
    with pytest.raises(Invalid):
        share_recipients.revoke(mace.user("police"), share_id, mace.authority.id, "no longer needed")
    page = _client(app, mace, "police").get(f"/sharing/{share_id}").get_data(as_text=True)
    assert "Revoke a recipient" not in page


def test_the_sharing_pages_name_intelligences_child_only_to_a_member_who_may_see_her(app, mace):
    """A member reads the group's intelligence, but the child it is about only if they may see her
    anyway (the group's own intelligence pages already said "A child you may not see"); the sharing
    pages, the register and its spreadsheet named her to every member (found by the access proof)."""
    child = make_child("Ottoline", "Farquharson")
    police = mace.user("police")
    with db.unit_of_work():
        missing.apply_police_record(police, police.organisation_id, child.id, missing_details.EpisodeDetails(
            police_reference="HOLE/INTEL/1", reported_start=utcnow(), classification=Classification.missing,
            risk_grade=RiskGrade.medium, missing_from=MissingFrom.home), EpisodeSource.manual)
    draft = sharing.ShareDraft(
        child_id=None, category=Category.police_intelligence, summary="Seen at the rec", content="A car",
        purpose="Disruption", recipient_org_ids=[], source_kind=SourceKind.organisation,
        source_description="Neighbourhood team", obtained_how=ObtainedHow.observation,
        obtained_on=date.today() - timedelta(days=1),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime,
        rationale="Would alert the adults.", authorised_by_user_id=police.id, source_evaluation="2",
        intelligence_assessment="B", handling_code="P", family_told=False,
        family_not_told_reason="Would place the child at risk.")
    share = intelligence.share_intelligence(police, mace.group.id, draft,
                                            intelligence.Subjects(child_ids=[child.id]))
    assert not child_access(mace.user("nurse"), child.id)  # a member, with no way to the child
    nurse, officer = _client(app, mace, "nurse"), _client(app, mace, "police")
    for url in ("/sharing", f"/sharing/{share.id}", "/sharing/register"):
        page = nurse.get(url)
        assert page.status_code == 200 and "Seen at the rec" in page.get_data(as_text=True), url
        assert "Ottoline" not in page.get_data(as_text=True), url
        assert "A child you may not see" in page.get_data(as_text=True), url
        assert "Ottoline" in officer.get(url).get_data(as_text=True), url
    sheet = _xlsx_text(nurse.get("/sharing/register.xlsx").get_data())
    assert "Seen at the rec" in sheet and "Ottoline" not in sheet
