"""The access proof over the whole URL map: every GET route x every user x every object id that
fits the route's arguments, in the rich world (tests/access/world.py).

Each answer is checked twice against the policy as the test states it (tests/access/policy.py,
never hub.permissions): the status (a page the policy refuses answers 403 or 404; a detail page it
opens answers 200), and the body, downloads read back (xlsx with openpyxl, CSV and JSON as text):
no child's name, date of birth or NHS number, and no share, intelligence, action, person or outcome
text, that the policy does not open to the user. The routes come from `app.url_map`, so a page
added tomorrow is in the matrix the day it is added (an argument with no pool here fails
`test_every_get_route_is_in_the_matrix`).

Hole 5 of issue 18 (a school's or the analyst's report figures counting episodes the school may not
open): the report routes for those users are in a test of their own, which failed until the
reports' scope was fixed (hub.permissions.reports).
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from hub import db
from hub.models.mace import MaceAgendaItem, MaceMember
from hub.models.notifications import Notification
from hub.models.retention import RecordClass, RetentionRecord
from hub.models.sharing import ShareRecord
from hub.reports.figures import EPISODE_FIGURES, MACE_FIGURES
from hub.reports.patterns import PATTERN_FIGURES
from tests.access import policy
from tests.access.world import ACTION_TEXT, CHILDREN, OUTCOME_TEXT, PERSON_NAME, RichWorld

USERS = [name for name, _org, _roles in policy.USERS]
USER_OBJECTS = ["glass", "nurse", "sw_h", "off1", "dsl_a", "member", "hub_dpo", "admin"]
NOT_FOUND = 10**6
#: Routes outside the matrix, and why.
SKIPPED = {
    "static": "files of the hub's own styles and scripts",
    "sso.start": "single sign-on with an organisation's provider: no session, nothing of a child",
    "sso.callback": "single sign-on with an organisation's provider: no session, nothing of a child",
}
#: Whose report pages are hole 5 (reports-scope): schools' key adults, the LA education DSL, the analyst.
HOLE_5_USERS = {"dsl_a", "deputy_a", "dsl_b", "dsl_c", "edu", "analyst"}


@dataclass(frozen=True)
class Case:
    endpoint: str
    url: str
    #: The objects the URL names, as (kind, name in the world).
    objects: tuple[tuple[str, str], ...]


def _pools(world: RichWorld) -> dict[str, list[tuple[str, str, object]]]:
    """argument -> [(kind, name, value)]: every object of the world that fits it, and one that
    does not exist."""
    s = db.session()
    shares = {v.id: k for k, v in world.shares.items()}
    for share in s.scalars(select(ShareRecord).where(ShareRecord.id.not_in(list(shares)))):
        shares[share.id] = f"release-{share.id}"
    items = {i: f"item-{i}" for i in s.scalars(select(MaceAgendaItem.id))}
    members = {i: f"membership-{i}" for i in s.scalars(select(MaceMember.id))}
    episodes = {e.id: k for k, e in world.episodes.items()}
    # A notification by the user it is addressed to (each copy is one person's).
    names = {u.id: k for k, u in world.users.items()}
    notifications = {n.id: names[n.user_id] for n in s.scalars(select(Notification))}
    none = [("none", "none", NOT_FOUND)]
    mace = world.mace
    owners = {o.id: k for k, o in world.orgs.items()}
    retained = dict(s.execute(select(RetentionRecord.owning_org_id, func.min(RetentionRecord.id))
                              .group_by(RetentionRecord.owning_org_id)).all())
    return {
        "child_id": [("child", k, c.id) for k, c in world.children.items()] + none,
        "share_id": [("share", k, i) for i, k in shares.items()] + none,
        "intelligence_id": [("share", k, i) for i, k in shares.items()] + none,
        "group_id": [("group", "group", world.group.id), ("group", "group2", world.group2.id)] + none,
        "meeting_id": [("meeting", "meeting", mace["meeting"].id),
                       ("meeting", "meeting_held", world.meeting_held.id)] + none,
        "agenda_item_id": [("item", k, i) for i, k in items.items()] + none,
        "action_id": [("action", "action", mace["action"].id)] + none,
        "location_id": [("location", "location", mace["location"].id)] + none,
        "person_id": [("person", "person", mace["person"].id)] + none,
        "member_id": [("membership", k, i) for i, k in members.items()] + none,
        "episode_id": [("episode", k, i) for i, k in episodes.items()] + none,
        "notification_id": [("notification", k, i) for i, k in notifications.items()] + none,
        "batch_id": [("batch", "batch", world.batch.id)] + none,
        "item_id": [("review_item", "review_item", world.review_item.id)] + none,
        # A user as the object of a page (their emergency access, their acts in the log, their
        # account): one of each kind of organisation, the one who broke glass, the DPO, the admin.
        "user_id": [("user", k, world.users[k].id) for k in USER_OBJECTS] + none,
        "org_id": [("org", k, o.id) for k, o in world.orgs.items()] + none,
        "verification_id": none,
        "kind": [("format", "xlsx", "xlsx"), ("format", "json", "json")],
        "figure": [("figure", f, f) for f in EPISODE_FIGURES + MACE_FIGURES + PATTERN_FIGURES],
        "ext": [("format", "csv", "csv"), ("format", "xlsx", "xlsx")],
        "subject_kind": [("subject_kind", "location", "location"), ("subject_kind", "person", "person"),
                         ("subject_kind", "child", "child")],
        "subject_id": [("subject", "location", mace["location"].id), ("subject", "person", mace["person"].id),
                       ("subject", "mace", world.children["mace"].id),
                       ("subject", "intel", world.children["intel"].id)],
        "change": [("change", "retire", "retire")],
        # Retention: one record of each owning organisation (named by the organisation), every class.
        "retention_id": [("retention", owners[org], i) for org, i in retained.items()] + none,
        "hold_id": none,
        "erasure_id": [("erasure", "roll_a", world.erasure.id)] + none,
        "record_class": [("record_class", c.value, c.value) for c in RecordClass],
    }


def build_matrix(app, world: RichWorld) -> list[Case]:
    pools = _pools(world)
    adapter = app.url_map.bind("localhost")
    cases: list[Case] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIPPED:
            continue
        arguments = sorted(rule.arguments)
        for combination in itertools.product(*(pools[a] for a in arguments)):
            values = {a: value for a, (_kind, _name, value) in zip(arguments, combination, strict=True)}
            objects = tuple((kind, name) for kind, name, _value in combination)
            cases.append(Case(rule.endpoint, adapter.build(rule.endpoint, values), objects))
    return cases


#: (the kind a network URL says, the pool's subject) -> the object that id is of that kind, if any.
SUBJECTS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def matrix(rich_app, rich_world) -> list[Case]:
    db.bind(rich_app.extensions["hub_engine"])
    ids = {"location": rich_world.mace["location"].id, "person": rich_world.mace["person"].id,
           "mace": rich_world.children["mace"].id, "intel": rich_world.children["intel"].id}
    children = {c.id: name for name, c in rich_world.children.items()}
    SUBJECTS.clear()
    for subject, value in ids.items():
        if value == ids["location"]:
            SUBJECTS[("location", subject)] = "location"
        if value == ids["person"]:
            SUBJECTS[("person", subject)] = "person"
        if value in children:
            SUBJECTS[("child", subject)] = children[value]
    with rich_app.app_context():
        return build_matrix(rich_app, rich_world)


# --- the oracle: what the policy says of one case ---------------------------------------------------

MACE_OBJECT_GROUP = {"group": None, "meeting": "group", "item": "group", "action": "group", "location": "group",
                     "person": "group"}
#: MACE pages every current member opens (others are the chair's, or forms).
MACE_MEMBER_PAGES = {"mace.group", "mace_meetings.meeting", "mace_meetings.item", "mace_actions.show_action",
                     "mace_subjects.location", "mace_subjects.person", "mace_subjects.intelligence_list",
                     "mace_subjects.locations", "mace_subjects.persons"}
#: Pages about one child that only someone who may see the child opens (break glass is the way in).
CHILD_PAGES = {"people.show", "consent.new", "missing.new", "sharing.new", "sharing.decision", "sharing.new_check",
               "sharing.new_consent", "sharing.new_legal_basis", "sharing.new_source", "sharing.new_with_whom"}


# One branch per kind of page, read top to bottom like the policy it mirrors: split, the table scatters.
def expected(user: str, case: Case) -> bool | None:  # noqa: C901 - see above
    """True: the policy opens the page (200); False: it refuses it (403 or 404); None: the policy
    says nothing of the status (a form the user's own roles decide, a redirect), only of the body."""
    kinds = dict(case.objects)
    names = [name for _kind, name in case.objects]
    if "none" in names:
        # The break-glass form is the way to a child one cannot see; a DPO's search of the log
        # for an id finds nothing, whether or not anything had it.
        return None if case.endpoint in ("people.break_glass", "audit.child", "audit.user") else False
    e = case.endpoint
    if e in CHILD_PAGES:
        opens = kinds["child"] in policy.child_record(user)
        return opens if e == "people.show" else (None if opens else False)
    if e == "sharing.show":
        share = kinds["share"]
        if share.startswith("release-"):
            return None
        return None if policy.is_hub_dpo(user) else policy.share_whole(user, share)
    if e in ("sharing.correct", "sharing.onward"):
        share = kinds["share"]
        if share.startswith("release-") or policy.share_whole(user, share):
            return None
        return False
    if e == "mace_subjects.intelligence_item":
        share = kinds["share"]
        if share in ("intel", "place_intel"):
            return policy.mace_member(user)
        return False
    for kind in ("group", "meeting", "item", "action", "location", "person"):
        if kind in kinds and e.startswith("mace"):
            group = kinds[kind] if kind == "group" else "group"
            member = policy.mace_member(user, group)
            if not member:
                if "hub_admin" in policy.ROLES[user] and e in ("mace.group", "mace.add_member"):
                    return None  # an administrator manages any group's membership
                return False
            if e in MACE_MEMBER_PAGES:
                return True
            return None
    if e == "mace_subjects.network_page":
        # The id is read as the kind the URL says: a location's id may be a person's too.
        subject = SUBJECTS.get((kinds["subject_kind"], kinds["subject"]))
        if subject is None:
            return False
        if subject in CHILDREN:
            return None if policy.mace_member(user) and subject in policy.child_record(user) else False
        return None if policy.mace_member(user) else False
    if e == "missing.show":
        episode_child = {"roll_a_f2": "roll_a"}.get(kinds["episode"], kinds["episode"])
        return policy.episode_reader(user, episode_child)
    if e == "notifications.show":
        return policy.notification_reader(user, kinds["notification"])
    if e in ("missing_import.batch", "missing_import.progress", "missing_import.item"):
        return policy.download_reader(user)
    if e == "missing.profile":
        return policy.profile_reader(user, kinds["child"])
    if e == "missing.profile_photo":
        return policy.photo_reader(user, kinds["child"])
    if e in ("subject_access.show", "subject_access.download"):
        return policy.subject_access(user, kinds["child"])
    if e.startswith("retention."):
        # An organisation's DPO, for its own records (the hub's DPO: the host's); nobody else.
        if e == "retention.keep":
            return policy.retention_keeper(user, kinds["retention"])
        if not policy.is_hub_dpo(user) and not policy.is_org_dpo(user):
            return False
        return None if e in ("retention.period", "retention.lift") else True
    if e.startswith("erasure."):
        # A DPO's pages; one request: its receiving DPO, the DPOs holding records about the
        # child, and the hub's DPO see it; only the receiving DPO sends the reply (not yet due).
        if not policy.is_hub_dpo(user) and not policy.is_org_dpo(user):
            return False
        if "erasure" not in kinds:
            return True if e == "erasure.index" else None
        if user not in policy.ERASURE_SEES:
            return False
        if e == "erasure.show":
            return True
        return None if user == policy.ERASURE_RECEIVED_BY or e == "erasure.decide" else False
    if e == "reports.data" and policy.ROLES[user] <= {"dsl", "deputy_dsl"}:
        # A school's reports count its own notifications and replies, never an episode's attributes.
        return None if kinds["figure"] == "school-notifications" else False
    return None


def forbidden(user: str, world: RichWorld) -> list[tuple[str, str]]:
    """(what, text) that must appear nowhere in anything the user is sent."""
    found: list[tuple[str, str]] = []
    seen = policy.child_record(user)
    for name, (given, family, dob) in CHILDREN.items():
        if name in seen:
            continue
        found += [(f"{name}'s name", given), (f"{name}'s name", family)]
        found += [(f"{name}'s date of birth", form) for form in policy.dob_forms(dob)]
        found += [(f"{name}'s NHS number", form) for form in policy.nhs_forms(world.nhs_numbers[name])]
    for share, text in world.share_text.items():
        if not policy.share_whole(user, share):
            found.append((f"share {share}'s text", text))
    if not policy.outcome_text(user):
        found.append(("force one's outcome text", OUTCOME_TEXT))
    if not policy.mace_member(user):
        found += [("the group's action", ACTION_TEXT), ("the group's person of concern", PERSON_NAME),
                  ("the group's place", "The old mill")]
    return found


def body_text(response) -> str:
    """What the user was sent, as text: a spreadsheet read back cell by cell."""
    data = response.get_data()
    if data[:2] == b"PK":
        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(" ".join(str(v) for v in row if v is not None)
                         for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
    text = data.decode("utf-8", errors="replace")
    if "csv" in (response.mimetype or ""):
        return "\n".join(" ".join(row) for row in csv.reader(io.StringIO(text)))
    return text


def check(user: str, client, case: Case, banned: list[tuple[str, str]]) -> str | None:
    """The case's failure in words, or None."""
    response = client.get(case.url)
    want = expected(user, case)
    status = response.status_code
    if want is True and status != 200:
        return f"{case.url} ({case.endpoint}): {status}, the policy opens it"
    if want is False and status not in (401, 403, 404):
        return f"{case.url} ({case.endpoint}): {status}, the policy refuses it"
    if status >= 500:
        return f"{case.url} ({case.endpoint}): {status}"
    if response.mimetype and response.mimetype.startswith("image/"):
        return None
    text = body_text(response)
    leaks = sorted({what for what, token in banned if token in text})
    if leaks:
        return f"{case.url} ({case.endpoint}) {status} shows {', '.join(leaks)}"
    return None


#: Who asks for objects that do not exist: those with role grants (which must not invent a child),
#: the analyst, and one user of each kind of organisation; for everyone else it is the same 404.
ASK_FOR_NOTHING = {"admin", "hub_dpo", "analyst", "sw_h", "off1", "dsl_a", "nurse", "dpo_a", "chair"}


def _asked(user: str, case: Case) -> bool:
    return user in ASK_FOR_NOTHING or ("none", "none") not in case.objects


def _hole_5(user: str, case: Case) -> bool:
    return user in HOLE_5_USERS and case.endpoint.startswith("reports")


def run(user: str, clients, rich_app, rich_world, matrix, *, hole_5: bool) -> tuple[int, list[str]]:
    db.bind(rich_app.extensions["hub_engine"])
    banned = forbidden(user, rich_world)
    cases = [c for c in matrix if _hole_5(user, c) == hole_5 and _asked(user, c)]
    failures = [f for f in (check(user, clients[user], c, banned) for c in cases) if f]
    db.session.remove()
    print(f"\n{user}: {len(cases)} cases, {len(cases) - len(failures)} passed")
    return len(cases), failures


def test_every_get_route_is_in_the_matrix(rich_app, matrix):
    endpoints = {r.endpoint for r in rich_app.url_map.iter_rules() if "GET" in r.methods} - set(SKIPPED)
    assert {c.endpoint for c in matrix} == endpoints
    size = sum(_asked(user, case) for user in USERS for case in matrix)
    print(f"\nThe matrix: {len(endpoints)} GET routes, {len(matrix)} URLs with every object that fits, "
          f"x {len(USERS)} users = {size} cases (objects that do not exist asked by {len(ASK_FOR_NOTHING)} users)")


@pytest.mark.parametrize("user", USERS)
def test_every_page_and_download_shows_each_user_only_what_the_policy_opens(user, clients, rich_app, rich_world,
                                                                             matrix):
    _count, failures = run(user, clients, rich_app, rich_world, matrix, hole_5=False)
    assert not failures, f"{user}: {len(failures)} failures:\n" + "\n".join(failures)


@pytest.mark.parametrize("user", sorted(HOLE_5_USERS))
def test_a_schools_and_the_analysts_report_figures_show_only_what_the_policy_opens(user, clients, rich_app,
                                                                                   rich_world, matrix):
    _count, failures = run(user, clients, rich_app, rich_world, matrix, hole_5=True)
    assert not failures, f"{user}: {len(failures)} failures:\n" + "\n".join(failures)
