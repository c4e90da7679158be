"""A compact world for the access rules: every relationship of hub.permissions once, and beside each
the near-insider it must not let in (a colleague, a former member, a revoked recipient, an ended
enrolment, another force, the administrator, the analyst, an organisation's DPO).

Built through the services where the hub has one (episodes, shares, decisions, revocation,
intelligence, break glass, profiles, releases); relationship rows the hub records from other
systems (enrolments, agency involvements, a group's agenda) are written as those systems would.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

from PIL import Image

from hub import db
from hub.consent import service as consent
from hub.db import unit_of_work, utcnow
from hub.mace.operations import actions, agenda, intelligence, meetings, subjects
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.missing.profiles import service as profiles
from hub.models.auth import Organisation, User
from hub.models.consent import ConsentRecord, GivenBy
from hub.models.mace import (
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MemberRole,
    SubjectKind,
)
from hub.models.missing import (
    Classification,
    EpisodeSource,
    ImportBatch,
    ImportReviewItem,
    ImportStatus,
    MissingEpisode,
    MissingFrom,
    RiskGrade,
)
from hub.models.notifications import Notification
from hub.models.people import AgencyInvolvement, BreakGlassCategory, Child, Enrolment
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.people import service as people
from hub.sharing import decisions as share_decisions
from hub.sharing import drafts
from hub.sharing import recipients as share_recipients
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import make_child, make_org, make_user

TODAY = date.today()
MACE_MODELS = {model.__name__: model for model in (MaceMeeting, MaceAgendaItem, MaceLocation, MaceAction)}


@dataclass
class AccessWorld:
    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    shares: dict[str, ShareRecord] = field(default_factory=dict)
    episodes: dict[str, MissingEpisode] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    group: MaceGroup | None = None
    consent: ConsentRecord | None = None
    draft_id: str | None = None
    #: The group's meeting, its agenda item about the held child, a place and an action.
    mace: dict[str, object] = field(default_factory=dict)
    batch: ImportBatch | None = None
    review_item: ImportReviewItem | None = None

    def user(self, name: str) -> User:
        """The user, fresh from the database (roles and organisation loaded)."""
        return db.session().get(User, self.users[name].id)

    def child_name(self, child_id: int) -> str:
        return next(name for name, c in self.children.items() if c.id == child_id)


def _org(world: AccessWorld, name: str, kind: OrgKind, **extra) -> Organisation:
    world.orgs[name] = make_org(kind, **extra)
    return world.orgs[name]


def _user(world: AccessWorld, name: str, org: str, *roles: Role) -> User:
    world.users[name] = make_user(world.orgs[org], *roles, totp=False)[0]
    return world.users[name]


def _member(world: AccessWorld, user: str, role: MemberRole = MemberRole.member, ended: bool = False) -> None:
    person = world.users[user]
    with unit_of_work() as s:
        s.add(MaceMember(group_id=world.group.id, user_id=person.id, organisation_id=person.organisation_id,
                         role=role, start_date=TODAY - timedelta(days=200),
                         end_date=TODAY - timedelta(days=1) if ended else None))


def _draft(world: AccessWorld, child: Child | None, recipients: list[str], authoriser: str, summary: str,
           **extra) -> sharing.ShareDraft:
    values = dict(
        child_id=child.id if child else None, category=Category.police_intelligence, summary=summary,
        content=f"{summary}: the detail", purpose="Safeguarding",
        recipient_org_ids=[world.orgs[r].id for r in recipients], source_kind=SourceKind.organisation,
        source_description="A team of the sender", obtained_how=ObtainedHow.observation,
        obtained_on=TODAY - timedelta(days=2),
        bases=BasisChoice(article_6="6(1)(e)", article_10="10+S1P10", gateway="CDA1998-s115"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.crime,
        rationale="Seeking consent would place the child at risk", authorised_by_user_id=world.users[authoriser].id,
        source_evaluation="2", intelligence_assessment="B", handling_code="P", family_told=False,
        family_not_told_reason="Would place the child at risk")
    values.update(extra)
    return sharing.ShareDraft(**values)


def _episode(world: AccessWorld, name: str, officer: str, child: str, reference: str, **changes) -> None:
    """A force's report, as its daily download brings it (the force need not know the child yet)."""
    actor = world.user(officer)
    with unit_of_work():
        outcome = missing.apply_police_record(actor, actor.organisation_id, world.children[child].id,
                                              missing_details.EpisodeDetails(
                                                  police_reference=reference,
                                                  reported_start=utcnow() - timedelta(hours=3),
                                                  classification=Classification.missing, risk_grade=RiskGrade.medium,
                                                  missing_from=MissingFrom.home),
                                              EpisodeSource.police_download)
    if changes:
        missing.update_episode(world.user(officer), outcome.episode.id, missing_details.EpisodeChanges(**changes))
    world.episodes[name] = db.session().get(MissingEpisode, outcome.episode.id)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (40, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


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
]


