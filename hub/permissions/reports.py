"""Reports and returns: whose figures a user counts, and which records a figure may link to.

Figures are counts, never a child, but a count still tells about children the viewer may not
know of, so each viewer's figures count only their own part of the picture (the table below).
The statutory returns name each child by the authority's own identifier, so only the authority's
children's social care staff export them, and only for the authority's own children.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, or_, select, true

from hub import db
from hub.models.auth import Organisation, User
from hub.models.mace import MaceGroup, MaceMember
from hub.models.missing import ImportReviewItem, MissingEpisode
from hub.models.people import Child, Enrolment, LookedAfterPeriod
from hub.permissions.children import child_bases
from hub.permissions.episodes import may_resolve_download_row
from hub.permissions.loading import episode_visible
from hub.permissions.membership import chaired_group_ids, member_group_ids, sits_on_a_mace_group
from hub.permissions.notifications import notification_visible
from hub.permissions.roles import (
    AGGREGATE_ONLY_ROLES,
    AUTHORITY_REPORT_ROLES,
    POLICE_ROLES,
    SCHOOL_ROLES,
    active,
    aggregate_only,
    holds,
    is_analyst,
    is_police_officer,
    may_administer,
)

# --- Reports: whose figures a user's dashboard counts (hub.reports) ---------------------------
# Figures are counts, never a child, but a count still tells about children the viewer may not
# know of, so each viewer's figures count only their own part of the picture:
#
# | who                        | episode figures                                       | MACE figures          |
# |----------------------------|-------------------------------------------------------|-----------------------|
# | analyst                    | every episode in the area                             | every group           |
# | social worker, missing team| their authority's children (home or placing), and     | -                     |
# |                            | episodes naming it as the home or receiving authority |                       |
# | police officer             | their force's episodes                                | -                     |
# | DSL or deputy              | none: only their school's own notifications (sent,    | -                     |
# |                            | acknowledged, on time, escalated) and replies, about  |                       |
# |                            | children on the roll now; never an episode's details  |                       |
# | MACE chair or co-chair     | -                                                     | the groups they chair |
#
# Anyone else (a DPO, an administrator, a health practitioner, a MACE member) has no reports:
# the pages answer 404. Links from a figure to the records behind it are offered only where the
# record's own check (child_access, MACE membership) lets the viewer in, and never to an analyst.
#
# Small numbers: a viewer counts episodes they may not open themselves (the analyst every one;
# a social worker those found in their area of another authority's child). Narrowed to a day, or
# to a filter few episodes pass, a figure would describe one episode to someone who may not open
# it, so `report_figures_withheld` decides when the episode figures are not shown at all.

@dataclass(frozen=True)
class ReportScope:
    """What a user's figures count. `episodes` is a clause over MissingEpisode joined to Child
    (None: no episode figures); `school_notifications` a clause over Notification (joined to
    MissingEpisode) for a school, whose reports are its own notifications and nothing of the
    episodes (None: not a school's reports); `mace_groups` a SELECT of group ids (None: no MACE
    figures); `whole_area` for the analyst; `drill_down` whether links to records may be
    offered at all (each link is still checked against the record)."""

    episodes: ColumnElement[bool] | None
    school_notifications: ColumnElement[bool] | None
    mace_groups: Select | None
    whole_area: bool
    drill_down: bool


def _school_ids(user: User) -> Select:
    """A DSL's schools: their own, or (local authority education) every school of the LA."""
    org = user.organisation_id
    return select(Organisation.id).where(or_(Organisation.id == org, Organisation.local_authority_id == org))


def _report_episode_clauses(user: User) -> list[ColumnElement[bool]]:
    org, roles = user.organisation_id, user.roles
    clauses: list[ColumnElement[bool]] = []
    if roles & AUTHORITY_REPORT_ROLES:
        clauses.append(or_(Child.responsible_authority_id == org, Child.placing_authority_id == org,
                           MissingEpisode.home_authority_id == org, MissingEpisode.receiving_authority_id == org))
    if roles & POLICE_ROLES:
        clauses.append(MissingEpisode.police_org_id == org)
    return clauses


def _school_report_notifications(user: User) -> ColumnElement[bool] | None:
    """A school's reports: the notifications its key adults may open (the inbox's own clause),
    about children on the roll of the viewer's schools now (a former pupil leaves the figures
    with the school). Counts of its own messages, never an attribute of the episode."""
    if not holds(user, SCHOOL_ROLES):
        return None
    pupils = select(Enrolment.child_id).where(Enrolment.school_id.in_(_school_ids(user)), Enrolment.end_date.is_(None))
    return notification_visible(user) & MissingEpisode.child_id.in_(pupils)


def report_chaired_group_ids(user: User) -> Select:
    """The groups the user chairs or co-chairs today."""
    return chaired_group_ids(user)


def report_scope(user: User | None) -> ReportScope | None:
    """The user's reporting scope, or None when they have no reports (the pages answer 404)."""
    if not active(user):
        return None
    if is_analyst(user):
        return ReportScope(episodes=true(), school_notifications=None, mace_groups=select(MaceGroup.id),
                           whole_area=True, drill_down=not aggregate_only(user))
    clauses = _report_episode_clauses(user)
    # Someone who also counts episodes (a DSL who is a social worker) counts every school's
    # notifications about them, as the missing team does; a school alone only its own.
    school = _school_report_notifications(user) if not clauses else None
    chairs = bool(db.session().scalar(select(exists(report_chaired_group_ids(user)))))
    if not clauses and school is None and not chairs:
        return None
    return ReportScope(
        episodes=or_(*clauses) if clauses else None,
        school_notifications=school,
        mace_groups=report_chaired_group_ids(user) if chairs else None,
        whole_area=False, drill_down=True)


