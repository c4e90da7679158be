"""A small, hand-counted picture of missing for the reports' tests (every number the tests expect
is worked out in the comments here, not by the code under test).

Two authorities (A, B), two forces (P1, P2), two schools (S1, S2), five children, thirteen
episodes in 2026 (London dates) and one just before it, three school notifications and one
outside the period, and two MACE groups (G covering A, chaired by `chair`; H covering B).

| ep  | child | start (UTC)         | London start           | class/grade    | from      | force | found (UTC)      |
|-----|-------|---------------------|------------------------|----------------|-----------|-------|------------------|
| E1  | c1    | 2026-01-31 23:30    | Sat 31 Jan 23:30 (GMT) | missing medium | home      | P1    | 02-01 10:00 (10.5 h) |
| E2  | c1    | 2026-10-24 23:30    | Sun 25 Oct 00:30 (BST) | missing high   | home      | P1    | 10-26 00:30 (25 h)   |
| E3  | c2 LA | 2026-03-31 23:30    | Wed 1 Apr 00:30 (BST)  | absent low     | placement | P1    | 04-01 08:00      |
| E4  | c2 LA | 2026-06-10 14:00    | Wed 10 Jun 15:00       | missing high   | placement | P2    | still missing    |
| E5  | c2 LA | 2026-07-01 09:00    | Wed 1 Jul 10:00        | missing medium | placement | P1    | 07-01 12:00      |
| E6  | c3 LA | 2026-05-05 18:00    | Tue 5 May 19:00        | absent none    | placement | P2    | 05-06 07:00      |
| E7  | c4    | 2025-12-31 23:30    | Wed 31 Dec 2025 23:30  | (outside 2026) | home      | P1    | 2026-01-01 02:00 |
| E8  | c4    | 2026-02-14 12:00    | Sat 14 Feb 12:00       | missing low    | home      | P1    | 02-14 13:00      |
| E9  | c3 LA | 2026-09-09 10:00    | Wed 9 Sep 11:00        | absent low     | placement | P2    | 09-09 11:00      |
| F1-5| c5    | 2026-08-03..07 10:00| Mon-Fri 3-7 Aug 11:00  | absent none    | home      | P1    | an hour later    |

E1 spans the month end; E2 starts after midnight on the night the clocks go back (01:00 UTC).
Children: c1 (A, S1, born Jun 2015), c2 (A's, looked after, placed by A, S1, Jan 2012), c3 (B's,
looked after, placed by B, S2, Feb 2010), c4 (A, S2, Sep 2011), c5 (A, S1, Mar 2018).
Cross-border: E3 home A, found in B; E6 home B, found in A; E9 home and found B.
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from hub import db
from hub.models.auth import Organisation, User
from hub.models.mace import (
    ActionKind,
    ActionStatus,
    Attendance,
    DisruptionKind,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MaceOutcome,
    MemberRole,
)
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import Notification, NotificationKind, RecipientReason
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from hub.reports.figures import ReportFilters
from tests.factories import enrol, make_child, make_org, make_user
from tests.support.holders import note_episode_holders

#: "Now" for the figures: open episodes and late plans are judged against it.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
YEAR = ReportFilters(date_from=date(2026, 1, 1), date_to=date(2026, 12, 31))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@dataclass
class World:
    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, tuple[User, str]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    episodes: dict[str, MissingEpisode] = field(default_factory=dict)
    groups: dict[str, MaceGroup] = field(default_factory=dict)

    def user(self, name: str) -> User:
        return self.users[name][0]


def build() -> World:
    w = World()
    _organisations(w)
    _users(w)
    _children(w)
    _episodes(w)
    _notifications(w)
    _mace(w)
    return w


def _organisations(w: World) -> None:
    w.orgs["A"] = make_org(OrgKind.childrens_social_care)
    w.orgs["B"] = make_org(OrgKind.childrens_social_care)
    w.orgs["P1"] = make_org(OrgKind.police)
    w.orgs["P2"] = make_org(OrgKind.police)
    w.orgs["S1"] = make_org(OrgKind.school)
    w.orgs["S2"] = make_org(OrgKind.school)
    w.orgs["host"] = make_org(OrgKind.mace_host)


def _users(w: World) -> None:
    o = w.orgs
    w.users = {
        "analyst": make_user(o["host"], Role.analyst),
        "sw_a": make_user(o["A"], Role.social_worker),
        "sw_b": make_user(o["B"], Role.social_worker),
        "officer_1": make_user(o["P1"], Role.police_officer),
        "officer_2": make_user(o["P2"], Role.police_officer),
        "dsl_1": make_user(o["S1"], Role.dsl),
        "dsl_2": make_user(o["S2"], Role.dsl),
        "deputy_1": make_user(o["S1"], Role.deputy_dsl),
        "dpo": make_user(o["host"], Role.dpo),
        "admin": make_user(o["host"], Role.hub_admin),
        "chair": make_user(o["A"], Role.mace_chair),
        "chair_h": make_user(o["B"], Role.mace_chair),
    }


def _children(w: World) -> None:
    o = w.orgs
    specs = {
        "c1": (date(2015, 6, 10), o["A"], None, False, "S1"),
        "c2": (date(2012, 1, 15), o["A"], o["A"], True, "S1"),
        "c3": (date(2010, 2, 1), o["B"], o["B"], True, "S2"),
        "c4": (date(2011, 9, 1), o["A"], None, False, "S2"),
        "c5": (date(2018, 3, 10), o["A"], None, False, "S1"),
    }
    for name, (dob, home, placing, looked_after, school) in specs.items():
        child = make_child(given=name, family="Report", dob=dob, looked_after=looked_after,
                           responsible_authority_id=home.id, placing_authority_id=placing.id if placing else None)
        enrol(child, o[school])
        w.children[name] = child


def episode(w: World, name: str, child: str, start: datetime, found: datetime | None, classification, grade,
             place: MissingFrom, force: str, **extra) -> None:
    """A raw row on purpose (not tests/factories.py's report_episode): the service would tell the
    children's schools now, and the picture's school notifications are its own, hand-timed below."""
    row = MissingEpisode(
        child_id=w.children[child].id, police_org_id=w.orgs[force].id, police_reference=f"REP/{name}",
        reported_start=start, found_at=found, classification=classification, risk_grade=grade, missing_from=place,
        source=EpisodeSource.manual, **extra)
    with db.unit_of_work() as s:
        s.add(row)
        note_episode_holders(s, [row])
    w.episodes[name] = row


def _episodes(w: World) -> None:
    m, a = Classification.missing, Classification.absent
    home, placement = MissingFrom.home, MissingFrom.care_placement
    A, B = w.orgs["A"].id, w.orgs["B"].id
    episode(w, "E1", "c1", utc(2026, 1, 31, 23, 30), utc(2026, 2, 1, 10), m, RiskGrade.medium, home, "P1",
             prevention_check_at=utc(2026, 2, 1, 12), return_interview_offered_at=utc(2026, 2, 1, 15),
             return_interview_at=utc(2026, 2, 3, 9), push_factors="problems_at_home",
             pull_factors="friends_or_family,peer_pressure", risk_factors="crime_while_missing")
    episode(w, "E2", "c1", utc(2026, 10, 24, 23, 30), utc(2026, 10, 26, 0, 30), m, RiskGrade.high, home, "P1",
             prevention_check_at=utc(2026, 10, 26, 5, 30), return_interview_offered_at=utc(2026, 10, 26, 9),
             return_interview_declined=True, push_factors="problems_at_home,bullying")
    episode(w, "E3", "c2", utc(2026, 3, 31, 23, 30), utc(2026, 4, 1, 8), a, RiskGrade.low, placement, "P1",
             home_authority_id=A, receiving_authority_id=B, iro_informed_at=utc(2026, 4, 1, 1, 30),
             strategy_discussion_at=utc(2026, 4, 2, 10), trigger_plan_at=utc(2026, 4, 12, 10),
             return_interview_offered_at=utc(2026, 4, 2, 9), return_interview_at=utc(2026, 4, 5, 10),
             risk_factors="crime_while_missing,mental_health")
    episode(w, "E4", "c2", utc(2026, 6, 10, 14), None, m, RiskGrade.high, placement, "P2",
             strategy_discussion_at=utc(2026, 6, 11, 9), pull_factors="grooming")
    episode(w, "E5", "c2", utc(2026, 7, 1, 9), utc(2026, 7, 1, 12), m, RiskGrade.medium, placement, "P1",
             iro_informed_at=utc(2026, 7, 3, 9), strategy_discussion_at=utc(2026, 7, 2, 9),
             trigger_plan_at=utc(2026, 7, 5, 9), prevention_check_at=utc(2026, 7, 1, 13),
             return_interview_offered_at=utc(2026, 7, 1, 14), return_interview_at=utc(2026, 7, 2, 12))
    episode(w, "E6", "c3", utc(2026, 5, 5, 18), utc(2026, 5, 6, 7), a, RiskGrade.no_apparent_risk, placement, "P2",
             home_authority_id=B, receiving_authority_id=A)
    episode(w, "E7", "c4", utc(2025, 12, 31, 23, 30), utc(2026, 1, 1, 2), m, RiskGrade.high, home, "P1",
             push_factors="problems_at_home")
    episode(w, "E8", "c4", utc(2026, 2, 14, 12), utc(2026, 2, 14, 13), m, RiskGrade.low, home, "P1")
    episode(w, "E9", "c3", utc(2026, 9, 9, 10), utc(2026, 9, 9, 11), a, RiskGrade.low, placement, "P2",
             home_authority_id=B, receiving_authority_id=B)
    for day in range(3, 8):
        episode(w, f"F{day - 2}", "c5", utc(2026, 8, day, 10), utc(2026, 8, day, 11), a,
                 RiskGrade.no_apparent_risk, home, "P1")


def _notify(w: World, episode: str, school: str, users: list[str], deadline: datetime, *,
            acknowledged: datetime | None = None, escalated: datetime | None = None,
            reason: RecipientReason = RecipientReason.key_adult, sequence: int = 1) -> None:
    # Raw rows on purpose: a notification's sending, deadline, acknowledgement and escalation at
    # the hand-counted moments of the table above, which the service would stamp with the present.
    ep = w.episodes[episode]
    key = f"{ep.id}:missing:{w.orgs[school].id}:{sequence}"
    with db.unit_of_work() as s:
        for user in users:
            s.add(Notification(episode_id=ep.id, organisation_id=w.orgs[school].id, user_id=w.user(user).id,
                               kind=NotificationKind.missing, reason=reason, group_key=key, deadline_at=deadline,
                               acknowledged_at=acknowledged, escalated_at=escalated, created_at=ep.reported_start))


def _notifications(w: World) -> None:
    # E1 to S1's two key adults, acknowledged in time (one message); E2 to S1, never acknowledged,
    # escalated (and the escalation's own copy, which is not a second message); E6 to S2,
    # acknowledged late; E7 (December 2025) outside the period.
    _notify(w, "E1", "S1", ["dsl_1", "deputy_1"], utc(2026, 2, 2, 8, 30), acknowledged=utc(2026, 2, 2, 8))
    _notify(w, "E2", "S1", ["dsl_1", "deputy_1"], utc(2026, 10, 26, 8, 30), escalated=utc(2026, 10, 26, 9))
    _notify(w, "E2", "S1", ["dsl_1"], utc(2026, 10, 26, 12), reason=RecipientReason.escalation, sequence=2)
    _notify(w, "E6", "S2", ["dsl_2"], utc(2026, 5, 6, 8, 30), acknowledged=utc(2026, 5, 7, 10))
    _notify(w, "E7", "S2", ["dsl_2"], utc(2026, 1, 1, 8, 30), acknowledged=utc(2026, 1, 1, 8))


def _mace(w: World) -> None:
    o = w.orgs
    with db.unit_of_work() as s:
        g = MaceGroup(code="REP-G", name="Report G", host_organisation_id=o["host"].id, area_authority_id=o["A"].id)
        h = MaceGroup(code="REP-H", name="Report H", host_organisation_id=o["host"].id, area_authority_id=o["B"].id)
        s.add_all([g, h])
        s.flush()
        w.groups = {"G": g, "H": h}
        for group, chair in ((g, "chair"), (h, "chair_h")):
            s.add(MaceMembership(group_id=group.id, organisation_id=w.user(chair).organisation_id))
            s.add(MaceMember(group_id=group.id, user_id=w.user(chair).id, organisation_id=w.user(chair).organisation_id,
                             role=MemberRole.chair, start_date=date(2025, 1, 1)))
    _agendas(w)
    _actions(w)
    _meetings(w)


def _agendas(w: World) -> None:
    # Held in 2026: G holds c1 (High) and c2 (Medium); c4 left G in June 2025; H holds c3 (High).
    g, h, c = w.groups["G"].id, w.groups["H"].id, w.children
    with db.unit_of_work() as s:
        s.add(MaceAgendaChild(group_id=g, child_id=c["c1"].id, added_at=utc(2026, 3, 1), risk_level="High",
                              risk_review_due=date(2026, 6, 1)))
        s.add(MaceAgendaChild(group_id=g, child_id=c["c2"].id, added_at=utc(2026, 3, 1), risk_level="Medium",
                              risk_review_due=date(2026, 6, 1)))
        s.add(MaceAgendaChild(group_id=g, child_id=c["c4"].id, added_at=utc(2025, 1, 1),
                              removed_at=utc(2025, 6, 1), risk_level="High",
                              risk_review_due=date(2026, 6, 1)))
        s.add(MaceAgendaChild(group_id=h, child_id=c["c3"].id, added_at=utc(2025, 11, 1), risk_level="High",
                              risk_review_due=date(2026, 6, 1)))


def _action(group: MaceGroup, owner: Organisation, creator: User, due: date, status: ActionStatus,
            **extra) -> MaceAction:
    return MaceAction(group_id=group.id, description="an action", owner_organisation_id=owner.id, due_on=due,
                      status=status, created_by_user_id=creator.id, **extra)


def _actions(w: World) -> None:
    # Due in 2026: G 1 Nov open (overdue on 1 Dec), 20 Nov done, 20 Dec open (not yet due), a
    # CAWN due 1 Aug, served 1 May 2026 with 2 breaches; H 1 Oct in progress (overdue), a CAWN
    # due and served in December 2025 (outside) with 5 breaches.
    g, h, chair = w.groups["G"], w.groups["H"], w.user("chair")
    a, p1 = w.orgs["A"], w.orgs["P1"]
    cawn = dict(kind=ActionKind.disruption, disruption_kind=DisruptionKind.cawn, child_id=w.children["c1"].id)
    with db.unit_of_work() as s:
        s.add_all([
            _action(g, a, chair, date(2026, 11, 1), ActionStatus.open),
            _action(g, a, chair, date(2026, 11, 20), ActionStatus.done),
            _action(g, a, chair, date(2026, 12, 20), ActionStatus.open),
            _action(g, p1, chair, date(2026, 8, 1), ActionStatus.done, served_on=date(2026, 5, 1), breaches=2, **cawn),
            _action(h, a, chair, date(2026, 10, 1), ActionStatus.in_progress),
            _action(h, p1, chair, date(2025, 12, 15), ActionStatus.done, served_on=date(2025, 12, 1), breaches=5,
                    **cawn),
        ])


def _meetings(w: World) -> None:
    # G's meeting held 1 June 2026 discussed c1 and c2, with A and P1 present and S1 absent: A
    # confirmed both outcomes, P1 only c1's (4 owed, 3 confirmed, P1 yet to confirm one). H's
    # meeting held in November 2025 (outside the period) has an outcome unconfirmed.
    chair, c = w.user("chair"), w.children
    officer, dsl = w.user("officer_1"), w.user("dsl_1")
    with db.unit_of_work() as s:
        m1 = MaceMeeting(group_id=w.groups["G"].id, scheduled_for=utc(2026, 6, 1, 9), held_at=utc(2026, 6, 1, 11),
                         created_by_user_id=chair.id)
        m2 = MaceMeeting(group_id=w.groups["H"].id, scheduled_for=utc(2025, 11, 1, 9),
                         held_at=utc(2025, 11, 1, 11), created_by_user_id=chair.id)
        s.add_all([m1, m2])
        s.flush()
        for meeting, child in ((m1, "c1"), (m1, "c2"), (m2, "c3")):
            s.add(MaceAgendaItem(meeting_id=meeting.id, child_id=c[child].id, reason="test", added_by_user_id=chair.id))
        for meeting, user, attendance in ((m1, chair, Attendance.present), (m1, officer, Attendance.present),
                                          (m1, dsl, Attendance.absent), (m2, officer, Attendance.present)):
            s.add(MaceAttendance(meeting_id=meeting.id, user_id=user.id, organisation_id=user.organisation_id,
                                 attendance=attendance))
        confirmed = ((chair.organisation_id, "c1"), (chair.organisation_id, "c2"), (officer.organisation_id, "c1"))
        for org, child in confirmed:
            s.add(MaceOutcome(meeting_id=m1.id, organisation_id=org, child_id=c[child].id, outcome="done",
                              confirmed_at=utc(2026, 6, 3), confirmed_by_user_id=chair.id))