def add_people(w: AccessWorld, users: list[tuple[str, str, list[Role]]]) -> None:
    """Two authorities, two forces, three schools (two in the LA education service's area),
    health and the host; and the users."""
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
    for name, org, roles in users:
        _user(w, name, org, *roles)


def placements(w: AccessWorld) -> dict[str, dict]:
    """Who is responsible for which child: the child on roll at school A is the home authority's,
    looked after and placed by the other; the child who left school A is the placing one's."""
    la_h, la_p = w.orgs["la_h"].id, w.orgs["la_p"].id
    return {"roll_a": dict(responsible_authority_id=la_h, placing_authority_id=la_p, looked_after=True),
            "left_a": dict(responsible_authority_id=la_p)}


def add_relationships(w: AccessWorld) -> None:
    """Enrolments (current, ended, at another school) and agency involvements (current, ended),
    as the schools' and agencies' own systems record them."""
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


def add_group(w: AccessWorld, member_orgs: tuple[str, ...]) -> None:
    """The MACE group of the home authority's area, its member organisations, the children on its
    agenda, and its people: the chair, a member, a former member and a MACE-only member."""
    c = w.children
    with unit_of_work() as s:
        w.group = MaceGroup(code="ACCESS-G", name="Access Group", host_organisation_id=w.orgs["host"].id,
                            area_authority_id=w.orgs["la_h"].id)
        s.add(w.group)
        s.flush()
        s.add_all([MaceMembership(group_id=w.group.id, organisation_id=w.orgs[o].id) for o in member_orgs])
        s.add_all(MaceAgendaChild(group_id=w.group.id, child_id=c[name].id) for name in ("mace", "roll_a"))
    _member(w, "chair", MemberRole.chair)
    _member(w, "member")
    _member(w, "former", ended=True)
    _member(w, "mace_only")


def add_episodes(w: AccessWorld) -> None:
    """A force's report about a child of no one else, naming two authorities; a report by force 1
    about the child the intelligence is about; and one about the child on roll at school A (its
    key adults are told)."""
    la_h, la_p = w.orgs["la_h"].id, w.orgs["la_p"].id
    _episode(w, "episode", "off2", "episode", "F2/EP/1", home_authority_id=la_h, receiving_authority_id=la_p)
    _episode(w, "intel", "off1", "intel", "F1/EP/1")
    _episode(w, "roll_a", "off1", "roll_a", "F1/EP/2")


