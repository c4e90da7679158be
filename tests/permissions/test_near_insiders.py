"""Near-insiders the mutation run of hub/permissions/ found let through (`make proof-permissions`):
each test names the user one widened condition would let in, in the compact world
(tests/permissions/world.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from hub import db
from hub.db import utcnow
from hub.errors import NotFound
from hub.models.mace import MaceAgendaChild, MaceGroup
from hub.models.missing import ImportReviewItem, MissingEpisode
from hub.models.sharing import ShareRecord
from hub.permissions import (
    CHANGE,
    READ,
    chaired_group_ids,
    child_access,
    child_bases,
    episode_visible,
    hub_dpos,
    is_analyst,
    load_child_or_refuse,
    load_mace_object,
    load_profile_child,
    load_share_draft,
    looked_after_return_child_ids,
    mace_group_holds_child,
    mace_intelligence_access,
    may_read_emergency_reasons,
    may_review_child_audit,
    may_search_children,
    philomena_released_to,
    profile_photo_basis,
    quality_waiting_rows_scope,
    report_linkable_children,
    report_linkable_groups,
    report_pattern_group_ids,
    return_child_ids,
    share_sent_by,
    sits_on_a_mace_group,
)
from tests.permissions.expected import CAPABILITIES, CHILD_ACCESS, CHILDREN, EPISODES, EVERYONE, SHARES, SUBJECT_ACCESS
from tests.permissions.world import deactivated
from tests.support.audit_log import last_event


@pytest.mark.parametrize("who", EVERYONE)
def test_a_release_opens_the_photo_of_the_child_released_and_no_other(world, who):
    """Force 1 holds a release of one child's profile and reports about another (the intelligence
    child): the release must not open the other child's photo."""
    user = world.user(who)
    for name in CHILDREN:
        if name != "roll_a":
            assert not philomena_released_to(user, world.children[name].id), (who, name)
    with pytest.raises(NotFound):
        profile_photo_basis(world.user("off1"), world.children["intel"].id)


def test_a_refused_photo_names_the_child_asked_for_and_no_child_when_there_is_none(world):
    off2, child = world.user("off2"), world.children["intel"].id
    with pytest.raises(NotFound):
        profile_photo_basis(off2, child)
    event = last_event(off2.id)
    assert (event.object_type, event.object_id, event.child_id) == ("philomena-photo", str(child), child)
    for missing in (10**6, "1", None):
        with pytest.raises(NotFound):
            profile_photo_basis(world.user("sw_h"), missing)
        event = last_event(world.users["sw_h"].id)
        assert (event.object_type, event.child_id) == ("philomena-photo", None), missing


@pytest.mark.parametrize("child_id", [True, "1", 1.0])
def test_a_child_is_asked_for_by_its_integer_id_alone(world, child_id):
    """`True == 1` and SQLite compares "1" with 1: neither may stand for the first child."""
    user = world.user("admin")  # the administrator opens every child by id
    with pytest.raises(NotFound):
        load_child_or_refuse(user, child_id)
    event = last_event(user.id)
    assert (event.outcome, event.object_type, event.child_id) == ("refused", "child", None)


def test_a_child_asked_for_by_id_is_the_child_and_its_refusal_names_it(world):
    child = world.children["roll_a"]
    assert load_child_or_refuse(world.user("sw_h"), child.id).id == child.id
    with pytest.raises(NotFound):
        load_child_or_refuse(world.user("dsl_b"), child.id, action="update")
    event = last_event(world.users["dsl_b"].id)
    assert (event.object_type, event.object_id, event.child_id, event.action) == (
        "child", str(child.id), child.id, "update")


@pytest.mark.parametrize("who", EVERYONE)
def test_only_the_chair_chairs(world, who):
    chaired = set(db.session().scalars(
        select(MaceGroup.id).where(MaceGroup.id.in_(chaired_group_ids(world.user(who))))))
    assert chaired == ({world.group.id} if who == "chair" else set()), who


def test_the_audit_alarms_go_to_the_hubs_active_dpos_alone(world):
    assert [u.id for u in hub_dpos()] == [world.users["hub_dpo"].id]
    with deactivated(world, "hub_dpo"):
        db.session().flush()
        assert hub_dpos() == []


@pytest.mark.parametrize("who", EVERYONE)
def test_emergency_reasons_are_read_by_the_hub_dpo_and_the_staffs_own_dpo(world, who):
    user = world.user(who)
    for of in ("glass", "off1", "sw_h"):
        own = {"off1": "dpo_f1", "sw_h": "dpo_h"}.get(of)
        assert may_read_emergency_reasons(user, world.user(of)) == (who in {"hub_dpo", own}), (who, of)


