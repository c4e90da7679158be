"""Demo data for MACE: Northbridge Central MACE, a fictional locality group. Every name, place and
event is made up. Loaded once (looked up by its code first), so running demo-data twice changes
nothing.

The group has the chair (children's social care), the school nurse, a DSL, a police officer and a
social worker as named members, and a police member whose membership ended last month; three
past meetings and one to come; places (a park underpass, a takeaway, a bus route), a peer group
and a person of concern; links between them and the children; actions (one overdue, one Child
Abduction Warning Notice with a breach); and outcomes, every agency's confirmed except health's
for the latest meeting, which waits for the nurse.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.models.auth import Organisation, User
from hub.models.mace import (
    ActionKind,
    ActionStatus,
    Attendance,
    DisruptionKind,
    LocationKind,
    MaceAction,
    MaceActionUpdate,
    MaceAgencyUpdate,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MaceOutcome,
    MacePerson,
    MeetingStatus,
    MemberRole,
    PersonKind,
)

CODE = "MACE-CENTRAL"
MEMBERS = [  # e-mail local part, part in the group, days ago it started, days ago it ended
    ("mace.chair", MemberRole.chair, 400, None),
    ("school.nurse", MemberRole.member, 400, None),
    ("dsl.northbridge", MemberRole.member, 300, None),
    ("police.coordinator", MemberRole.member, 400, None),
    ("social.worker", MemberRole.member, 400, None),
    ("mace.member", MemberRole.member, 400, 30),
]
SYSTEMS = {  # each agency's own record system, as its outcome confirmation names it
    "NBPOL": ("Police records (fictional Niche)", "OCC/26/{n:05d}"),
    "NBCSC": ("Social care case record (fictional)", "CASE-{n:06d}"),
    "NBNHS": ("Child health record (fictional SystmOne)", "HR-{n:06d}"),
    "NORTHBRIDGE-ACAD": ("School safeguarding record (fictional)", "SG-{n:04d}"),
}


def load(orgs: dict[str, Organisation], children: list[int], domain: str) -> MaceGroup:
    existing = db.session().scalar(select(MaceGroup).where(MaceGroup.code == CODE))
    if existing is not None:
        return existing
    users = {local: db.session().scalar(select(User).where(User.email == f"{local}@{domain}"))
             for local, *_ in MEMBERS}
    today = date.today()
    subjects = children[20:26]  # six fictional children of the area
    with unit_of_work() as s:
        group = MaceGroup(code=CODE, name="Northbridge Central MACE (fictional)", host_organisation_id=orgs["NBSP"].id,
                          area_authority_id=orgs["NBCSC"].id)
        s.add(group)
        s.flush()
        for code in SYSTEMS:
            s.add(MaceMembership(group_id=group.id, organisation_id=orgs[code].id))
        for local, role, started, ended in MEMBERS:
            user = users[local]
            s.add(MaceMember(group_id=group.id, user_id=user.id, organisation_id=user.organisation_id, role=role,
                             start_date=today - timedelta(days=started),
                             end_date=today - timedelta(days=ended) if ended else None))
        places = _places(s, group, users["police.coordinator"])
        people_ = _people(s, group, users["police.coordinator"], today)
        _links(s, group, users["police.coordinator"], subjects, places, people_, today)
        meetings = _meetings(s, group, users, orgs, subjects, today)
        _actions(s, group, users, orgs, meetings, subjects, people_, today)
        audit.record("create", object_type="mace-group", object_id=group.id, basis="system", detail={"demo": True})
    return group


def _places(s, group: MaceGroup, by: User) -> list[MaceLocation]:
    places = [
        MaceLocation(group_id=group.id, name="Riverside Park underpass", kind=LocationKind.park,
                     address="Under the ring road by the river path, Northbridge (fictional)", postcode="NB1 4ZZ",
                     created_by_user_id=by.id),
        MaceLocation(group_id=group.id, name="Chicken Shack, Station Road", kind=LocationKind.takeaway,
                     address="Station Road, Northbridge (fictional)", postcode="NB2 9ZZ", created_by_user_id=by.id),
        MaceLocation(group_id=group.id, name="Bus route 42 (town centre to Westmere)", kind=LocationKind.transport,
                     address="Evening services, especially the last bus", created_by_user_id=by.id),
    ]
    s.add_all(places)
    s.flush()
    return places


def _people(s, group: MaceGroup, by: User, today: date) -> list[MacePerson]:
    people_ = [
        MacePerson(group_id=group.id, kind=PersonKind.peer_group, name="The Station Road group",
                   description="Four or five older teenagers seen with younger children near the takeaway",
                   online_handles="(fictional) @stationroad_nb", part_3="S35+S8P4",
                   justification="Police intelligence links the group to the exploitation of two children",
                   review_on=today + timedelta(days=120), created_by_user_id=by.id),
        MacePerson(group_id=group.id, kind=PersonKind.person, name="Adult known as 'Jay'",
                   description="Male, about 25, drives a silver hatchback", vehicles="Silver hatchback (fictional)",
                   phone_numbers="07700 900123 (a number reserved for drama)", part_3="S35+S8P4",
                   justification="Subject of a Child Abduction Warning Notice",
                   review_on=today + timedelta(days=60), created_by_user_id=by.id),
    ]
    s.add_all(people_)
    s.flush()
    return people_


def _links(s, group, by, subjects, places, people_, today) -> None:
    park, takeaway, bus = places
    station_group, jay = people_
    pairs = [
        dict(child_id=subjects[0], location_id=park.id, source="Police patrol log"),
        dict(child_id=subjects[1], location_id=park.id, source="Return home interview"),
        dict(child_id=subjects[1], person_id=station_group.id, source="School observation"),
        dict(child_id=subjects[2], person_id=station_group.id, source="Police intelligence"),
        dict(person_id=station_group.id, location_id=takeaway.id, source="Police patrol log"),
        dict(child_id=subjects[2], location_id=bus.id, source="Return home interview"),
        dict(child_id=subjects[0], person_id=jay.id, source="Police intelligence"),
    ]
    s.add_all(MaceLink(group_id=group.id, seen_on=today - timedelta(days=10 + n), created_by_user_id=by.id, **pair)
              for n, pair in enumerate(pairs))


def _meetings(s, group, users, orgs, subjects, today) -> list[MaceMeeting]:
    """Three held meetings (10 weeks, 6 weeks and 9 days ago: past the 5 working days health has to
    confirm, so the worker's reminder reaches the nurse) and the next, in three weeks."""
    chair = users["mace.chair"]
    meetings = []
    for days in (70, 42, 9, -21):
        when = datetime.combine(today - timedelta(days=days), time(9, 30), UTC)
        held = days > 0
        meeting = MaceMeeting(group_id=group.id, scheduled_for=when,
                              venue="Northbridge Civic Centre, room 2 (fictional)",
                              status=MeetingStatus.held if held else MeetingStatus.scheduled,
                              held_at=when + timedelta(hours=2) if held else None,
                              notes=("Fictional minutes: the group reviewed each child, place and person."
                                     if held else None),
                              created_by_user_id=chair.id)
        s.add(meeting)
        s.flush()
        meetings.append(meeting)
        discussed = subjects[:3] if days != 70 else subjects[:2]
        if held:
            for local in ("mace.chair", "school.nurse", "dsl.northbridge", "police.coordinator", "social.worker"):
                s.add(MaceAttendance(meeting_id=meeting.id, user_id=users[local].id,
                                     organisation_id=users[local].organisation_id, attendance=Attendance.present))
        for position, child_id in enumerate(discussed):
            item = MaceAgendaItem(meeting_id=meeting.id, position=position, child_id=child_id,
                                  reason=("Missing episode since the last meeting" if position == 0
                                          else "Risk review due"),
                                  minutes="Fictional discussion of the child's recent episodes." if held else None,
                                  decisions="Keep on the agenda; actions agreed." if held else None,
                                  # Set at a meeting held, never before it; always with its review date.
                                  risk_level=("High" if position == 0 else "Medium") if held else None,
                                  risk_review_on=today + timedelta(weeks=8) if held else None,
                                  added_by_user_id=chair.id)
            s.add(item)
            s.flush()
            if held:
                s.add(MaceAgencyUpdate(item_id=item.id, organisation_id=orgs["NBPOL"].id,
                                       user_id=users["police.coordinator"].id,
                                       text="Fictional update: seen twice at the park after dark."))
                _outcomes(s, meeting, orgs, users, child_id, confirm_health=days != 9)
    for child_id in subjects[:3]:
        s.add(MaceAgendaChild(group_id=group.id, child_id=child_id, risk_level="High",
                              risk_set_at=meetings[2].held_at, risk_review_due=today + timedelta(weeks=8)))
    return meetings


def _outcomes(s, meeting, orgs, users, child_id: int, confirm_health: bool) -> None:
    for n, (code, (system, reference)) in enumerate(SYSTEMS.items()):
        confirmed = code != "NBNHS" or confirm_health
        s.add(MaceOutcome(meeting_id=meeting.id, organisation_id=orgs[code].id, child_id=child_id,
                          outcome="Fictional outcome recorded on the agency's system." if confirmed else None,
                          system_name=system if confirmed else None,
                          system_reference=reference.format(n=meeting.id * 100 + child_id + n) if confirmed else None,
                          confirmed_at=meeting.held_at + timedelta(days=2) if confirmed else None))


def _actions(s, group, users, orgs, meetings, subjects, people_, today) -> None:
    police = users["police.coordinator"]
    overdue = MaceAction(group_id=group.id, meeting_id=meetings[1].id, kind=ActionKind.task,
                         description="Visit the takeaway's manager about children gathering after dark (fictional)",
                         owner_organisation_id=orgs["NBPOL"].id, owner_user_id=police.id,
                         due_on=today - timedelta(days=7), created_by_user_id=users["mace.chair"].id)
    open_action = MaceAction(group_id=group.id, meeting_id=meetings[2].id, kind=ActionKind.task,
                             description="Health assessment for the child discussed first (fictional)",
                             owner_organisation_id=orgs["NBNHS"].id, owner_user_id=users["school.nurse"].id,
                             due_on=today + timedelta(days=14), created_by_user_id=users["mace.chair"].id)
    cawn = MaceAction(group_id=group.id, meeting_id=meetings[1].id, kind=ActionKind.disruption,
                      disruption_kind=DisruptionKind.cawn,
                      description="Serve a Child Abduction Warning Notice on the adult known as 'Jay' (fictional)",
                      owner_organisation_id=orgs["NBPOL"].id, owner_user_id=police.id,
                      due_on=today - timedelta(weeks=5), status=ActionStatus.done, person_id=people_[1].id,
                      child_id=subjects[0], served_on=today - timedelta(weeks=5), serving_officer="PC 0000 (fictional)",
                      review_on=today + timedelta(weeks=8), breaches=1, created_by_user_id=users["mace.chair"].id)
    s.add_all([overdue, open_action, cawn])
    s.flush()
    s.add_all([
        MaceActionUpdate(action_id=cawn.id, status=ActionStatus.done, note="Notice served (fictional).",
                         user_id=police.id),
        MaceActionUpdate(action_id=cawn.id, status=ActionStatus.done, note="Seen with the child again (fictional).",
                         breach=True, user_id=police.id),
    ])
