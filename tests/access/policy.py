"""The access policy, stated again in the test's own words: the oracle of the access proof.

Nothing here calls hub.permissions. It is the README's table ("Permissions") written as data:
which roles may use which relationship between an organisation and a child, the facts of the rich
world (tests/access/world.py) as (organisation, relationship, child) rows, and for every other kind
of object the people it opens to. The proof asks the hub and compares its answers with these.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.access.world import USERS

PRACTITIONER = {"dsl", "deputy_dsl", "social_worker", "police_officer", "health_practitioner"}
MACE = {"mace_chair", "mace_member"}

#: relationship -> the roles that may use it (README, "Permissions": the first table).
RELATIONSHIP_OPENS_TO: dict[str, set[str]] = {
    "enrolment": {"dsl", "deputy_dsl"},
    "la-education": {"dsl", "deputy_dsl"},
    "responsible-authority": {"social_worker"},
    "placing-authority": {"social_worker"},
    "agency-involvement": PRACTITIONER,
    "mace-agenda": set(),  # an organisation's place on a group opens nothing to its people
    "share-sent": PRACTITIONER | MACE,
    "share-received": PRACTITIONER | MACE,
    "missing-episode": PRACTITIONER,
    "episode-authority": {"social_worker"},
}

#: The world's relationships, as the services recorded them: (organisation, relationship, child).
FACTS: list[tuple[str, str, str]] = [
    ("school_a", "enrolment", "roll_a"),
    ("edu", "la-education", "roll_a"),
    ("school_c", "enrolment", "roll_c"),
    # left_a's enrolment at school A ended: no row.
    ("la_h", "responsible-authority", "roll_a"),
    ("la_p", "placing-authority", "roll_a"),
    ("la_p", "responsible-authority", "left_a"),
    ("la_h", "responsible-authority", "area"),
    ("nhs", "agency-involvement", "involved"),  # force 2's involvement ended: no row
    ("nhs", "share-sent", "sent"),
    ("nhs", "share-sent", "decided"),  # a decision not to share: its sender keeps it
    ("f1", "share-received", "sent"),  # force 2 was revoked: no row
    ("la_h", "share-sent", "roll_a"),  # the Philomena profile's releases
    ("f1", "share-received", "roll_a"),  # (force 2's release revoked: no row)
    ("f2", "missing-episode", "episode"),
    ("la_h", "episode-authority", "episode"),
    ("la_p", "episode-authority", "episode"),
    ("f1", "missing-episode", "intel"),
    ("f1", "missing-episode", "roll_a"),
    ("f2", "missing-episode", "roll_a"),
    ("f2", "missing-episode", "area"),
    # MACE intelligence (about "intel") is never a relationship; the group holds two children.
    *[(org, "mace-agenda", child) for org in ("f1", "la_h", "nhs", "host") for child in ("mace", "roll_a")],
]
#: Current named members of each group; "former"'s membership ended.
MEMBERS = {"group": {"chair", "member", "mace_only", "nurse_member"}, "group2": {"chair2", "nurse_member"}}
GROUP_HOLDS = {"group": {"mace", "roll_a"}, "group2": set()}
BREAK_GLASS = {"glass": {"glass"}}

ORG = {name: org for name, org, _roles in USERS}
ROLES = {name: {r.value for r in roles} for name, _org, roles in USERS}
CHILDREN = ["roll_a", "left_a", "roll_c", "involved", "episode", "sent", "decided", "mace", "intel", "glass", "area"]


def is_hub_dpo(user: str) -> bool:
    return "dpo" in ROLES[user] and ORG[user] == "host"


def is_org_dpo(user: str) -> bool:
    return "dpo" in ROLES[user] and ORG[user] != "host"


def retention_keeper(user: str, owner: str) -> bool:
    """The review of a record under retention: the DPO of the organisation that owns it only."""
    return "dpo" in ROLES[user] and ORG[user] == owner


#: The erasure request about roll_a: received by her home authority; seen by its DPO, the DPOs of
#: the organisations holding records about her (the forces' episodes; the placing authority's
#: profile), and the hub's DPO.
ERASURE_RECEIVED_BY = "dpo_h"
ERASURE_SEES = {"dpo_h", "dpo_f1", "hub_dpo"}


def org_holds(org: str) -> set[str]:
    return {child for o, _rel, child in FACTS if o == org}


def child_record(user: str) -> set[str]:
    """The children whose record (name, date of birth, identifiers) the user may see."""
    roles = ROLES[user]
    if roles == {"analyst"}:
        return set()
    if is_hub_dpo(user) or "hub_admin" in roles:
        return set(CHILDREN)
    seen = {child for org, rel, child in FACTS if org == ORG[user] and roles & RELATIONSHIP_OPENS_TO[rel]}
    if is_org_dpo(user):
        seen |= org_holds(ORG[user])
    for group, members in MEMBERS.items():
        if user in members:
            seen |= GROUP_HOLDS[group]
    if roles & (PRACTITIONER | MACE):
        seen |= BREAK_GLASS.get(user, set())
    return seen


SHARE_READERS = PRACTITIONER | MACE | {"dpo"}
#: share -> (sender organisation, recipient organisations still holding it, MACE group or None).
SHARES = {
    "sent": ("nhs", {"f1"}, None),
    "decided": ("nhs", set(), None),
    "intel": ("f1", set(), "group"),
    "place_intel": ("f1", set(), "group"),
}


def share_whole(user: str, share: str) -> bool:
    """Whether the user may read the share's text (summary, content)."""
    sender, recipients, group = SHARES[share]
    if is_hub_dpo(user):
        return True  # the hub's DPO, for audit and subject access
    if not ROLES[user] & SHARE_READERS:
        return False
    if group is not None:
        return user in MEMBERS[group]  # never an organisation as such
    return ORG[user] == sender or ORG[user] in recipients


