"""MACE rules no other test ran (issue 24, "every rule executed"), each refused with its message
and nothing stored: a meeting's date and time, attendance and "held" once the meeting is held or
before its day, an agenda's subjects (the group's own, once each, at least one proposal chosen, a
risk level for a child only), intelligence with no other agency to go to, and a membership's end."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from hub import db
from hub.errors import Invalid, NotFound
from hub.mace import service
from hub.mace.operations import agenda, intelligence, meetings, network, subjects
from hub.models.audit import AuditEvent
from hub.models.mace import (
    Attendance,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MeetingStatus,
    ProposalDecision,
    SubjectKind,
)
from hub.models.sharing import Category, ShareRecord
from hub.sharing.legal_bases import BasisChoice
from hub.sharing.service import ShareDraft
from tests.support.mace import add_person_of_concern
from tests.support.sharing import draft as share_draft


def _count(model) -> int:
    return db.session().scalar(select(func.count()).select_from(model))


def _meeting(mace, day: date | None = None) -> MaceMeeting:
    return meetings.schedule(mace.user("chair"), mace.group.id, meetings.MeetingDetails(
        day or date.today(), "09:30", "Town hall"))


def _all_present(mace, meeting) -> None:
    meetings.record_attendance(mace.user("chair"), meeting.id, {
        mace.user(who).id: Attendance.present for who in ("chair", "police", "nurse", "dsl")})


@pytest.mark.parametrize("day, at, field, message", [
    (date.today() + timedelta(days=400), "09:30", "day", "The meeting date must be within a year of today"),
    (date.today() - timedelta(days=400), "09:30", "day", "The meeting date must be within a year of today"),
    (None, "09:30", "day", "Enter the date of the meeting"),
    (date.today(), "", "time", "Enter the time the meeting starts"),
], ids=["next-year", "last-year", "no-date", "no-time"])
def test_a_meeting_is_scheduled_within_a_year_with_a_date_and_a_time(mace, day, at, field, message):
    with pytest.raises(Invalid) as info:
        meetings.schedule(mace.user("chair"), mace.group.id, meetings.MeetingDetails(day, at, "Town hall"))
    assert info.value.errors[field] == message
    assert _count(MaceMeeting) == 0


def test_a_held_meeting_keeps_its_attendance_and_is_held_once(mace):
    meeting = _meeting(mace)
    _all_present(mace, meeting)
    meetings.record_held(mace.user("chair"), meeting.id)
    with pytest.raises(Invalid) as info:
        meetings.record_held(mace.user("chair"), meeting.id)
    assert info.value.errors[""] == "The meeting is already recorded as held"
    with pytest.raises(Invalid) as info:
        meetings.record_attendance(mace.user("chair"), meeting.id, {mace.user("nurse").id: Attendance.absent})
    assert info.value.errors[""] == "Attendance cannot change once the meeting is recorded as held"
    rows = meetings.attendance_page(mace.user("chair"), meeting.id)[1]
    assert rows and all(mark is Attendance.present for _, mark in rows)


def test_a_meeting_is_not_held_before_its_day(mace):
    meeting = _meeting(mace, date.today() + timedelta(days=7))
    _all_present(mace, meeting)
    with pytest.raises(Invalid) as info:
        meetings.record_held(mace.user("chair"), meeting.id)
    assert "before the day it is scheduled for" in info.value.errors[""]
    db.session().expire_all()
    assert db.session().get(MaceMeeting, meeting.id).status is MeetingStatus.scheduled


def test_the_agenda_takes_the_groups_own_places_and_persons_once_each(mace):
    meeting = _meeting(mace)
    other = MaceGroup(code="MACE-N", name="North MACE", host_organisation_id=mace.host.id,
                      area_authority_id=mace.authority.id)
    with db.unit_of_work() as s:
        s.add(other)
    theirs = subjects.add_location(mace.user("chair"), mace.group.id, subjects.LocationDetails(
        name="Rec ground", kind="park", address="Behind the library"))
    with db.unit_of_work() as s:
        s.get(type(theirs), theirs.id).group_id = other.id
    with pytest.raises(Invalid) as info:
        agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.location, theirs.id))
    assert info.value.errors["subject"] == "Choose a location of this group"
    with pytest.raises(Invalid):
        agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.person, 10**6))
    child = mace.children[0]
    agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    with pytest.raises(Invalid) as info:
        agenda.add_item(mace.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, child.id))
    assert info.value.errors["subject"] == "That subject is already on the agenda"
    assert _count(MaceAgendaItem) == 1


def test_a_child_the_group_stopped_holding_is_held_again_when_put_on_an_agenda(mace):
    child = mace.children[1]
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id, removed_at=db.utcnow()))
    agenda.add_item(mace.user("chair"), _meeting(mace).id, agenda.ItemDraft(SubjectKind.child, child.id))
    held = db.session().scalars(select(MaceAgendaChild).where(MaceAgendaChild.child_id == child.id)).one()
    assert held.removed_at is None


def test_answering_proposals_needs_at_least_one_chosen(mace):
    with pytest.raises(Invalid) as info:
        agenda.decide(mace.user("chair"), _meeting(mace).id, [], ProposalDecision.accepted)
    assert info.value.errors["keys"] == "Choose at least one proposal"


def test_a_risk_level_is_set_for_a_child_only(mace):
    place = subjects.add_location(mace.user("chair"), mace.group.id, subjects.LocationDetails(
        name="Rec ground", kind="park", address="Behind the library"))
    item = agenda.add_item(mace.user("chair"), _meeting(mace).id, agenda.ItemDraft(SubjectKind.location, place.id))
    with pytest.raises(Invalid) as info:
        agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("High", None))
    assert info.value.errors[""] == "A risk level is set for a child only"
    db.session().expire_all()
    assert db.session().get(MaceAgendaItem, item.id).risk_level is None


def test_a_risk_level_for_a_child_the_group_does_not_yet_hold_holds_it(mace):
    child = mace.children[2]
    item = agenda.add_item(mace.user("chair"), _meeting(mace).id, agenda.ItemDraft(SubjectKind.child, child.id))
    with db.unit_of_work() as s:  # as if the group had let the child go since the item was added
        s.query(MaceAgendaChild).filter_by(child_id=child.id).delete()
    agenda.set_risk(mace.user("chair"), item.id, agenda.RiskDraft("High", None))
    held = db.session().scalars(select(MaceAgendaChild).where(MaceAgendaChild.child_id == child.id)).one()
    assert held.risk_level == "High"


def test_intelligence_needs_another_agency_on_the_group(mace):
    """A group whose only member organisation is the sender's: there is no one to share with."""
    with db.unit_of_work() as s:
        s.execute(delete(MaceMembership).where(MaceMembership.organisation_id != mace.authority.id))
    world = {"child": mace.children[0], "school": mace.school, "health": mace.health,
             "manager": mace.user("chair")}
    shared: ShareDraft = share_draft(world, recipient_org_ids=[])
    with pytest.raises(Invalid) as info:
        intelligence.share_intelligence(mace.user("chair"), mace.group.id, shared,
                                        intelligence.Subjects([mace.children[0].id], [], []))
    assert "no one to share with" in info.value.errors.get("recipient_org_ids", "")
    assert _count(ShareRecord) == 0