def add_health_shares(w: AccessWorld, sent: str, decided: str) -> None:
    """Health to force 1 (and force 2, revoked), and a decision not to share (would have gone to
    force 2); then the health team's involvement that let it share ends: what it sent is its only
    tie now."""
    c = w.children
    w.shares["sent"] = sharing.create_share(w.user("nurse"), _draft(
        w, c["sent"], ["f1", "f2"], "nurse", sent, category=Category.health_information,
        bases=BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA2004-s11"),
        source_evaluation=None, intelligence_assessment=None, handling_code=None))
    share_recipients.revoke(w.user("nurse"), w.shares["sent"].id, w.orgs["f2"].id, "sent in error")
    w.shares["decided"] = share_decisions.record_decision_not_to_share(w.user("nurse"), _draft(
        w, c["decided"], ["f2"], "nurse", decided, category=Category.health_information))
    with unit_of_work() as s:
        for involvement in s.query(AgencyInvolvement).filter(
                AgencyInvolvement.child_id.in_([c["sent"].id, c["decided"].id])):
            involvement.ended_on = TODAY - timedelta(days=1)


def add_meeting(w: AccessWorld, place: str, action: str) -> None:
    """The group's meeting, with the held child on its agenda, a place of concern and an action."""
    meeting = meetings.schedule(w.user("chair"), w.group.id, meetings.MeetingDetails(
        TODAY + timedelta(days=7), "09:30", "Town hall"))
    item = agenda.add_item(w.user("chair"), meeting.id, agenda.ItemDraft(SubjectKind.child, w.children["mace"].id))
    location = subjects.add_location(w.user("member"), w.group.id, subjects.LocationDetails(place, "other"))
    made = actions.create_action(w.user("chair"), meeting.id, actions.ActionDraft(
        description=action, owner_organisation_id=w.orgs["f1"].id, due_on=TODAY + timedelta(days=14),
        item_id=item.id))
    w.mace.update({"meeting": meeting, "item": item, "location": location, "action": made})


def add_profile_consent_and_listings(w: AccessWorld, giver: str) -> None:
    """Break glass (one practitioner's one-hour grant); the Philomena profile of the child on roll
    at school A, kept by its authorities, released to force 1 for its episode, and released to
    force 2 for its own report and revoked; a consent the child's social worker recorded; a share
    the nurse began and did not send; school A's key adults' notifications; and listings."""
    c = w.children
    people.break_glass(w.user("glass"), c["glass"].id, BreakGlassCategory.injured_or_unwell,
                       "Child in A&E, no record reachable: need the plan")
    profiles.save_profile(w.user("sw_h"), c["roll_a"].id, {"physical_description": "Tall"},
                          profiles.PhotoChange(upload=_jpeg()))
    profiles.release_profile(w.user("sw_h"), w.episodes["roll_a"].id)
    _episode(w, "roll_a_f2", "off2", "roll_a", "F2/EP/2")
    released = profiles.release_profile(w.user("sw_h"), w.episodes["roll_a_f2"].id)
    share_recipients.revoke(w.user("sw_h"), released.id, w.orgs["f2"].id, "released to the wrong force")
    w.consent = consent.record_consent(w.user("sw_h"), consent.ConsentDetails(
        child_id=c["roll_a"].id, given_by=GivenBy.child, giver_description=giver, given=True,
        purposes=[Category.missing_episode], recipient_org_ids=[w.orgs["f1"].id], obtained_on=TODAY,
        child_competent=True))
    w.draft_id = drafts.save(w.user("nurse"), c["sent"].id, None, {"summary": ["Begun and not sent"]})
    for n in db.session().query(Notification).filter_by(episode_id=w.episodes["roll_a"].id):
        w.notifications["dsl_a" if n.user_id == w.users["dsl_a"].id else "deputy_a"] = n
    # Each social worker's list names children of both authorities (one on roll at school A); a
    # school C DSL's list names only their own pupil. An organisation DPO's scope takes in a
    # listing that showed one of its children, whoever listed it.
    for lister in ("sw_h", "sw_p", "dsl_c"):
        people.find_children(w.user(lister), people.ChildSearch())
    people.get_child(w.user("dsl_a"), c["roll_a"].id)  # school A's own staff at work