@pytest.mark.parametrize("who", EVERYONE)
@pytest.mark.parametrize("first", ["listing", "details"])
def test_a_listing_and_the_details_in_one_request_agree_with_the_table(world, who, first):
    """Within one request the answers are remembered (hub.permissions.cache): what a listing
    remembered must be what the detail page then reads, and the other way round."""
    user, names = world.user(who), {c.id: name for name, c in world.children.items()}

    def listing() -> dict[str, str]:
        return {names[i]: basis for i, basis in child_bases(user, list(names)).items()}

    def details() -> dict[str, str]:
        return {name: access.basis for i, name in names.items() if (access := child_access(user, i))}

    first_answer, then = (listing, details) if first == "listing" else (details, listing)
    assert first_answer() == CHILD_ACCESS[who], who
    assert then() == CHILD_ACCESS[who] and first_answer() == CHILD_ACCESS[who], who  # remembered answers


@pytest.mark.parametrize("who", EVERYONE)
@pytest.mark.parametrize("action", [READ, CHANGE])
def test_the_episode_lists_clause_is_the_episode_table(world, who, action):
    names = {e.id: name for name, e in world.episodes.items()}
    listed = {names[i] for i in db.session().scalars(select(MissingEpisode.id).where(
        episode_visible(world.user(who), action))) if i in names}
    assert listed == {n for n, readers in EPISODES.items() if who in readers and (action == READ or who != "hub_dpo")}


@pytest.mark.parametrize("who", EVERYONE)
def test_a_share_is_acted_on_for_its_sender_by_the_senders_own_staff_who_see_it(world, who):
    names = {s.id: name for name, s in world.shares.items()}
    acting = {names[i] for i in db.session().scalars(select(ShareRecord.id).where(share_sent_by(world.user(who))))
              if i in names}
    senders = {"sent": {"nurse", "nurse2", "glass"}, "decided": {"nurse", "nurse2", "glass"},
               "intel": {"member", "mace_only"}}  # force 1's members who see the intelligence
    assert acting == {n for n, people in senders.items() if who in people and who in SHARES[n]}, who
    assert not list(db.session().scalars(select(ShareRecord.id).where(share_sent_by(None))))


@pytest.mark.parametrize("who", EVERYONE)
def test_intelligence_is_opened_as_a_member_of_the_group(world, who):
    access = mace_intelligence_access(world.user(who), world.group.id, None)
    assert (access.basis if access else None) == ("mace-member" if who in {"chair", "member", "mace_only"} else None)


def test_a_deactivated_author_opens_not_even_their_own_draft(world):
    sent = world.children["sent"].id
    assert load_share_draft(world.user("nurse"), world.draft_id, sent).id == world.draft_id
    with deactivated(world, "nurse") as nurse, pytest.raises(NotFound):
        load_share_draft(nurse, world.draft_id, sent)


def test_a_group_holds_only_the_children_on_its_own_agenda_and_not_once_removed(world):
    """Another group's agenda, or a child taken off this one, gives this group's members nothing."""
    s = db.session()
    held, other = world.children["mace"].id, world.children["intel"].id
    assert mace_group_holds_child(world.group.id, held) and not mace_group_holds_child(world.group.id, other)
    assert not mace_group_holds_child(world.group.id, None)
    try:
        elsewhere = MaceGroup(code="OTHER-G", name="Other Group", host_organisation_id=world.orgs["host"].id)
        s.add(elsewhere)
        s.flush()
        s.add(MaceAgendaChild(group_id=elsewhere.id, child_id=other))
        s.execute(update(MaceAgendaChild).where(MaceAgendaChild.group_id == world.group.id,
                                                MaceAgendaChild.child_id == held).values(removed_at=utcnow()))
        s.flush()
        assert mace_group_holds_child(elsewhere.id, other)
        assert not mace_group_holds_child(world.group.id, other)  # another group's hold
        assert not mace_group_holds_child(world.group.id, held)  # removed from the agenda
    finally:
        s.rollback()


@pytest.mark.parametrize("who", EVERYONE)
def test_who_may_search_for_children_and_who_is_the_analyst(world, who):
    user = world.user(who)
    assert may_search_children(user) == (who in CAPABILITIES["search_children"]), who
    assert is_analyst(user) == (who == "analyst"), who


@pytest.mark.parametrize("who", EVERYONE)
def test_sitting_on_a_group_is_asked_of_the_database_once_a_request_and_answered_the_same(world, who):
    engine = db.session().get_bind()
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    user, expected = world.user(who), who in {"chair", "member", "mace_only"}
    assert sits_on_a_mace_group(user) == expected, who
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert sits_on_a_mace_group(user) == expected, who  # the request's remembered answer
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == [], who


