"""Every role set of the hub, and what a user may do by role alone (no object yet).

A role never opens an object by itself: objects are reached through relationships (the other
modules of this package). What a role decides is which of those relationships a user may use,
which pages and menu entries make sense for them, and who is told what. Each set is defined here
once; nothing outside `hub/permissions/` tests a role (tests/access/test_policy_in_one_place.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.models.auth import User
from hub.models.mace import MemberRole
from hub.models.roles import OrgKind, Role

#: The actions a rule distinguishes: reading an object, and any change to it.
READ, CHANGE = "read", "update"

#: A school's designated safeguarding lead and deputy: the key adults told of a pupil missing.
SCHOOL_ROLES = frozenset({Role.dsl, Role.deputy_dsl})
KEY_ADULT_ROLES = SCHOOL_ROLES
#: A local authority education team's contact for schools with no active key adult.
EDUCATION_CONTACT_ROLES = frozenset({Role.dsl})
#: Told when a school's key adults leave a notification unacknowledged.
ESCALATION_ROLES = frozenset({Role.deputy_dsl})
#: Practitioners: people who work with children and may use their organisation's relationships.
PRACTITIONER_ROLES = frozenset({Role.dsl, Role.deputy_dsl, Role.social_worker, Role.police_officer,
                                Role.health_practitioner})
#: The MACE roles say what someone does on a group; named membership is what opens it.
MACE_ROLES = frozenset({Role.mace_chair, Role.mace_member})
#: Who may share information (and break glass): practitioners and MACE people.
SHARING_ROLES = PRACTITIONER_ROLES | MACE_ROLES
#: Who may authorise sharing without consent: practitioners who hold safeguarding decisions.
AUTHORISER_ROLES = frozenset({Role.dsl, Role.social_worker, Role.police_officer, Role.mace_chair,
                              Role.health_practitioner})
#: Who records and reads missing episodes: the police and children's social care (the missing
#: team). Schools see only their notifications (data minimisation), never the episode itself.
EPISODE_ROLES = frozenset({Role.police_officer, Role.social_worker})
#: Officers of a force: its missing reports, its download and its review queue.
POLICE_ROLES = frozenset({Role.police_officer})
#: Keepers of a Philomena profile: social workers of the child's authority.
PROFILE_KEEPER_ROLES = frozenset({Role.social_worker})
#: The statutory returns: the missing team works in the hub as social workers.
RETURN_ROLES = frozenset({Role.social_worker})
#: Aggregate figures only: the partnership's analyst reaches no child by any route.
AGGREGATE_ONLY_ROLES = frozenset({Role.analyst})
#: Whose reports count an authority's children (the missing team and social workers).
AUTHORITY_REPORT_ROLES = frozenset({Role.social_worker})
DPO_ROLES = frozenset({Role.dpo})
ADMIN_ROLES = frozenset({Role.hub_admin})
#: The role an API client acts in, by the kind of organisation it belongs to (only a force's
#: system uses the API today).
API_ROLE_FOR_KIND = {OrgKind.police: Role.police_officer}
#: A group's chair and co-chairs: they run its meetings and its membership.
MACE_CHAIR_ROLES = frozenset({MemberRole.chair, MemberRole.co_chair})


def active(user: User | None) -> bool:
    return user is not None and user.is_active


def holds(user: User | None, roles: frozenset) -> bool:
    """The user is active and holds one of these roles."""
    return active(user) and bool(user.roles & roles)


def is_hub_dpo(user: User | None) -> bool:
    """The DPO of the hub's host organisation; other DPOs answer for their own organisation."""
    return holds(user, DPO_ROLES) and user.organisation.kind == OrgKind.mace_host


def is_dpo(user: User | None) -> bool:
    """Any data protection officer: the hub's, or an organisation's (for its own scope)."""
    return holds(user, DPO_ROLES)


def may_administer(user: User | None) -> bool:
    return holds(user, ADMIN_ROLES)


def aggregate_only(user: User | None) -> bool:
    """A user whose every role is aggregate-only (the analyst) reaches no child's record."""
    return user is not None and bool(user.roles) and user.roles <= AGGREGATE_ONLY_ROLES


def is_analyst(user: User | None) -> bool:
    """Holds the analyst's role (whatever else they hold): the whole area's figures."""
    return holds(user, AGGREGATE_ONLY_ROLES)