def mace_member(user: str, group: str = "group") -> bool:
    return user in MEMBERS[group]


def outcome_text(user: str) -> bool:
    """Force one's outcome text: force one's own current representatives on the group."""
    return mace_member(user) and ORG[user] == "f1"


def episode_reader(user: str, child: str) -> bool:
    return (bool(ROLES[user] & {"police_officer", "social_worker"}) and child in child_record(user)) or is_hub_dpo(user)


def notification_reader(user: str, addressed: str) -> bool:
    """A notification of school A: the person addressed and school A's key adults."""
    return user == addressed or (ORG[user] == "school_a" and bool(ROLES[user] & {"dsl", "deputy_dsl"}))


def download_reader(user: str) -> bool:
    """Force one's download and its rows: force one's officers and administrators."""
    return (ORG[user] == "f1" and "police_officer" in ROLES[user]) or "hub_admin" in ROLES[user]


#: child -> the authorities (home, placing) that keep her Philomena profile.
AUTHORITIES = {"roll_a": {"la_h", "la_p"}, "left_a": {"la_p"}, "area": {"la_h"}}


def profile_reader(user: str, child: str) -> bool:
    """A child's Philomena profile: its keepers, social workers of her home or placing authority, and
    the hub's DPO."""
    keeper = "social_worker" in ROLES[user] and ORG[user] in AUTHORITIES.get(child, set())
    return (keeper and child in child_record(user)) or is_hub_dpo(user)


def photo_reader(user: str, child: str) -> bool:
    """The profile's photo: as the profile, and force one (the release to force two was revoked)."""
    released = ORG[user] == "f1" and bool(ROLES[user] & (PRACTITIONER | MACE)) and child == "roll_a"
    return profile_reader(user, child) or (released and child in child_record(user))


def subject_access(user: str, child: str) -> bool:
    if is_hub_dpo(user):
        return True
    return is_org_dpo(user) and child in org_holds(ORG[user])


@dataclass(frozen=True)
class Forbidden:
    """What must not appear anywhere in what a user is sent: (what it is, the text)."""

    tokens: tuple[tuple[str, str], ...]


def dob_forms(dob) -> list[str]:
    return [dob.isoformat(), dob.strftime("%d/%m/%Y"), f"{dob.day} {dob.strftime('%B %Y')}",
            f"{dob.day} {dob.strftime('%b %Y')}"]


def nhs_forms(nhs: str) -> list[str]:
    return [nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"]
