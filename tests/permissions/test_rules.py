"""Every rule of hub.permissions against a table written out by hand for one compact world
(tests/permissions/world.py): for each user and each object, what the policy says they may see,
and through which relationship. Details (child_access, load_or_refuse) and lists (visible_child_ids,
child_bases, visible_clause, share_visible, share_register_row) must both equal the table, so a
list can never show what a detail refuses, and nothing is widened for a near-insider: a colleague
never named, a former member, a revoked recipient, an ended enrolment or involvement, another
force, another school, an organisation's DPO, the administrator and the analyst each have a row.

These are also the tests the mutation run of hub/permissions/ uses (`make proof-permissions`):
fast, one world per module, every answer checked exactly.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub import db
from hub.errors import NotFound
from hub.missing.profiles import service as profiles
from hub.models.audit import AuditEvent
from hub.models.mace import MaceGroup
from hub.models.missing import ImportBatch, ImportReviewItem, MissingEpisode
from hub.models.notifications import Notification
from hub.models.people import Child, ChildHolder
from hub.models.sharing import ShareRecord
from hub.people import holders
from hub.people.holders import record_holders
from hub.permissions import (
    CHANGE,
    READ,
    child_access,
    child_bases,
    load_mace_object,
    load_or_refuse,
    mace_object_visible,
    share_register_row,
    share_visible,
    visible_child_ids,
    visible_clause,
)
from tests.permissions.expected import (
    CHILD_ACCESS,
    CHILDREN,
    DOWNLOADS,
    EPISODES,
    EVERYONE,
    GROUP,
    NOTIFICATIONS,
    PHOTO,
    REGISTER_FACTS,
    SHARES,
)
from tests.support.holders import assert_every_held_child_is_noted, per_record_children


def _refusals() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "refused"))


@pytest.mark.parametrize("who", EVERYONE)
def test_each_child_is_reached_exactly_through_the_relationships_the_table_names(world, who):
    user = world.user(who)
    expected = CHILD_ACCESS[who]
    for name in CHILDREN:
        access = child_access(user, world.children[name].id)
        assert (access.basis if access else None) == expected.get(name), f"{who} -> {name}"


@pytest.mark.parametrize("who", EVERYONE)
def test_every_list_of_children_is_the_detail_rule_applied_to_all_of_them(world, who):
    user = world.user(who)
    ids = {c.id: name for name, c in world.children.items()}
    listed = {ids[i] for i in db.session().scalars(visible_child_ids(user)) if i in ids}
    assert listed == set(CHILD_ACCESS[who]), who
    bases = {ids[i]: basis for i, basis in child_bases(user, list(ids)).items()}
    assert bases == CHILD_ACCESS[who], who


def test_every_child_held_through_a_share_or_an_episode_is_noted_as_held(world):
    """The world's shares (sent, received, revoked, decisions, MACE intelligence) and episodes
    (each force, home and receiving authority), all written through the services: every
    organisation they give a child is in `child_holder`, the bound the lists above read."""
    assert_every_held_child_is_noted()
    assert sum(len(per_record_children(org.id)) for org in world.orgs.values()) >= 3  # not vacuous


@pytest.mark.parametrize("who", EVERYONE)
def test_being_noted_as_holding_a_child_gives_nobody_the_child(world, who):
    """`child_holder` only bounds the search: a row for every child and the user's organisation
    (a record since revoked or destroyed, a stale note) lists no child the rules refuse."""
    user = world.user(who)
    ids = {c.id: name for name, c in world.children.items()}
    if user.organisation_id is not None:
        record_holders(db.session(), [(child, user.organisation_id) for child in ids])
    listed = {ids[i] for i in db.session().scalars(visible_child_ids(user)) if i in ids}
    assert listed == set(CHILD_ACCESS[who]), who
    db.session().rollback()


def test_a_child_that_does_not_exist_is_refused_even_by_a_role_grant(world):
    assert not child_access(world.user("hub_dpo"), 10**6) and not child_access(world.user("admin"), 10**6)
    assert child_bases(world.user("admin"), [10**6]) == {}


@pytest.mark.parametrize("who", EVERYONE)
def test_shares_are_seen_whole_exactly_by_the_table_and_the_register_adds_only_facts(world, who):
    user = world.user(who)
    ids = {s.id: name for name, s in world.shares.items()}
    whole = {ids[i] for i in db.session().scalars(select(ShareRecord.id).where(share_visible(user))) if i in ids}
    assert whole == {name for name, seen in SHARES.items() if who in seen}, who
    rows = {ids[i] for i in db.session().scalars(select(ShareRecord.id).where(share_register_row(user))) if i in ids}
    facts = {name for name, seen in REGISTER_FACTS.items() if who in seen}
    assert rows == whole | facts, who


@pytest.mark.parametrize("who", EVERYONE)
def test_a_share_page_opens_exactly_what_the_register_shows_whole(world, who):
    user = world.user(who)
    for name, share in world.shares.items():
        before = _refusals()
        try:
            load_or_refuse(user, ShareRecord, share.id)
            opened = True
        except NotFound:
            opened = False
            assert _refusals() == before + 1
        assert opened == (who in SHARES[name]), f"{who} -> share {name}"


@pytest.mark.parametrize("who", EVERYONE)
def test_only_the_senders_who_see_a_share_may_act_on_it(world, who):
    user = world.user(who)
    senders = {"sent": {"nurse", "nurse2", "glass"}, "decided": {"nurse", "nurse2", "glass"},
               "intel": {"member", "mace_only"}}
    for name, share in world.shares.items():
        clause = visible_clause(user, ShareRecord, CHANGE)
        may = db.session().scalar(select(ShareRecord.id).where(ShareRecord.id == share.id, clause)) is not None
        assert may == (who in senders[name]), f"{who} -> change share {name}"


@pytest.mark.parametrize("who", EVERYONE)
@pytest.mark.parametrize("action", [READ, CHANGE])
def test_episodes_are_read_and_changed_exactly_by_the_table(world, who, action):
    user = world.user(who)
    ids = {e.id: name for name, e in world.episodes.items()}
    expected = {name for name, readers in EPISODES.items() if who in readers and (action == READ or who != "hub_dpo")}
    listed = {ids[i] for i in db.session().scalars(
        select(MissingEpisode.id).where(visible_clause(user, MissingEpisode, action))) if i in ids}
    assert listed == expected, f"{who} {action}"
    for name, episode in world.episodes.items():
        try:
            load_or_refuse(user, MissingEpisode, episode.id, action=action)
            opened = True
        except NotFound:
            opened = False
        assert opened == (name in expected), f"{who} {action} -> episode {name}"


@pytest.mark.parametrize("who", EVERYONE)
def test_notifications_are_opened_by_the_person_and_their_schools_key_adults(world, who):
    user = world.user(who)
    ids = {n.id: name for name, n in world.notifications.items()}
    listed = {ids[i] for i in db.session().scalars(select(Notification.id).where(visible_clause(user, Notification)))
              if i in ids}
    assert listed == {name for name, readers in NOTIFICATIONS.items() if who in readers}, who
    for name, n in world.notifications.items():
        try:
            load_or_refuse(user, Notification, n.id)
            opened = True
        except NotFound:
            opened = False
        assert opened == (who in NOTIFICATIONS[name]), f"{who} -> notification {name}"


@pytest.mark.parametrize("who", EVERYONE)
def test_a_forces_download_is_its_officers_and_the_administrators(world, who):
    user = world.user(who)
    for model, obj in ((ImportBatch, world.batch), (ImportReviewItem, world.review_item)):
        listed = db.session().scalar(select(model.id).where(model.id == obj.id, visible_clause(user, model)))
        assert (listed is not None) == (who in DOWNLOADS), f"{who} -> {model.__name__}"
        try:
            load_or_refuse(user, model, obj.id)
            opened = True
        except NotFound:
            opened = False
        assert opened == (who in DOWNLOADS), f"{who} -> {model.__name__}"


@pytest.mark.parametrize("who", EVERYONE)
def test_a_groups_content_is_its_current_named_members_alone(world, who):
    user = world.user(who)
    listed = set(db.session().scalars(select(MaceGroup.id).where(mace_object_visible(user, MaceGroup))))
    assert (world.group.id in listed) == (who in GROUP), who
    try:
        load_mace_object(user, MaceGroup, world.group.id)
        opened = True
    except NotFound:
        opened = False
    assert opened == (who in GROUP), who
    try:
        load_mace_object(user, MaceGroup, world.group.id, manage_membership=True)
        manages = True
    except NotFound:
        manages = False
    assert manages == (who in {"chair", "admin"}), who


@pytest.mark.parametrize("who", EVERYONE)
def test_the_profile_photo_is_its_keepers_the_hub_dpo_and_the_force_it_was_released_to(world, who):
    user = world.user(who)
    try:
        photo = profiles.get_profile_photo(user, world.children["roll_a"].id)
        seen = photo is not None
    except NotFound:
        seen = False
    assert seen == (who in PHOTO), who


def test_a_refusal_names_the_child_of_the_object_refused(world):
    user = world.user("dsl_b")
    episode = world.episodes["roll_a"]
    with pytest.raises(NotFound):
        load_or_refuse(user, MissingEpisode, episode.id)
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.actor_user_id == user.id)
                                .order_by(AuditEvent.id.desc()).limit(1))
    assert (event.outcome, event.object_type, event.object_id, event.child_id) == (
        "refused", "missing-episode", str(episode.id), episode.child_id)


def test_every_child_of_the_world_is_in_the_table(world):
    assert set(world.children) == set(CHILDREN) and set(world.users) == set(EVERYONE)
    assert db.session().scalar(select(func.count()).select_from(Child)) == len(CHILDREN)


def test_noting_more_holders_than_one_statement_may_carry_notes_them_all(world, monkeypatch):
    """PostgreSQL takes at most 65,535 parameters a statement, so a bulk load's pairs go in chunks
    (here of 7): every pair of every chunk is noted."""
    monkeypatch.setattr(holders, "_CHUNK", 7)
    pairs = {(c.id, o.id) for c in world.children.values() for o in world.orgs.values()}
    assert len(pairs) > 3 * 7
    holders.record_holders(db.session(), pairs)
    noted = set(db.session().execute(select(ChildHolder.child_id, ChildHolder.organisation_id)).tuples())
    assert pairs <= noted
    db.session().rollback()