def test_a_membership_ends_once_and_not_before_it_began(mace):
    member = db.session().scalars(select(MaceMember).where(MaceMember.user_id == mace.user("nurse").id)).one()
    with pytest.raises(Invalid) as info:
        service.end_membership(mace.user("chair"), member.id, None)
    assert info.value.errors["end_date"] == "Enter the date the membership ends"
    with pytest.raises(Invalid):
        service.end_membership(mace.user("chair"), member.id, member.start_date - timedelta(days=1))
    service.end_membership(mace.user("chair"), member.id, date.today())
    with pytest.raises(Invalid) as info:
        service.end_membership(mace.user("chair"), member.id, date.today())
    assert info.value.errors["end_date"] == "That membership has already ended"


# --- intelligence's subjects -----------------------------------------------------------------------------

def _intelligence_draft(mace) -> ShareDraft:
    return share_draft({"child": mace.children[0], "school": mace.school, "health": mace.health,
                        "manager": mace.user("outsider_police")}, child_id=None, recipient_org_ids=[],
                       category=Category.police_intelligence, source_evaluation="2",
                       intelligence_assessment="B", handling_code="P",
                       bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"))


def test_intelligence_names_the_groups_own_places_only(mace):
    other = MaceGroup(code="MACE-N", name="North MACE", host_organisation_id=mace.host.id,
                      area_authority_id=mace.authority.id)
    with db.unit_of_work() as s:
        s.add(other)
    place = subjects.add_location(mace.user("police"), mace.group.id, subjects.LocationDetails("Rec ground", "park"))
    with db.unit_of_work() as s:
        s.get(type(place), place.id).group_id = other.id
    with pytest.raises(Invalid) as info:
        intelligence.share_intelligence(mace.user("police"), mace.group.id, _intelligence_draft(mace),
                                        intelligence.Subjects(location_ids=[place.id]))
    assert info.value.errors["location_ids"] == "Choose the group's own locations"
    assert _count(ShareRecord) == 0


def test_intelligence_names_its_person_until_the_person_is_removed_at_review(mace):
    person = add_person_of_concern(mace)
    share = intelligence.share_intelligence(mace.user("police"), mace.group.id, _intelligence_draft(mace),
                                            intelligence.Subjects(person_ids=[person.id]))
    listed = intelligence.group_intelligence(mace.user("nurse"), mace.group.id)
    assert [(n.kind, n.name) for n in listed.subjects[share.id]] == [("person", "Tiny")]
    subjects.remove_person(mace.user("police"), person.id)
    listed = intelligence.group_intelligence(mace.user("nurse"), mace.group.id)
    assert [i.id for i in listed.items] == [share.id] and share.id not in listed.subjects


def test_no_network_is_drawn_around_a_removed_person_or_an_unknown_kind_of_subject(mace):
    person = add_person_of_concern(mace)
    assert network.network(mace.user("nurse"), "person", person.id).group.id == mace.group.id
    subjects.remove_person(mace.user("police"), person.id)
    with pytest.raises(NotFound):
        network.network(mace.user("nurse"), "person", person.id)
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                            AuditEvent.object_type == "mace-person")).one()
    assert refused.actor_user_id == mace.user("nurse").id
    with pytest.raises(NotFound):
        network.network(mace.user("nurse"), "vehicle", 1)