def add_download(w: AccessWorld, row_data: str) -> None:
    """A police download of force 1 and a row of it waiting for review."""
    with unit_of_work() as s:
        w.batch = ImportBatch(police_org_id=w.orgs["f1"].id, uploaded_by_user_id=w.users["off1"].id,
                              filename="download.xlsx", sha256="0" * 64, status=ImportStatus.done)
        s.add(w.batch)
        s.flush()
        w.review_item = ImportReviewItem(batch_id=w.batch.id, police_org_id=w.orgs["f1"].id, row_number=2,
                                         police_reference="F1/WAIT/1", row_data=row_data)
        s.add(w.review_item)


def build_access_world() -> AccessWorld:
    w = AccessWorld()
    add_people(w, USERS)
    place = placements(w)
    w.children = {name: make_child(given, "Quorne", **place.get(name, {})) for name, given in (
        ("roll_a", "Rolla"), ("left_a", "Leftly"), ("roll_c", "Rollc"), ("involved", "Involva"),
        ("episode", "Episodia"), ("sent", "Sentina"), ("decided", "Decida"), ("mace", "Macey"),
        ("intel", "Intella"), ("glass", "Glassa"))}
    add_relationships(w)
    add_group(w, ("f1", "la_h"))
    add_episodes(w)
    add_health_shares(w, "Sentina seen with adults", "Decida not shared")
    # MACE intelligence about one child from the member (force 1) into the group.
    w.shares["intel"] = intelligence.share_intelligence(
        w.user("member"), w.group.id, _draft(w, None, [], "off1", "Intella seen at the garages"),
        intelligence.Subjects(child_ids=[w.children["intel"].id]))
    add_meeting(w, "The garages", "Visit the garages")
    add_profile_consent_and_listings(w, "Rolla herself")
    add_download(w, "{}")
    return w


def world_ids(world: AccessWorld) -> dict:
    """The world as ids, to keep beside a copy of its database (tests/permissions/conftest.py)."""
    return {"orgs": {k: v.id for k, v in world.orgs.items()}, "users": {k: v.id for k, v in world.users.items()},
            "children": {k: v.id for k, v in world.children.items()},
            "shares": {k: v.id for k, v in world.shares.items()},
            "episodes": {k: v.id for k, v in world.episodes.items()},
            "notifications": {k: v.id for k, v in world.notifications.items()},
            "group": world.group.id, "batch": world.batch.id, "review_item": world.review_item.id,
            "mace": {k: [type(v).__name__, v.id] for k, v in world.mace.items()},
            "consent": world.consent.id, "draft": world.draft_id}


def load_access_world(ids: dict) -> AccessWorld:
    """The world again from its ids, in a copy of the database it was built in."""
    s = db.session()

    def each(model, names: dict) -> dict:
        return {name: s.get(model, i) for name, i in names.items()}

    return AccessWorld(orgs=each(Organisation, ids["orgs"]), users=each(User, ids["users"]),
                       children=each(Child, ids["children"]), shares=each(ShareRecord, ids["shares"]),
                       episodes=each(MissingEpisode, ids["episodes"]),
                       notifications=each(Notification, ids["notifications"]), group=s.get(MaceGroup, ids["group"]),
                       batch=s.get(ImportBatch, ids["batch"]), review_item=s.get(ImportReviewItem, ids["review_item"]),
                       mace={k: s.get(MACE_MODELS[kind], i) for k, (kind, i) in ids["mace"].items()},
                       consent=s.get(ConsentRecord, ids["consent"]), draft_id=ids["draft"])


@contextmanager
def deactivated(world, who: str):
    """The user deactivated for the block, and active again after it (a refusal inside the block
    commits its own audit event, and with it anything else the session holds)."""
    user = world.user(who)
    user.active = False
    try:
        yield user
    finally:
        db.session().rollback()
        user = world.user(who)
        user.active = True
        db.session().commit()
