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
from hub.db import unit_of_work, utcnow
from hub.erasure import service as erasure
from hub.mace.operations import agenda, intelligence, meetings, outcomes, subjects
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.erasure import ErasureRequest
from hub.models.mace import Attendance, MaceGroup, MaceMeeting, MaceMember, MaceMembership, MemberRole, SubjectKind
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import IdentifierKind
from hub.models.roles import Role
from tests.factories import make_child, valid_nhs_number
from tests.permissions.world import (
    TODAY,
    AccessWorld,
    _draft,
    _member,
    add_download,
    add_episodes,
    add_group,
    add_health_shares,
    add_meeting,
    add_people,
    add_profile_consent_and_listings,
    add_relationships,
    placements,
)
from tests.permissions.world import USERS as ACCESS_USERS

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
    erasure: ErasureRequest | None = None


#: Every user: the access rules' (tests/permissions/world.py), and
USERS = [
    *ACCESS_USERS,
    # never named on a group: a MACE member of the host, a MACE chair of the placing authority;
    ("mace_unnamed", "host", [Role.mace_member]), ("chair2", "la_p", [Role.mace_chair]),
    # a member of the first group who also sits on the second (which holds no child of the first).
    ("nurse_member", "nhs", [Role.health_practitioner]),
]


def build_rich_world() -> RichWorld:
    """The access rules' world (built by the same steps) with the URL map's additions."""
    w = RichWorld()
    add_people(w, USERS)
    place = {**placements(w), "area": dict(responsible_authority_id=w.orgs["la_h"].id)}
    for n, (name, (given, family, dob)) in enumerate(CHILDREN.items()):
        nhs = valid_nhs_number(104729 + 7001 * n)
        w.nhs_numbers[name] = nhs
        w.children[name] = make_child(given, family, dob, identifiers={IdentifierKind.nhs_number: nhs},
                                      **place.get(name, {}))
    c = w.children
    add_relationships(w)
    # The health team is a member too; a second group, of the placing authority's area, holds
    # none of the first group's children.
    add_group(w, ("f1", "la_h", "nhs"))
    _member(w, "nurse_member")
    with unit_of_work() as s:
        w.group2 = MaceGroup(code="OTHER-G", name="Other Group", host_organisation_id=w.orgs["host"].id,
                             area_authority_id=w.orgs["la_p"].id)
        s.add(w.group2)
        s.flush()
        s.add_all([MaceMembership(group_id=w.group2.id, organisation_id=w.orgs[o].id) for o in ("la_p", "nhs")])
        for user, role in (("chair2", MemberRole.chair), ("nurse_member", MemberRole.member)):
            person = w.users[user]
            s.add(MaceMember(group_id=w.group2.id, user_id=person.id, organisation_id=person.organisation_id,
                             role=role, start_date=TODAY - timedelta(days=100)))
    add_episodes(w)
    w.share_text = dict(SHARE_TEXT)
    add_health_shares(w, SHARE_TEXT["sent"], SHARE_TEXT["decided"])
    add_meeting(w, "The old mill", ACTION_TEXT)
    person = subjects.add_person(w.user("member"), w.group.id, subjects.PersonDetails(
        kind="person", name=PERSON_NAME, legal_basis="10+S1P18", justification="Seen collecting children",
        review_on=TODAY + timedelta(days=60)))
    subjects.add_link(w.user("member"), w.group.id, subjects.LinkDetails(
        source="Patrol", seen_on=TODAY - timedelta(days=3), child_id=c["mace"].id, person_id=person.id))
    w.shares["intel"] = intelligence.share_intelligence(
        w.user("member"), w.group.id, _draft(w, None, [], "off1", SHARE_TEXT["intel"]),
        intelligence.Subjects(child_ids=[c["intel"].id]))
    w.shares["place_intel"] = intelligence.share_intelligence(
        w.user("member"), w.group.id, _draft(w, None, [], "off1", SHARE_TEXT["place_intel"]),
        intelligence.Subjects(location_ids=[w.mace["location"].id]))

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
            officer, officer.organisation_id, c["area"].id, missing_details.EpisodeDetails(
                police_reference="F2/EP/3", reported_start=utcnow(), classification=Classification.missing,
                risk_grade=RiskGrade.medium, missing_from=MissingFrom.home), EpisodeSource.police_download)
    w.episodes["area"] = db.session().get(MissingEpisode, reported.episode.id)
    w.mace.update({"person": person, "outcome": outcome})

    add_profile_consent_and_listings(w, "the child herself")
    # A row naming a child the hub does not know (the force's own data, shown to its officers).
    add_download(w, json.dumps({
        "police_reference": "F1/WAIT/1", "reported_start": utcnow().isoformat(), "classification": "missing",
        "risk_grade": "medium", "missing_from": "home", "found_at": None, "found_where": None,
        "police_id": "F1-77", "nhs_number": None, "given_name": "Rowanne", "family_name": "Tidwell",
        "date_of_birth": "2010-12-12"}))
    # An erasure request about the child on school A's roll, received by her home authority.
    w.erasure = erasure.record_request(w.user("dpo_h"), erasure.RequestDetails(
        c["roll_a"].id, TODAY, "Her mother", "Everything the hub holds about her"), TODAY)
    return w
