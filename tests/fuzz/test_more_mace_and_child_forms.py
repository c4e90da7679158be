"""The rest of the MACE forms and the child record's, fuzzed (tests/support/form_fuzz.py): a
meeting's attendance, proposals and outcomes, an action's status and a CAWN's breach, ending a
membership, intelligence for the register, withdrawing consent and break-glass access."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.consent import service as consent
from hub.db import utcnow
from hub.mace.operations import actions, agenda, meetings
from hub.models.consent import GivenBy
from hub.models.mace import ActionKind, DisruptionKind, MaceAgendaChild, MaceMeeting, MaceMember, SubjectKind
from hub.models.missing import EpisodeSource
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category
from tests.factories import make_org, make_user, report_episode, sign_in
from tests.support.form_fuzz import fuzz
from tests.support.mace import add_person_of_concern


def _client(app, user, secret):
    client = app.test_client()
    sign_in(client, user, secret)
    return client


@pytest.fixture
def meeting(mace):
    chair, child = mace.user("chair"), mace.children[0]
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
    meeting = meetings.schedule(
        chair, mace.group.id, meetings.MeetingDetails(date.today() + timedelta(days=7), "09:30", "Town hall")
    )
    agenda.add_item(chair, meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    return meeting


def test_the_attendance_proposals_and_outcomes_forms(app, mace, meeting):
    # A child of the area missing two days ago: proposed for the agenda.
    report_episode(
        mace.user("police"),
        mace.children[1],
        EpisodeSource.manual,
        reported_start=utcnow() - timedelta(days=2),
        found_at=utcnow() - timedelta(days=1.9),
    )
    chair = _client(app, *mace.users["chair"])
    for page in ("attendance", "proposals"):
        assert fuzz(chair, f"/mace/meetings/{meeting.id}/{page}") >= 1
    with db.unit_of_work() as s:  # held: each agency records what it did about each child discussed
        s.get(MaceMeeting, meeting.id).held_at = utcnow()
    assert fuzz(_client(app, *mace.users["police"]), f"/mace/meetings/{meeting.id}/outcomes") >= 3


def test_an_actions_status_and_breach_forms(app, mace, meeting):
    person = add_person_of_concern(mace)
    action = actions.create_action(
        mace.user("chair"),
        meeting.id,
        actions.ActionDraft(
            description="Serve a notice",
            owner_organisation_id=mace.police.id,
            owner_user_id=mace.user("police").id,
            due_on=date.today() + timedelta(days=7),
            kind=ActionKind.disruption,
            disruption_kind=DisruptionKind.cawn,
            person_id=person.id,
            child_id=mace.children[0].id,
            served_on=date.today() - timedelta(days=1),
            serving_officer="PC 123",
            review_on=date.today() + timedelta(days=180),
        ),
    )
    officer = _client(app, *mace.users["police"])
    page = f"/mace/actions/{action.id}"
    assert fuzz(officer, page, f"{page}/breach") == 1
    assert fuzz(officer, page, f"{page}/status") == 2


def test_the_end_membership_and_intelligence_forms(app, mace):
    member = db.session().scalars(select(MaceMember).where(MaceMember.user_id == mace.user("nurse").id)).one()
    group = f"/mace/groups/{mace.group.id}"
    assert fuzz(_client(app, *mace.users["chair"]), group, f"/mace/members/{member.id}/end") == 1
    assert fuzz(_client(app, *mace.users["police"]), f"{group}/intelligence/new") >= 3


def test_the_withdraw_consent_and_break_glass_forms(app, mace):
    child = mace.children[0]
    given = consent.record_consent(
        mace.user("chair"),
        consent.ConsentDetails(
            child_id=child.id,
            given_by=GivenBy.parental_responsibility,
            giver_description="Their mother",
            given=True,
            purposes=[Category.other],
            recipient_org_ids=[mace.police.id],
            obtained_on=date.today(),
        ),
    )
    chair = _client(app, *mace.users["chair"])
    assert fuzz(chair, f"/children/{child.id}", f"/consent/{given.id}/withdraw") == 1
    stranger = _client(app, *make_user(make_org(OrgKind.school), Role.dsl))
    assert fuzz(stranger, f"/children/{child.id}/break-glass") == 2
