"""The rich world of the access proof: every kind of object the hub holds, built once per module
through the services, with every near-insider beside the insider it must not become.

It is the compact world of the access rules (tests/permissions/world.py: two authorities, two
forces, three schools and an LA education service, health, the host; an insider and a
near-insider for every relationship) with what the whole URL map needs on top: children whose
names, dates of birth and identifiers are each distinct tokens (so a page can be read for them),
intelligence about a child and intelligence about a place only, a person of concern, a meeting
held with its attendance and one agency's outcome, a second MACE group the first group's people
are not on, and a never-named member of every member agency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from hub import db
from hub.consent import service as consent
from hub.consent.models import GivenBy
from hub.db import unit_of_work, utcnow
from hub.mace.models import (
    Attendance,
    MaceAgendaChild,
    MaceGroup,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MemberRole,
    SubjectKind,
)
from hub.mace.operations import actions, agenda, intelligence, meetings, outcomes, subjects
from hub.missing import service as missing
from hub.missing.models import (
    Classification,
    EpisodeSource,
    ImportBatch,
    ImportReviewItem,
    ImportStatus,
    MissingEpisode,
    MissingFrom,
    RiskGrade,
)
from hub.missing.profiles import service as profiles
from hub.notifications.models import Notification
from hub.people import service as people
from hub.people.models import AgencyInvolvement, BreakGlassCategory, Enrolment, IdentifierKind
from hub.sharing import drafts
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from hub.sharing.models import Category
from hub.auth.roles import OrgKind, Role
from tests.factories import make_child, valid_nhs_number
from tests.permissions.world import TODAY, AccessWorld, _draft, _episode, _jpeg, _member, _org, _user

#: child -> (given name, family name, date of birth): each a token found nowhere else in the hub.
CHILDREN = {
    "roll_a": ("Rolvenna", "Ashcombe", date(2011, 1, 14)),
    "left_a": ("Leftrude", "Bexwell", date(2010, 2, 15)),
    "roll_c": ("Colindra", "Carthew", date(2012, 3, 16)),
    "involved": ("Invorella", "Dunmere", date(2013, 4, 17)),
    "episode": ("Episandra", "Elmscott", date(2009, 5, 18)),
    "sent": ("Sentravia", "Fenwright", date(2011, 6, 19)),
    "decided": ("Decimova", "Gorsedge", date(2010, 7, 20)),
    "mace": ("Macelina", "Holloway", date(2012, 8, 21)),
    "intel": ("Intellara", "Ibbotsford", date(2013, 9, 22)),
    "glass": ("Glassonia", "Jerrowby", date(2009, 10, 23)),
    "area": ("Areabelle", "Kestwick", date(2011, 11, 24)),
}
#: Share text, each a token of its own: what a share's page, a register row or an export shows.
SHARE_TEXT = {
    "sent": "Seen with adults near the quarry Ostrander",
    "decided": "Not shared: the clinic's worry Pellucid",
    "intel": "Seen at the garages by the viaduct Marrowgate",
    "place_intel": "Vans at the old mill every Friday night Thistlecombe",
}
OUTCOME_TEXT = "Force one opened a child protection investigation Zanthorpe"
ACTION_TEXT = "Visit the garages by the viaduct Quillmore"
PERSON_NAME = "Brandon Wexcombe"


@dataclass
class RichWorld(AccessWorld):
    group2: MaceGroup | None = None
    meeting_held: MaceMeeting | None = None
    nhs_numbers: dict[str, str] = field(default_factory=dict)
    share_text: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


def _people(w: RichWorld) -> None:
    _org(w, "host", OrgKind.mace_host)
    _org(w, "la_h", OrgKind.childrens_social_care)
    _org(w, "la_p", OrgKind.childrens_social_care)
    edu = _org(w, "edu", OrgKind.la_education)
    _org(w, "school_a", OrgKind.school, local_authority_id=edu.id)
    _org(w, "school_b", OrgKind.school, local_authority_id=edu.id)
    _org(w, "school_c", OrgKind.school)
    _org(w, "f1", OrgKind.police)
    _org(w, "f2", OrgKind.police)
    _org(w, "nhs", OrgKind.health)
    for name, org, roles in USERS:
        _user(w, name, org, *roles)


#: Every user: (name, organisation, roles).
USERS = [
    ("dsl_a", "school_a", [Role.dsl]), ("deputy_a", "school_a", [Role.deputy_dsl]),
    ("dsl_b", "school_b", [Role.dsl]), ("dsl_c", "school_c", [Role.dsl]), ("edu", "edu", [Role.dsl]),
    ("sw_h", "la_h", [Role.social_worker]), ("sw_p", "la_p", [Role.social_worker]),
    ("off1", "f1", [Role.police_officer]), ("off2", "f2", [Role.police_officer]),
    ("nurse", "nhs", [Role.health_practitioner]), ("nurse2", "nhs", [Role.health_practitioner]),
    ("dpo_a", "school_a", [Role.dpo]), ("dpo_f1", "f1", [Role.dpo]), ("dpo_h", "la_h", [Role.dpo]),
    ("hub_dpo", "host", [Role.dpo]), ("admin", "host", [Role.hub_admin]), ("analyst", "host", [Role.analyst]),
    ("chair", "la_h", [Role.mace_chair]), ("member", "f1", [Role.police_officer]),
    ("former", "f1", [Role.police_officer]), ("glass", "nhs", [Role.health_practitioner]),
    ("mace_only", "f1", [Role.mace_member]),
    # Never named on a group: a MACE member of the host, a MACE chair of the placing authority.
    ("mace_unnamed", "host", [Role.mace_member]), ("chair2", "la_p", [Role.mace_chair]),
    # A member of the first group who also sits on the second (which holds no child of the first).
    ("nurse_member", "nhs", [Role.health_practitioner]),
]


def build_rich_world() -> RichWorld:
    w = RichWorld()
    _people(w)
    la_h, la_p = w.orgs["la_h"].id, w.orgs["la_p"].id
    place = {"roll_a": dict(responsible_authority_id=la_h, placing_authority_id=la_p, looked_after=True),
             "left_a": dict(responsible_authority_id=la_p), "area": dict(responsible_authority_id=la_h)}
    for n, (name, (given, family, dob)) in enumerate(CHILDREN.items()):
        nhs = valid_nhs_number(104729 + 7001 * n)
        w.nhs_numbers[name] = nhs
        w.children[name] = make_child(given, family, dob, identifiers={IdentifierKind.nhs_number: nhs},
                                      **place.get(name, {}))
    c = w.children
    with unit_of_work() as s:
        s.add_all([
            Enrolment(child_id=c["roll_a"].id, school_id=w.orgs["school_a"].id, start_date=date(2024, 9, 1)),
            Enrolment(child_id=c["left_a"].id, school_id=w.orgs["school_a"].id, start_date=date(2023, 9, 1),
                      end_date=date(2025, 7, 20)),
            Enrolment(child_id=c["roll_c"].id, school_id=w.orgs["school_c"].id, start_date=date(2024, 9, 1)),
            AgencyInvolvement(child_id=c["involved"].id, organisation_id=w.orgs["nhs"].id, reason="CAMHS",
                              started_on=date(2025, 1, 1)),
            AgencyInvolvement(child_id=c["involved"].id, organisation_id=w.orgs["f2"].id, reason="closed case",
                              started_on=date(2024, 1, 1), ended_on=TODAY - timedelta(days=30)),
            *[AgencyInvolvement(child_id=c[name].id, organisation_id=w.orgs["nhs"].id, reason="school nurse",
                                started_on=date(2025, 1, 1)) for name in ("sent", "decided")],
        ])
        w.group = MaceGroup(code="ACCESS-G", name="Access Group", host_organisation_id=w.orgs["host"].id,
                            area_authority_id=la_h)
        w.group2 = MaceGroup(code="OTHER-G", name="Other Group", host_organisation_id=w.orgs["host"].id,
                             area_authority_id=la_p)
        s.add_all([w.group, w.group2])
        s.flush()
        s.add_all([MaceMembership(group_id=w.group.id, organisation_id=w.orgs[o].id) for o in ("f1", "la_h", "nhs")])
        s.add_all([MaceMembership(group_id=w.group2.id, organisation_id=w.orgs[o].id) for o in ("la_p", "nhs")])
        s.add_all(MaceAgendaChild(group_id=w.group.id, child_id=c[name].id) for name in ("mace", "roll_a"))
    _member(w, "chair", MemberRole.chair)
    _member(w, "member")
    _member(w, "former", ended=True)
    _member(w, "mace_only")
    _member(w, "nurse_member")
    with unit_of_work() as s:
        for user, role in (("chair2", MemberRole.chair), ("nurse_member", MemberRole.member)):
            person = w.users[user]
            s.add(MaceMember(group_id=w.group2.id, user_id=person.id, organisation_id=person.organisation_id,
                             role=role, start_date=TODAY - timedelta(days=100)))

    _episode(w, "episode", "off2", "episode", "F2/EP/1", home_authority_id=la_h, receiving_authority_id=la_p)
    _episode(w, "intel", "off1", "intel", "F1/EP/1")
    _episode(w, "roll_a", "off1", "roll_a", "F1/EP/2")

    w.share_text = dict(SHARE_TEXT)
    w.shares["sent"] = sharing.create_share(w.user("nurse"), _draft(
        w, c["sent"], ["f1", "f2"], "nurse", SHARE_TEXT["sent"], category=Category.health_information,
        bases=BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA2004-s11"),
        source_evaluation=None, intelligence_assessment=None, handling_code=None))
    sharing.revoke(w.user("nurse"), w.shares["sent"].id, w.orgs["f2"].id, "sent in error")
    w.shares["decided"] = sharing.record_decision_not_to_share(w.user("nurse"), _draft(
        w, c["decided"], ["f2"], "nurse", SHARE_TEXT["decided"], category=Category.health_information))
    with unit_of_work() as s:
        for involvement in s.query(AgencyInvolvement).filter(
                AgencyInvolvement.child_id.in_([c["sent"].id, c["decided"].id])):
            involvement.ended_on = TODAY - timedelta(days=1)

    meeting = meetings.schedule(w.user("chair"), w.group.id, meetings.MeetingDetails(
        TODAY + timedelta(days=7), "09:30", "Town hall"))
    item = agenda.add_item(w.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, c["mace"].id))
    place_ = subjects.add_location(w.user("member"), w.group.id, subjects.LocationDetails("The old mill", "other"))
    person = subjects.add_person(w.user("member"), w.group.id, subjects.PersonDetails(
        kind="person", name=PERSON_NAME, legal_basis="10+S1P18", justification="Seen collecting children",
        review_on=TODAY + timedelta(days=60)))
    subjects.add_link(w.user("member"), w.group.id, subjects.LinkDetails(
        source="Patrol", seen_on=TODAY - timedelta(days=3), child_id=c["mace"].id, person_id=person.id))
    action = actions.create_action(w.user("chair"), meeting.id, actions.ActionDraft(
        description=ACTION_TEXT, owner_organisation_id=w.orgs["f1"].id, due_on=TODAY + timedelta(days=14),
        item_id=item.id))
    w.shares["intel"] = intelligence.share_intelligence(
        w.user("member"), w.group.id, _draft(w, None, [], "off1", SHARE_TEXT["intel"]),
        intelligence.Subjects(child_ids=[c["intel"].id]))
    w.shares["place_intel"] = intelligence.share_intelligence(
        w.user("member"), w.group.id, _draft(w, None, [], "off1", SHARE_TEXT["place_intel"]),
        intelligence.Subjects(location_ids=[place_.id]))

    # A meeting held today: force 1 and the authority present, force 1's outcome for the child.
    held = meetings.schedule(w.user("chair"), w.group.id, meetings.MeetingDetails(TODAY, "00:00", "Town hall"))
    agenda.add_item(w.user("chair"), held.id, agenda.ItemDraft(SubjectKind.child, c["mace"].id))
    marks = {w.users[u].id: Attendance.present if u in ("chair", "member") else Attendance.apologies
             for u in ("chair", "member", "mace_only", "nurse_member")}
    meetings.record_attendance(w.user("chair"), held.id, marks)
    meetings.record_held(w.user("chair"), held.id)
    outcome = outcomes.record_outcome(w.user("member"), held.id, outcomes.OutcomeDraft(
        organisation_id=w.orgs["f1"].id, child_id=c["mace"].id, outcome=OUTCOME_TEXT, system_name="Niche",
        system_reference="NR-1"))
    w.meeting_held = held
    # Since that meeting, a child of the group's area whom only force 2 knows went missing: the
    # chair's agenda proposals must not name her (no relationship; the group does not hold her).
    officer = w.user("off2")
    with unit_of_work():
        reported = missing.apply_police_record(
            officer, officer.organisation_id, c["area"].id, missing.EpisodeDetails(
                police_reference="F2/EP/3", reported_start=utcnow(), classification=Classification.missing,
                risk_grade=RiskGrade.medium, missing_from=MissingFrom.home), EpisodeSource.police_download)
    w.episodes["area"] = db.session().get(MissingEpisode, reported.episode.id)
    w.mace = {"meeting": meeting, "item": item, "location": place_, "action": action, "person": person,
              "outcome": outcome}

    people.break_glass(w.user("glass"), c["glass"].id, BreakGlassCategory.injured_or_unwell,
                       "Child in A&E, no record reachable: need the plan")
    profiles.save_profile(w.user("sw_h"), c["roll_a"].id, {"physical_description": "Tall"},
                         profiles.PhotoChange(upload=_jpeg()))
    profiles.release_profile(w.user("sw_h"), w.episodes["roll_a"].id)
    _episode(w, "roll_a_f2", "off2", "roll_a", "F2/EP/2")
    released = profiles.release_profile(w.user("sw_h"), w.episodes["roll_a_f2"].id)
    sharing.revoke(w.user("sw_h"), released.id, w.orgs["f2"].id, "released to the wrong force")
    w.consent = consent.record_consent(w.user("sw_h"), consent.ConsentDetails(
        child_id=c["roll_a"].id, given_by=GivenBy.child, giver_description="the child herself", given=True,
        purposes=[Category.missing_episode], recipient_org_ids=[w.orgs["f1"].id], obtained_on=TODAY,
        child_competent=True))
    w.draft_id = drafts.save(w.user("nurse"), c["sent"].id, None, {"summary": ["Begun and not sent"]})
    for n in db.session().query(Notification).filter_by(episode_id=w.episodes["roll_a"].id):
        w.notifications["dsl_a" if n.user_id == w.users["dsl_a"].id else "deputy_a"] = n
    for lister in ("sw_h", "sw_p", "dsl_c"):
        people.find_children(w.user(lister), people.ChildSearch())
    people.get_child(w.user("dsl_a"), c["roll_a"].id)
    with unit_of_work() as s:
        w.batch = ImportBatch(police_org_id=w.orgs["f1"].id, uploaded_by_user_id=w.users["off1"].id,
                              filename="download.xlsx", sha256="0" * 64, status=ImportStatus.done)
        s.add(w.batch)
        s.flush()
        # A row naming a child the hub does not know (the force's own data, shown to its officers).
        row = {"police_reference": "F1/WAIT/1", "reported_start": utcnow().isoformat(), "classification": "missing",
               "risk_grade": "medium", "missing_from": "home", "found_at": None, "found_where": None,
               "police_id": "F1-77", "nhs_number": None, "given_name": "Rowanne", "family_name": "Tidwell",
               "date_of_birth": "2010-12-12"}
        w.review_item = ImportReviewItem(batch_id=w.batch.id, police_org_id=w.orgs["f1"].id, row_number=2,
                                         police_reference="F1/WAIT/1", row_data=json.dumps(row))
        s.add(w.review_item)
    return w