def is_designated_lead(user: User | None) -> bool:
    """A designated safeguarding lead (not a deputy)."""
    return holds(user, EDUCATION_CONTACT_ROLES)


def is_key_adult(user: User | None) -> bool:
    """A school's DSL or deputy: notifications are addressed to them."""
    return holds(user, KEY_ADULT_ROLES)


def may_record_episodes(user: User | None) -> bool:
    """Police officers and social workers record and change episodes (of children they may see)."""
    return holds(user, EPISODE_ROLES)


def may_read_episodes(user: User | None) -> bool:
    """Who may read an episode's attributes (of a child they may see): its recorders and the hub's
    DPO for subject access. Never a school: a school hears only through its notifications."""
    return may_record_episodes(user) or is_hub_dpo(user)


def may_share(user: User | None) -> bool:
    return holds(user, SHARING_ROLES)


def may_break_glass(user: User | None) -> bool:
    return holds(user, SHARING_ROLES)


def may_authorise_sharing(user: User | None) -> bool:
    """May authorise sharing without consent (and a school's reply to the police)."""
    return holds(user, AUTHORISER_ROLES)


def is_police_officer(user: User | None) -> bool:
    return holds(user, POLICE_ROLES)


def is_officer_of(user: User | None, police_org_id: int | None) -> bool:
    """A police officer of this force."""
    return is_police_officer(user) and police_org_id is not None and user.organisation_id == police_org_id


def may_import_downloads(user: User | None) -> bool:
    """The police daily download: its force's officers, and administrators (who resolve rows)."""
    return is_police_officer(user) or may_administer(user)


def may_review_audit_log(user: User | None) -> bool:
    """The audit log's pages (search, flags, subject access): data protection officers."""
    return is_dpo(user)


def may_keep_retention(user: User | None) -> bool:
    """The retention pages (schedule, review queue, legal holds): a DPO, for their own
    organisation's records (hub.permissions.retention)."""
    return is_dpo(user)


def may_check_audit_integrity(user: User | None) -> bool:
    """The integrity panel (verification, tree heads, export): DPOs and administrators, who
    see no event's content there."""
    return is_dpo(user) or may_administer(user)


def may_record_school_closure(user: User | None) -> bool:
    """A school's DSL records the days the school is closed (notification deadlines follow)."""
    return holds(user, frozenset({Role.dsl})) and user.organisation.kind == OrgKind.school


def may_export_returns(user: User | None) -> bool:
    """Children's social care staff of a local authority; never an analyst, whatever else they hold."""
    return (holds(user, RETURN_ROLES) and user.organisation.kind == OrgKind.childrens_social_care
            and Role.analyst not in user.roles)


def may_search_children(user: User | None) -> bool:
    """Whether "find a child" can ever answer with a child: anyone with a route to children
    (a practitioner, a MACE person, a DPO, an administrator); never the analyst."""
    return active(user) and not aggregate_only(user) and bool(
        user.roles & (SHARING_ROLES | DPO_ROLES | ADMIN_ROLES))


@dataclass(frozen=True)
class Capabilities:
    """What the menu, the home page and page-level guards ask of a user's roles: one object per
    request (`hub.web` gives it to templates as `may`), so no template tests a role."""

    administer: bool
    review_audit_log: bool
    check_audit_integrity: bool
    read_notifications: bool
    record_episodes: bool
    import_downloads: bool
    police_officer: bool
    search_children: bool
    share: bool
    record_school_closure: bool
    hub_dpo: bool
    export_returns: bool
    keep_retention: bool

    @classmethod
    def of(cls, user: User | None) -> Capabilities:
        return cls(administer=may_administer(user), review_audit_log=may_review_audit_log(user),
                   check_audit_integrity=may_check_audit_integrity(user), read_notifications=is_key_adult(user),
                   record_episodes=may_record_episodes(user), import_downloads=may_import_downloads(user),
                   police_officer=is_police_officer(user), search_children=may_search_children(user),
                   share=may_share(user), record_school_closure=may_record_school_closure(user),
                   hub_dpo=is_hub_dpo(user), export_returns=may_export_returns(user),
                   keep_retention=may_keep_retention(user))
