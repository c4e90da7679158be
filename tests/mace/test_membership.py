"""Named membership: who sees a group, from when until when, and who changes it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import Invalid, NotFound
from hub.mace import service
from hub.models.audit import AuditEvent
from hub.models.mace import MaceAgendaChild, MemberRole
from hub.permissions import child_access, mace_membership
from tests.factories import sign_in
from tests.support.mace import name_member


def _refusals(user) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.outcome == "refused")))


def test_a_current_member_sees_the_group_and_its_read_is_audited(mace):
    page = service.group_page(mace.user("nurse"), mace.group.id)
    assert {m.user_id for m in page.members} >= {mace.user("chair").id, mace.user("nurse").id}
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "mace-group")).all()[-1]
    assert event.actor_user_id == mace.user("nurse").id and event.access_basis == "mace-member"


@pytest.mark.parametrize("who", ["former", "outsider_dsl", "outsider_police"])
def test_a_non_member_or_former_member_gets_a_404_and_the_refusal_is_audited(mace, who):
    user = mace.user(who)
    with pytest.raises(NotFound):
        service.group_page(user, mace.group.id)
    assert [e.object_type for e in _refusals(user)] == ["mace-group"]


def test_membership_gives_access_from_its_start_until_its_end_date(mace):
    officer = mace.user("outsider_police")
    tomorrow = date.today() + timedelta(days=1)
    member = name_member(mace.group, officer, start=tomorrow)
    assert mace_membership(officer, mace.group.id) is None
    assert mace_membership(officer, mace.group.id, day=tomorrow) is not None
    service.end_membership(mace.user("chair"), member.id, tomorrow + timedelta(days=30))
    assert mace_membership(officer, mace.group.id, day=tomorrow + timedelta(days=29)) is not None
    assert mace_membership(officer, mace.group.id, day=tomorrow + timedelta(days=30)) is None


def test_ending_a_membership_today_ends_access_to_the_groups_children_at_once(mace):
    child = mace.children[0]
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
    nurse = mace.user("nurse")  # health has no other relationship to the child
    assert child_access(nurse, child.id).basis == "mace-member"
    member = mace_membership(nurse, mace.group.id)
    service.end_membership(mace.user("chair"), member.id, date.today())
    assert not child_access(nurse, child.id)
    with pytest.raises(NotFound):
        service.group_page(nurse, mace.group.id)


def test_the_organisation_sitting_on_the_group_gives_its_other_staff_nothing(mace):
    child = mace.children[0]
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
    assert not child_access(mace.user("outsider_police"), child.id)


def test_the_chair_adds_a_member_and_the_change_is_audited(mace):
    officer = mace.user("outsider_police")
    member = service.add_member(mace.user("chair"), mace.group.id, service.MemberDetails(
        officer.id, MemberRole.member, date.today()))
    assert mace_membership(officer, mace.group.id).id == member.id
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "mace-member")).all()[-1]
    assert event.action == "create" and event.actor_user_id == mace.user("chair").id


def test_a_member_who_is_not_the_chair_cannot_change_membership(mace):
    with pytest.raises(NotFound):
        service.add_member(mace.user("police"), mace.group.id, service.MemberDetails(
            mace.user("outsider_police").id, MemberRole.member, date.today()))
    assert [e.action for e in _refusals(mace.user("police"))] == ["update"]


@pytest.mark.parametrize("details, field", [
    (lambda m: service.MemberDetails(None, MemberRole.member, date.today()), "user_id"),
    (lambda m: service.MemberDetails(999999, MemberRole.member, date.today()), "user_id"),
    (lambda m: service.MemberDetails(m.user("outsider_dsl").id, MemberRole.member, None), "start_date"),
    (lambda m: service.MemberDetails(m.user("nurse").id, MemberRole.member, date.today()), "user_id"),
])
def test_bad_membership_input_is_refused_with_a_clear_error(mace, details, field):
    with pytest.raises(Invalid) as exc:
        service.add_member(mace.user("chair"), mace.group.id, details(mace))
    assert field in exc.value.errors


def test_an_end_date_before_the_start_is_refused(mace):
    member = mace_membership(mace.user("nurse"), mace.group.id)
    with pytest.raises(Invalid):
        service.end_membership(mace.user("chair"), member.id, member.start_date - timedelta(days=1))


def test_the_group_pages_answer_a_member_and_refuse_a_former_member(app, mace):
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    assert "Central MACE" in client.get("/mace").get_data(as_text=True)
    assert client.get(f"/mace/groups/{mace.group.id}").status_code == 200
    former = app.test_client()
    sign_in(former, *mace.users["former"])
    assert former.get(f"/mace/groups/{mace.group.id}").status_code == 404
    assert "Central MACE" not in former.get("/mace").get_data(as_text=True)