def _names(world, clause_select) -> set[str]:
    ids = set(db.session().scalars(clause_select))
    return {name for name, child in world.children.items() if child.id in ids}


def test_an_authoritys_returns_cover_its_own_children_and_no_other_authoritys(world):
    """The SSD's people are the authority's (home or placing); the 903's those it looks after."""
    assert _names(world, return_child_ids(world.user("sw_h"))) == {"roll_a"}
    assert _names(world, return_child_ids(world.user("sw_p"))) == {"roll_a", "left_a"}
    assert _names(world, looked_after_return_child_ids(world.user("sw_p"))) == {"roll_a"}  # placing authority
    assert _names(world, looked_after_return_child_ids(world.user("sw_h"))) == set()  # placed by another
    assert _names(world, return_child_ids(world.user("dsl_a"))) == set()  # a school is no authority


@pytest.mark.parametrize("who", EVERYONE)
def test_a_figure_links_only_to_records_the_viewer_may_open_and_the_analyst_to_none(world, who):
    names = {c.id: name for name, c in world.children.items()}
    linkable = {names[i] for i in report_linkable_children(world.user(who), list(names))}
    assert linkable == (set() if who == "analyst" else set(CHILD_ACCESS[who])), who
    assert report_linkable_children(world.user(who), []) == set()


@pytest.mark.parametrize("who", EVERYONE)
def test_who_has_seen_this_record_is_the_hub_dpos_and_the_holding_organisations_dpos(world, who):
    for name, child in world.children.items():
        reviews = name in SUBJECT_ACCESS.get(who, set())
        assert may_review_child_audit(world.user(who), child.id) == reviews, (who, name)


def test_a_profile_is_asked_for_by_its_childs_integer_id_alone(world):
    with pytest.raises(NotFound):
        load_profile_child(world.user("sw_h"), str(world.children["roll_a"].id))


MEMBERS = {"chair", "member", "mace_only"}


@pytest.mark.parametrize("who", EVERYONE)
def test_a_patterns_page_counts_the_groups_of_its_members_and_all_for_the_analyst(world, who):
    user = world.user(who)
    counted = set(db.session().scalars(report_pattern_group_ids(user))) & {world.group.id}
    assert counted == ({world.group.id} if who in MEMBERS | {"analyst"} else set()), who
    linkable = report_linkable_groups(user, [world.group.id])
    assert linkable == ({world.group.id} if who in MEMBERS else set()), who  # the analyst counts, never opens
    assert report_linkable_groups(user, []) == set()


@pytest.mark.parametrize("who", EVERYONE)
def test_the_quality_page_counts_a_forces_waiting_rows_for_its_officers_and_all_for_the_admin_and_analyst(
        world, who):
    user, item = world.user(who), world.review_item
    scope = quality_waiting_rows_scope(user)
    counted = set() if scope is None else set(db.session().scalars(select(ImportReviewItem.id).where(scope)))
    everyone = {"admin", "analyst"}
    force_1 = {"off1", "member", "former"}
    assert (item.id in counted) == (who in everyone | force_1), who
    if who == "off2":  # another force's officer: a scope, not the first force's row
        assert scope is not None and item.id not in counted


@pytest.mark.parametrize("who", ["former", "dsl_a", "admin", "analyst"])
@pytest.mark.parametrize("kind", ["meeting", "item", "location", "action"])
def test_a_refused_mace_object_is_audited_naming_its_kind_id_child_and_action(world, who, kind):
    """The refusal names what was asked for and, for an agenda item about a child, the child: a
    DPO's "who has seen this child" must find the attempt."""
    obj = world.mace[kind]
    with pytest.raises(NotFound):
        load_mace_object(world.user(who), type(obj), obj.id, action="update")
    event = last_event(world.users[who].id)
    assert (event.outcome, event.object_type, event.object_id, event.child_id, event.action) == (
        "refused", MACE_TYPES[kind], str(obj.id), getattr(obj, "child_id", None), "update"), (who, kind)
    assert load_mace_object(world.user("member"), type(obj), obj.id)[0].id == obj.id


MACE_TYPES = {"meeting": "mace-meeting", "item": "mace-agenda-item", "location": "mace-location",
              "action": "mace-action"}


def test_a_share_that_is_not_intelligence_is_no_mace_object(world):
    with pytest.raises(NotFound):
        load_mace_object(world.user("member"), ShareRecord, world.shares["sent"].id)
    intel = world.shares["intel"].id
    assert load_mace_object(world.user("member"), ShareRecord, intel)[0].id == intel
    with pytest.raises(NotFound):
        load_mace_object(world.user("member"), MaceGroup, str(world.group.id))  # an id is an integer