def may_view_reports(user: User | None) -> bool:
    """Whether the menu offers Reports: report_scope's answer without its queries where the roles
    already decide (this runs on every page), and the chair's query only for a group member."""
    if not active(user):
        return False
    if is_analyst(user) or _report_episode_clauses(user) or holds(user, SCHOOL_ROLES):
        return True
    return sits_on_a_mace_group(user) and bool(db.session().scalar(select(exists(report_chaired_group_ids(user)))))


def report_pattern_group_ids(user: User) -> Select:
    """The MACE groups whose places and people of concern a patterns page counts: every group for
    the analyst (counts only, no names), otherwise the groups the user is a current member of."""
    if is_analyst(user):
        return select(MaceGroup.id)
    return member_group_ids(user)


def report_linkable_children(user: User, child_ids: list[int]) -> set[int]:
    """Of these children, those whose record a figure may link to for this user (one query;
    none for an analyst)."""
    if aggregate_only(user) or not child_ids:
        return set()
    return set(child_bases(user, child_ids))


def report_linkable_groups(user: User, group_ids: list[int]) -> set[int]:
    """Of these MACE groups, those whose places and people the user may open (current members)."""
    if aggregate_only(user) or not group_ids:
        return set()
    return set(db.session().scalars(member_group_ids(user).where(MaceMember.group_id.in_(group_ids))))


# --- Returns: the statutory returns an authority makes about its own children ----------------
# The SSD `ssd_missing` table and the SSDA903 missing file name each child by the authority's own
# identifier, so only the authority's children's social care staff export them, and only for
# the authority's own children. An analyst (aggregate figures, never a child), a school, the
# police and DPOs are refused. The data-quality page's links (hub.reports.quality) are checked
# here too: a link to a record is shown only to someone who may change it.

# (may_export_returns, a question of roles alone, is in hub.permissions.roles.)


def return_child_ids(user: User) -> Select:
    """The authority's own children (home or placing authority): the SSD's people."""
    org = user.organisation_id
    return select(Child.id).where(or_(Child.responsible_authority_id == org, Child.placing_authority_id == org))


def looked_after_return_child_ids(user: User) -> Select:
    """The children the authority looks after or has looked after (placing authority, else home
    authority): the 903's. A child who has since left care keeps their in-year episodes (the
    return takes the status during each episode from their looked-after periods)."""
    org = user.organisation_id
    looks_after = (Child.placing_authority_id == org) | (
        Child.placing_authority_id.is_(None) & (Child.responsible_authority_id == org))
    ever = Child.looked_after.is_(True) | Child.id.in_(select(LookedAfterPeriod.child_id))
    return select(Child.id).where(ever, looks_after)


def command_line_report_scope() -> ReportScope:
    """`flask --app hub reports annual` (an operator on the server, audited with the cli
    channel) builds the whole area's picture as the analyst sees it: counts, no drill-down."""
    return ReportScope(episodes=true(), school_notifications=None, mace_groups=select(MaceGroup.id),
                       whole_area=True, drill_down=False)



def report_school_choices(user: User) -> Select | None:
    """The schools a reports filter offers: a DSL with no other reporting role their own schools
    (their school, or their LA's); None: every school."""
    if holds(user, SCHOOL_ROLES) and not user.roles & (AGGREGATE_ONLY_ROLES | AUTHORITY_REPORT_ROLES | POLICE_ROLES):
        return _school_ids(user)
    return None


def report_openable_episode_ids(user: User) -> Select:
    """The episodes whose page the viewer may open: the episode list's own clause (none for the
    analyst), so that a figure knows how many of its episodes the viewer could not open."""
    return select(MissingEpisode.id).where(episode_visible(user))


def report_figures_withheld(user: User, *, counted: int, unopenable: int, unopenable_in_period: int,
                            threshold: int) -> bool:
    """Whether a page's episode figures are withheld from this viewer: a period or filter that
    narrows to fewer than `threshold` episodes the viewer may not open would describe those
    episodes (a risk grade, where from, looked after) to someone who may not read them.

    - The analyst opens no episode: figures of fewer than `threshold` episodes are withheld, and
      an empty selection too (so "none" and "a few" read the same: no 0 to compare with).
    - Anyone else: withheld when the episodes they may not open in the period are fewer than
      `threshold` after the filters, and the period (before the other filters) has any: whether
      a filter leaves one of them or none must not show, or the filter would tell its answer."""
    if aggregate_only(user):
        return counted < threshold
    return unopenable_in_period > 0 and unopenable < threshold


def quality_waiting_rows_scope(user: User):
    """Which waiting download rows the data-quality page counts: every force's for an
    administrator or the analyst (a count), an officer's own force's; None: none."""
    if may_administer(user) or is_analyst(user):
        return true()
    if is_police_officer(user):
        return ImportReviewItem.police_org_id == user.organisation_id
    return None


def quality_may_link_download_row(user: User, police_org_id: int) -> bool:
    """A waiting row links to its page for someone who may resolve it, never the analyst."""
    return may_resolve_download_row(user, police_org_id) and not is_analyst(user)
