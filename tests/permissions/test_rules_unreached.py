"""Rules no test of the access rules reached, or reached without pinning (the mutation run's "no
tests" and survivors): the annual workbook's scope on the command line, the people a DPO may find
by name, which waiting rows of the data quality page link to their page, who is told of the audit
log's alarms, and a profile asked for by an id that is no child's. Each against the compact world
(tests/permissions/world.py), with the answers written out here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, true, update

from hub import db
from hub.admin import service as admin
from hub.db import utcnow
from hub.errors import NotFound
from hub.models.auth import User, UserRole
from hub.models.mace import MaceAgendaChild, MaceGroup, MaceMember
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, NotificationKind, RecipientReason
from hub.models.people import AgencyInvolvement, BreakGlassGrant, Child
from hub.models.roles import Role
from hub.models.sharing import ShareRecord
from hub.permissions import (
    audit_person_scope,
    child_access,
    child_bases,
    command_line_report_scope,
    hub_dpos,
    load_mace_object,
    load_or_refuse,
    load_profile_child,
    mace_membership,
    mace_proposable_child_ids,
    may_search_children,
    may_view_reports,
    organisation_child_ids,
    quality_may_link_download_row,
    report_linkable_groups,
    report_school_choices,
    report_scope,
    share_sent_by,
    share_visible,
    sits_on_a_mace_group,
    visible_clause,
)
from hub.permissions.children import organisations_holding, visible_child_ids
from tests.permissions.expected import EVERYONE
from tests.support.audit_log import last_event
from tests.support.statements import count_statements

FORCE_ONE_STAFF = {"off1", "dpo_f1", "member", "former", "mace_only"}


def test_the_command_line_counts_the_whole_area_as_the_analyst_does_with_no_drill_down(world):
    scope = command_line_report_scope()
    assert (scope.whole_area, scope.drill_down, scope.school_notifications) == (True, False, None)
    every_episode = set(db.session().scalars(select(MissingEpisode.id)))
    assert every_episode and set(db.session().scalars(select(MissingEpisode.id).where(scope.episodes))) == every_episode
    assert str(scope.episodes.compile()) == str(true().compile())
    assert set(db.session().scalars(scope.mace_groups)) == set(db.session().scalars(select(MaceGroup.id))) != set()


def test_a_dpo_finds_by_name_only_their_own_organisations_people_and_the_hubs_dpo_everyone(world):
    assert audit_person_scope(world.user("hub_dpo")) is None
    found = set(db.session().scalars(select(User.id).where(audit_person_scope(world.user("dpo_f1")))))
    assert {name for name, user in world.users.items() if user.id in found} == FORCE_ONE_STAFF
    school = set(db.session().scalars(select(User.id).where(audit_person_scope(world.user("dpo_a")))))
    assert world.user("dpo_a").id in school and world.user("off1").id not in school


def test_a_waiting_download_row_links_for_its_forces_officers_and_the_admin_never_the_analyst(world):
    force_one, force_two = world.orgs["f1"].id, world.orgs["f2"].id
    linked = {name for name in world.users if quality_may_link_download_row(world.user(name), force_one)}
    assert linked == {"off1", "member", "former", "admin"}
    assert quality_may_link_download_row(world.user("off2"), force_two)
    assert not quality_may_link_download_row(world.user("off2"), force_one)
    # Someone who is both the analyst and an administrator still gets no link: the analyst's
    # figures never lead to a record.
    both = admin.create_user(None, admin.UserDetails(email="analyst.admin@example.test", name="Ana Admin",
                                                     organisation_id=world.orgs["host"].id,
                                                     roles={Role.analyst, Role.hub_admin}, password=None))
    assert not quality_may_link_download_row(both, force_one)


def test_the_hubs_dpo_is_told_of_alarms_even_as_the_only_holder_of_the_role(world):
    """Every other DPO's role taken away for the test: the hub's DPO must still be found."""
    session = db.session()
    nested = session.begin_nested()
    try:
        session.execute(delete(UserRole).where(UserRole.role == Role.dpo,
                                               UserRole.user_id != world.user("hub_dpo").id))
        assert [user.id for user in hub_dpos()] == [world.user("hub_dpo").id]
    finally:
        nested.rollback()
    assert {user.id for user in hub_dpos()} == {world.user("hub_dpo").id}


@pytest.mark.parametrize("who", ["hub_dpo", "sw_h", "off1", "admin"])
def test_a_profile_asked_for_by_an_id_that_is_no_childs_is_refused(world, who):
    """An id no child has, and a child's id as text or as True: a 404 for every user, the
    profile's keepers and the hub's DPO included (the routes give an integer; nothing else is one)."""
    child_id = world.children["roll_a"].id
    for wrong in (10**9, str(child_id), True):
        with pytest.raises(NotFound):
            load_profile_child(world.user(who), wrong)
        # The refusal names no child: not the one whose id the text spells, nor child 1 for True.
        refused = last_event(world.user(who).id)
        assert (refused.outcome, refused.object_type, refused.child_id) == ("refused", "philomena-profile", None)


def _named(world, ids: set[int]) -> set[str]:
    return {name for name, child in world.children.items() if child.id in ids}


def test_a_chairs_proposals_name_the_children_the_group_holds_or_the_chair_sees_and_no_other(world):
    """The chair sees "mace" (on the agenda) and "roll_a" (a share the chair's authority sent);
    a child on another group's agenda, or taken off this one, is not offered to name; only the
    children asked about are answered; a member who does not chair is offered none."""
    chair, group = world.user("chair"), world.group.id
    every = [child.id for child in world.children.values()]
    offered = mace_proposable_child_ids(chair, group, every)
    assert _named(world, offered) == {"mace", "roll_a"} and offered <= set(every)
    assert _named(world, mace_proposable_child_ids(chair, group, [world.children["mace"].id])) == {"mace"}
    assert mace_proposable_child_ids(world.user("member"), group, every) == set()
    assert mace_proposable_child_ids(chair, group, []) == set()
    s = db.session()
    try:
        elsewhere = MaceGroup(code="OTHER-P", name="Other Group", host_organisation_id=world.orgs["host"].id)
        s.add(elsewhere)
        s.flush()
        s.add(MaceAgendaChild(group_id=elsewhere.id, child_id=world.children["intel"].id))
        s.execute(update(MaceAgendaChild).where(MaceAgendaChild.group_id == group,
                                                MaceAgendaChild.child_id == world.children["mace"].id)
                  .values(removed_at=utcnow()))
        s.flush()
        assert _named(world, mace_proposable_child_ids(chair, group, every)) == {"roll_a"}
    finally:
        s.rollback()


def test_a_refused_notification_is_audited_with_the_child_of_its_episode(world):
    """A notification addressed to someone else, asked for by the analyst: the refusal names the
    child the notification is about (who tried to reach this child), and no other child."""
    # The world's notifications are all about one child: one about another child, the newest, for
    # this test (each refusal commits its own audit event, so it is written and removed for real).
    session = db.session()
    about_another = Notification(
        episode_id=world.episodes["episode"].id, organisation_id=world.orgs["school_a"].id,
        user_id=world.user("dsl_a").id, kind=next(iter(NotificationKind)), reason=next(iter(RecipientReason)),
        group_key="another-child", deadline_at=utcnow())
    session.add(about_another)
    session.commit()
    try:
        analyst = world.user("analyst")
        for notification_id, episode_id in session.execute(
                select(Notification.id, Notification.episode_id).order_by(Notification.id)).all():
            child_id = session.get(MissingEpisode, episode_id).child_id
            with pytest.raises(NotFound):
                load_or_refuse(analyst, Notification, notification_id)
            refusal = last_event(analyst.id)
            assert (refusal.outcome, refusal.object_id, refusal.child_id) == (
                "refused", str(notification_id), child_id)
        assert child_id == world.children["episode"].id
    finally:
        session.execute(delete(Notification).where(Notification.group_key == "another-child"))
        session.commit()


def test_the_analyst_links_to_no_group_even_as_one_of_its_members(world):
    """The analyst's figures never lead to records: not even a group they sit on (a member who
    does not hold the analyst's role is linked)."""
    session = db.session()
    nested = session.begin_nested()
    try:
        analyst = world.user("analyst")
        session.add(MaceMember(group_id=world.group.id, user_id=analyst.id, organisation_id=analyst.organisation_id,
                               start_date=utcnow().date()))
        session.flush()
        assert report_linkable_groups(analyst, [world.group.id]) == set()
        assert report_linkable_groups(world.user("member"), [world.group.id]) == {world.group.id}
    finally:
        nested.rollback()


def test_an_involvement_holds_its_child_to_the_end_of_its_last_day(world):
    """An agency involvement that ends today, or later, still holds the child; one that ended
    yesterday does not: the same answer from the relationship (organisation_child_ids) and from
    the audit integrator's question turned round (organisations_holding)."""
    child, force = world.children["involved"].id, world.orgs["f2"].id  # f2's involvement closed a month ago
    session = db.session()
    for ended, holds in ((date.today() + timedelta(days=7), True), (date.today(), True),
                         (date.today() - timedelta(days=1), False)):
        nested = session.begin_nested()
        try:
            session.execute(update(AgencyInvolvement).where(AgencyInvolvement.child_id == child,
                                                            AgencyInvolvement.organisation_id == force)
                            .values(ended_on=ended))
            assert (child in set(session.scalars(organisation_child_ids(force)))) is holds, ended
            assert ((child, force) in set(session.execute(organisations_holding([child])).all())) is holds, ended
        finally:
            nested.rollback()


def test_a_deactivated_user_has_no_basis_on_any_child(world):
    """A user whose account is switched off keeps their roles, organisation and memberships, and
    reaches nothing through them: no child in a listing, no basis, no group."""
    user, member, child = world.user("dsl_a"), world.user("member"), world.children["roll_a"].id
    assert child_bases(user, [child]) == {child: "enrolment"}
    assert mace_membership(member, world.group.id) is not None
    session = db.session()
    nested = session.begin_nested()
    try:
        user.active = member.active = False
        session.flush()
        assert child_bases(user, [child]) == {}
        assert not set(session.scalars(visible_child_ids(user)))
        assert mace_membership(member, world.group.id) is None and not sits_on_a_mace_group(member)
    finally:
        nested.rollback()
        session.refresh(user)
        session.refresh(member)
    assert user.active and member.active


def test_a_child_asked_for_by_an_id_that_is_none_is_refused_to_those_who_hold_child_1(world):
    """True is 1 to the database, and "1" becomes 1: neither is a child's id, even for a user who
    holds the child whose id is 1."""
    user, child = world.user("dsl_a"), world.children["roll_a"]
    assert child_access(user, child.id)
    for wrong in (True, str(child.id)):
        assert not child_access(user, wrong)


def test_a_membership_is_of_one_group_only(world):
    """A member of one group is nobody on another."""
    session = db.session()
    nested = session.begin_nested()
    try:
        other = MaceGroup(code="OTHER-M", name="Other Group", host_organisation_id=world.orgs["host"].id)
        session.add(other)
        session.flush()
        assert mace_membership(world.user("member"), world.group.id) is not None
        assert mace_membership(world.user("member"), other.id) is None
    finally:
        nested.rollback()


@pytest.mark.parametrize("who,schools", [
    ("dsl_a", {"school_a"}), ("edu", {"edu", "school_a", "school_b"}),
    ("sw_h", None), ("off1", None), ("analyst", None), ("chair", None)])
def test_the_reports_filter_offers_a_dsl_their_schools_and_everyone_else_every_school(world, who, schools):
    """A DSL with no other reporting role chooses among their own schools (the LA education
    service: the schools of its area); the missing team, the police, the analyst and a MACE chair
    who is none of these choose among every school."""
    choices = report_school_choices(world.user(who))
    names = {name for name, org in world.orgs.items()
             if choices is not None and org.id in set(db.session().scalars(choices))}
    assert (names if choices is not None else None) == schools


@pytest.mark.parametrize("who", ["hub_dpo", "admin", "dsl_a"])
def test_a_listing_asks_once_a_request_for_each_child_whatever_the_answer(world, world_app, who):
    """child_bases keeps every answer for the rest of the request, a role's grant (the hub's DPO,
    the administrator) and a refusal (a DSL's answer for the children of other schools) included:
    the same listing again runs no statement and answers the same."""
    user = world.user(who)
    ids = [child.id for child in world.children.values()]
    first = child_bases(user, ids)
    assert count_statements(world_app, lambda: child_bases(user, ids)) == 0
    assert child_bases(user, ids) == first
    assert (len(first) < len(ids)) is (who == "dsl_a")  # the DSL is refused most of them


def test_a_refusal_names_what_was_asked_and_how(world):
    """The refusal's event says which action was refused (a read unless the caller says otherwise;
    a change as a change), and an id that is no object's id (True, which the database would read as
    1) names no child."""
    analyst, outsider = world.user("analyst"), world.user("dsl_b")
    with pytest.raises(NotFound):
        load_mace_object(outsider, MaceGroup, world.group.id)
    refused = last_event(outsider.id)
    assert (refused.outcome, refused.action, refused.object_type) == ("refused", "read", "mace-group")
    notification = db.session().scalar(select(Notification.id).order_by(Notification.id).limit(1))
    with pytest.raises(NotFound):
        load_or_refuse(analyst, Notification, notification, action="update")
    assert (last_event(analyst.id).action, last_event(analyst.id).object_id) == ("update", str(notification))
    with pytest.raises(NotFound):
        load_or_refuse(analyst, Notification, True)
    assert (last_event(analyst.id).action, last_event(analyst.id).child_id) == ("read", None)


def test_the_la_education_services_school_figures_are_its_schools_pupils(world):
    """A notification the authority's education team was sent (a school with no key adult) counts
    in its figures when the child is on the roll of a school of its area; the team's schools are
    its own, not every school's."""
    session = db.session()
    nested = session.begin_nested()
    try:
        edu = world.user("edu")
        told = Notification(episode_id=world.episodes["episode"].id, organisation_id=world.orgs["edu"].id,
                            user_id=edu.id, kind=next(iter(NotificationKind)), reason=RecipientReason.la_contact,
                            group_key="la-contact", deadline_at=utcnow())
        session.add(told)
        session.flush()
        counted = select(Notification.id).join(MissingEpisode, MissingEpisode.id == Notification.episode_id)
        # The episode's child on school A's roll (in the area), then on school C's (outside it).
        session.execute(update(MissingEpisode).where(MissingEpisode.id == world.episodes["episode"].id)
                        .values(child_id=world.children["roll_a"].id))
        assert told.id in set(session.scalars(counted.where(report_scope(edu).school_notifications)))
        session.execute(update(MissingEpisode).where(MissingEpisode.id == world.episodes["episode"].id)
                        .values(child_id=world.children["roll_c"].id))
        assert told.id not in set(session.scalars(counted.where(report_scope(edu).school_notifications)))
    finally:
        nested.rollback()


def test_each_kind_of_reports_says_how_far_it_reaches(world):
    """The analyst: the whole area and every group, never a link to a record; the missing team: its
    own reach, with links (each still checked against the record)."""
    analyst = report_scope(world.user("analyst"))
    assert (analyst.whole_area, analyst.drill_down, analyst.school_notifications) == (True, False, None)
    assert set(db.session().scalars(analyst.mace_groups)) == set(db.session().scalars(select(MaceGroup.id)))
    team = report_scope(world.user("sw_h"))
    assert (team.whole_area, team.drill_down, team.school_notifications) == (False, True, None)


@pytest.mark.parametrize("extra", [Role.social_worker, Role.police_officer, Role.analyst])
def test_a_dsl_with_another_reporting_role_reports_as_that_role(world, extra):
    """A DSL who also works for the missing team, the police or as the analyst reports as that
    role: every school offered in the filter, and the schools' notifications not narrowed to
    their own school's pupils."""
    user = world.user("dsl_a")
    session = db.session()
    nested = session.begin_nested()
    try:
        session.add(UserRole(user_id=user.id, role=extra))
        session.flush()
        session.expire(user)
        assert report_school_choices(user) is None
        assert report_scope(user).school_notifications is None
    finally:
        nested.rollback()
        session.expire(user)
    assert user.roles == {Role.dsl}


def _scope_episodes(world, who: str) -> set[str]:
    scope = report_scope(world.user(who))
    ids = set(db.session().scalars(select(MissingEpisode.id).join(Child, Child.id == MissingEpisode.child_id)
                                   .where(scope.episodes)))
    return {name for name, episode in world.episodes.items() if episode.id in ids}


def test_each_authoritys_and_forces_figures_count_the_episodes_it_is_named_on(world):
    """The home authority (responsible for Rolla, home authority of the episode) and the placing
    one (placing Rolla, receiving the episode) both count both children's episodes, whichever
    force reported them; a force counts its own reports."""
    for authority in ("sw_h", "sw_p"):
        assert _scope_episodes(world, authority) == {"episode", "roll_a", "roll_a_f2"}, authority
    assert _scope_episodes(world, "off1") == {"intel", "roll_a"}
    assert _scope_episodes(world, "off2") == {"episode", "roll_a_f2"}


@pytest.mark.parametrize("who", EVERYONE)
def test_the_menu_offers_reports_exactly_to_those_with_a_reporting_scope(world, who):
    """may_view_reports (the menu, on every page) is report_scope's answer without its queries:
    for every user, and for each of them switched off."""
    user = world.user(who)
    assert may_view_reports(user) == (report_scope(user) is not None)
    session = db.session()
    nested = session.begin_nested()
    try:
        user.active = False
        session.flush()
        assert not may_view_reports(user) and report_scope(user) is None
    finally:
        nested.rollback()
        session.refresh(user)


def test_emergency_access_ends_when_its_time_runs_out(world):
    """A break-glass grant is a basis until it expires, then nothing."""
    user, child = world.user("glass"), world.children["glass"].id
    assert child_access(user, child).basis == "break-glass"
    session = db.session()
    nested = session.begin_nested()
    try:
        session.execute(update(BreakGlassGrant).where(BreakGlassGrant.user_id == user.id)
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
        session.flush()
        assert not child_access(user, child)
    finally:
        nested.rollback()


@pytest.mark.parametrize("who", EVERYONE)
def test_the_lists_of_shares_use_the_read_rule_to_read_and_the_senders_rule_to_act(world, who):
    user = world.user(who)

    def ids(clause) -> set[int]:
        return set(db.session().scalars(select(ShareRecord.id).where(clause)))

    assert ids(visible_clause(user, ShareRecord)) == ids(share_visible(user))
    assert ids(visible_clause(user, ShareRecord, "update")) == ids(share_sent_by(user))


def test_whether_someone_sits_on_a_group_is_remembered_for_them_alone(world):
    """The answer kept for the request is the asker's: a member first, then someone on no group."""
    assert sits_on_a_mace_group(world.user("member"))
    assert not sits_on_a_mace_group(world.user("dsl_a"))
    assert sits_on_a_mace_group(world.user("chair"))


def test_a_user_left_with_no_role_finds_no_child(world):
    """An account whose every role was taken away keeps its organisation, and nothing else."""
    user = world.user("dsl_a")
    assert may_search_children(user)
    session = db.session()
    nested = session.begin_nested()
    try:
        session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        session.flush()
        session.expire(user)
        assert user.roles == set() and not may_search_children(user)
    finally:
        nested.rollback()
        session.expire(user)
    assert user.roles == {Role.dsl}
