"""What roles alone decide (menus, page guards, who is told), the MACE, Philomena, download, API,
notification and DPO rules, each against a table written out by hand for the compact world."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import NotFound
from hub.models.audit import AuditEvent, AuditEventChild
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceGroup
from hub.models.missing import MissingEpisode, PhilomenaProfile
from hub.models.notifications import Notification
from hub.models.sharing import ShareRecord
from hub.permissions import (
    CHANGE,
    READ,
    Capabilities,
    addressed_to,
    audit_event_scope,
    audit_flag_scope,
    child_access,
    episode_fixable_child_ids,
    is_chairing,
    is_designated_lead,
    is_mace_chair,
    is_officer_of,
    load_force_episode,
    load_mace_object,
    load_or_refuse,
    load_profile_child,
    load_share_draft,
    mace_agency_sees,
    mace_agenda_child_access,
    mace_child_access,
    mace_intelligence_access,
    mace_intelligence_recipients_ok,
    mace_membership,
    mace_object_visible,
    may_authorise_sharing,
    may_break_glass,
    may_export_returns,
    may_import,
    may_keep_philomena_profile,
    may_manage_mace_membership,
    may_prepare_subject_access,
    may_read_philomena_profile,
    may_read_reply_content,
    may_record_mace_outcome,
    may_resolve_download_row,
    notification_visible,
    organisation_child_ids,
    philomena_released_to,
    profile_photo_basis,
    sits_on_a_mace_group,
    subject_access_episodes,
    subject_access_profile,
    subject_access_shares,
    visible_clause,
)
from hub.permissions.children import organisations_holding
from tests.permissions.expected import (
    CAPABILITIES,
    CHILD_ACCESS,
    CHILDREN,
    EVERYONE,
    NURSES,
    POLICE,
    SHARERS,
    SOCIAL,
    SUBJECT_ACCESS,
)
from tests.permissions.world import deactivated
from tests.support.audit_log import last_event


@pytest.mark.parametrize("who", EVERYONE)
def test_what_each_user_may_do_by_role_alone(world, who):
    granted = {name for name, value in asdict(Capabilities.of(world.user(who))).items() if value}
    assert granted == {name for name, holders in CAPABILITIES.items() if who in holders}, who
    assert may_export_returns(world.user(who)) == (who in SOCIAL), who
    assert may_import(world.user(who)) == (who in POLICE), who


def test_nobody_signed_out_or_deactivated_may_do_anything(world):
    assert not any(asdict(Capabilities.of(None)).values())
    with deactivated(world, "admin") as user:
        assert not any(asdict(Capabilities.of(user)).values())
        assert not child_access(user, world.children["roll_a"].id)


# --- MACE ---------------------------------------------------------------------------------------------

MEMBERS = {"chair", "member", "mace_only"}


@pytest.mark.parametrize("who", EVERYONE)
def test_only_current_members_sit_on_the_group_and_only_the_chair_and_admin_manage_it(world, who):
    user, group = world.user(who), world.group.id
    assert sits_on_a_mace_group(user) == (who in MEMBERS), who
    assert (mace_membership(user, group) is not None) == (who in MEMBERS), who
    assert is_mace_chair(user, group) == (who == "chair"), who
    assert is_chairing(mace_membership(user, group)) == (who == "chair"), who
    assert may_manage_mace_membership(user, group) == (who in {"chair", "admin"}), who
    assert bool(mace_intelligence_access(user, group, None)) == (who in MEMBERS), who


@pytest.mark.parametrize("who", EVERYONE)
def test_a_member_names_a_child_the_group_holds_or_one_they_may_see_and_only_the_chair_brings_one(world, who):
    user, group = world.user(who), world.group.id
    for name in CHILDREN:
        child = world.children[name].id
        held = name in {"mace", "roll_a"}
        expected = ("mace-member" if held else CHILD_ACCESS[who].get(name)) if who in MEMBERS else None
        access = mace_child_access(user, group, child)
        assert (access.basis if access else None) == expected, f"{who} -> {name}"
        agenda = mace_agenda_child_access(user, group, child)
        assert (agenda.basis if agenda else None) == (expected if who == "chair" else None), f"{who} -> {name}"


def test_intelligence_goes_only_to_the_groups_member_organisations(world):
    group, orgs = world.group.id, world.orgs
    assert mace_intelligence_recipients_ok(group, [orgs["f1"].id, orgs["la_h"].id])
    assert mace_intelligence_recipients_ok(group, [orgs["la_h"].id])
    assert not mace_intelligence_recipients_ok(group, [orgs["la_h"].id, orgs["nhs"].id])


def test_an_agencys_outcome_is_recorded_and_read_by_its_own_current_representative(world):
    member = mace_membership(world.user("member"), world.group.id)
    f1, la_h = world.orgs["f1"].id, world.orgs["la_h"].id
    assert may_record_mace_outcome(member, f1) and not may_record_mace_outcome(member, la_h)
    assert mace_agency_sees(member, f1) and not mace_agency_sees(member, la_h)
    assert not may_record_mace_outcome(None, f1) and not mace_agency_sees(None, f1)


# --- episodes, profiles, downloads, a force's system ---------------------------------------------------

@pytest.mark.parametrize("who", EVERYONE)
def test_episodes_are_changed_only_for_children_the_recorders_may_see(world, who):
    ids = {c.id: name for name, c in world.children.items()}
    fixable = {ids[i] for i in episode_fixable_child_ids(world.user(who), list(ids))}
    assert fixable == (set(CHILD_ACCESS[who]) if who in SOCIAL | POLICE else set()), who


@pytest.mark.parametrize("who", EVERYONE)
def test_the_profile_is_kept_by_the_childs_authorities_and_released_only_to_the_force(world, who):
    user, child = world.user(who), world.children["roll_a"]
    assert may_keep_philomena_profile(user, child) == (who in SOCIAL), who
    assert may_read_philomena_profile(user, child) == (who in SOCIAL | {"hub_dpo"}), who
    assert philomena_released_to(user, child.id) == (who in {"off1", "member", "former", "mace_only"}), who


@pytest.mark.parametrize("who", EVERYONE)
def test_a_forces_download_row_is_resolved_by_its_officers_and_administrators(world, who):
    user = world.user(who)
    assert may_resolve_download_row(user, world.orgs["f1"].id) == (who in {"off1", "member", "former", "admin"})
    assert may_resolve_download_row(user, world.orgs["f2"].id) == (who in {"off2", "admin"})


def test_a_forces_system_reads_only_its_own_forces_reports(world):
    off1, off2 = world.user("off1"), world.user("off2")
    assert load_force_episode(off1, world.episodes["intel"].id, "read", 2**31 - 1).id == world.episodes["intel"].id
    for actor, episode_id in ((off2, world.episodes["intel"].id), (off1, world.episodes["episode"].id),
                              (off1, 0), (off1, 2**31)):
        with pytest.raises(NotFound):
            load_force_episode(actor, episode_id, "read", 2**31 - 1)


# --- notifications --------------------------------------------------------------------------------------

def test_the_inbox_holds_the_copies_addressed_to_the_key_adult_alone(world):
    for who, n in world.notifications.items():
        inbox = set(db.session().scalars(select(Notification.id).where(addressed_to(world.user(who)))))
        assert n.id in inbox and {m.id for m in world.notifications.values()} & inbox == {n.id}
    assert not set(db.session().scalars(select(Notification.id).where(addressed_to(world.user("dsl_b")))))


def test_a_replys_text_is_the_schools_and_the_forces(world):
    school, force, other = world.orgs["school_a"].id, world.orgs["f1"].id, world.orgs["f2"].id
    assert may_read_reply_content(world.user("dsl_a"), school, force)
    assert may_read_reply_content(world.user("off1"), school, force)
    assert not may_read_reply_content(world.user("off2"), school, force)
    assert not may_read_reply_content(world.user("dsl_b"), school, other)


# --- the DPO: the audit log's scope, subject access -------------------------------------------------------



@pytest.mark.parametrize("who", EVERYONE)
def test_subject_access_is_the_hub_dpos_for_any_child_and_an_organisations_for_its_own(world, who):
    user = world.user(who)
    allowed = {name for name in CHILDREN if may_prepare_subject_access(user, world.children[name].id)}
    assert allowed == SUBJECT_ACCESS.get(who, set()), who


def test_a_pack_holds_the_episodes_profile_and_shares_of_the_dpos_scope(world):
    def episodes(who):
        ids = {e.id: n for n, e in world.episodes.items()}
        return {ids[i] for i in db.session().scalars(select(MissingEpisode.id).where(
            subject_access_episodes(world.user(who))))}

    def shares(who):
        ids = {s.id: n for n, s in world.shares.items()}
        return {ids[i] for i in db.session().scalars(select(ShareRecord.id).where(
            subject_access_shares(world.user(who)))) if i in ids}

    def profile(who):
        return db.session().scalar(select(PhilomenaProfile.id).where(subject_access_profile(world.user(who))))

    assert episodes("hub_dpo") == set(world.episodes)
    assert episodes("dpo_f1") == {"intel", "roll_a"} and episodes("dpo_h") == {"episode"}
    assert episodes("dpo_a") == set()
    assert shares("hub_dpo") == set(world.shares)
    assert shares("dpo_f1") == {"sent"} and shares("dpo_h") == set()
    assert profile("hub_dpo") and profile("dpo_h") and not profile("dpo_f1") and not profile("dpo_a")


#: An organisation DPO's organisation and the children it holds (the table's role:dpo rows).
DPO_OF = {"dpo_a": "school_a", "dpo_f1": "f1", "dpo_h": "la_h"}


@pytest.mark.parametrize("who", sorted(DPO_OF))
def test_an_organisations_dpo_sees_its_staffs_acts_and_the_events_about_the_children_it_holds(world, who):
    org = world.orgs[DPO_OF[who]].id
    held = {world.children[name].id for name in CHILD_ACCESS[who]}
    listed: dict[int, set[int]] = {}
    for event_id, child_id in db.session().execute(select(AuditEventChild.event_id, AuditEventChild.child_id)):
        listed.setdefault(event_id, set()).add(child_id)
    events = list(db.session().scalars(select(AuditEvent)))
    expected = {e.id for e in events
                if e.actor_org_id == org or e.child_id in held
                or (e.child_id is None and listed.get(e.id, set()) & held)}
    seen = set(db.session().scalars(select(AuditEvent.id).where(audit_event_scope(world.user(who)).clause())))
    assert seen == expected
    # Each route is in the world: events about a held child by others, and a listing by another
    # organisation that showed one.
    assert any(e.actor_org_id != org and e.child_id is None and e.id in seen for e in events)
    assert any(e.actor_org_id != org and e.child_id in held for e in events)
    assert any(e.actor_org_id == org for e in events if e.id in seen)


def test_the_holders_the_integrator_indexes_are_the_children_each_organisation_holds(world):
    """organisations_holding (the audit integrator's question: who holds these children) is
    organisation_child_ids turned round, for every organisation of the world, every route."""
    children = [child.id for child in world.children.values()]
    pairs = set(db.session().execute(organisations_holding(children)).all())
    for org in world.orgs.values():
        held = set(db.session().scalars(organisation_child_ids(org.id))) & set(children)
        assert {child for child, holder in pairs if holder == org.id} == held, org.code
    assert len({holder for _, holder in pairs}) >= 5


def test_the_hub_dpo_sees_every_event_and_an_organisations_dpo_the_flags_of_its_staff(world):
    assert audit_event_scope(world.user("hub_dpo")) is None and audit_flag_scope(world.user("hub_dpo")) is None
    flags = audit_flag_scope(world.user("dpo_a"))
    assert str(flags.compile(compile_kwargs={"literal_binds": True})) == (
        f"audit_flag.actor_org_id = {world.orgs['school_a'].id}")


@pytest.mark.parametrize("who", EVERYONE)
def test_every_mace_object_and_list_is_the_groups_current_members_alone(world, who):
    user = world.user(who)
    objects = {**world.mace, "group": world.group, "intelligence": world.shares["intel"]}
    for name, obj in objects.items():
        model = type(obj)
        listed = db.session().scalar(select(model.id).where(model.id == obj.id, mace_object_visible(user, model)))
        assert (listed is not None) == (who in MEMBERS), f"{who} -> {name} in a list"
        try:
            load_mace_object(user, model, obj.id)
            opened = True
        except NotFound:
            opened = False
        assert opened == (who in MEMBERS), f"{who} -> {name}"
        # The chair's pages: the chair alone; managing membership is of a group only.
        try:
            load_mace_object(user, model, obj.id, chair=True)
            chairs = True
        except NotFound:
            chairs = False
        assert chairs == (who == "chair"), f"{who} -> {name} as chair"


def test_the_administrator_manages_a_groups_membership_and_no_other_mace_object(world):
    admin = world.user("admin")
    assert load_mace_object(admin, MaceGroup, world.group.id, manage_membership=True)[0].id == world.group.id
    for obj in (*world.mace.values(), world.shares["intel"]):
        with pytest.raises(NotFound):
            load_mace_object(admin, type(obj), obj.id, manage_membership=True)


def test_a_share_that_is_not_intelligence_is_no_mace_object_even_for_a_member(world):
    with pytest.raises(NotFound):
        load_mace_object(world.user("member"), ShareRecord, world.shares["sent"].id)


@pytest.mark.parametrize("who", EVERYONE)
def test_break_glass_is_for_practitioners_and_mace_people(world, who):
    assert may_break_glass(world.user(who)) == (who in SHARERS), who


def test_a_deactivated_key_adult_opens_no_notification_not_even_their_own(world):
    with deactivated(world, "dsl_a") as user:
        assert not list(db.session().scalars(select(Notification.id).where(notification_visible(user))))
        assert not list(db.session().scalars(select(Notification.id).where(addressed_to(user))))


def test_a_forces_system_refusal_is_audited_naming_the_episode_and_its_child(world):
    off2, episode = world.user("off2"), world.episodes["intel"]
    first = min(e.id for e in world.episodes.values())
    owner = next(e for e in world.episodes.values() if e.id == first)
    actor = world.user("off1" if owner.police_org_id == world.orgs["f1"].id else "off2")
    assert load_force_episode(actor, first, "read", first).id == first  # the first id and the last allowed
    with pytest.raises(NotFound):
        load_force_episode(off2, episode.id, "update", 2**31 - 1)
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.actor_user_id == off2.id)
                                .order_by(AuditEvent.id.desc()).limit(1))
    assert (event.outcome, event.object_type, event.object_id, event.child_id, event.action) == (
        "refused", "missing-episode", str(episode.id), episode.child_id, "update")
    with pytest.raises(NotFound):
        load_force_episode(actor, first, "read", first - 1)  # past the column's range: no such episode
    name = next(n for n, u in world.users.items() if u.id == actor.id)
    with deactivated(world, name) as inactive, pytest.raises(NotFound):
        load_force_episode(inactive, first, "read", 2**31 - 1)


@pytest.mark.parametrize("who", EVERYONE)
def test_the_profile_is_read_by_its_keepers_and_the_hub_dpo_and_kept_by_its_keepers_alone(world, who):
    user, child = world.user(who), world.children["roll_a"]
    for action, allowed in ((READ, SOCIAL | {"hub_dpo"}), ("update", SOCIAL), ("share", SOCIAL)):
        before = _refusals(user.id)
        try:
            found, access = load_profile_child(user, child.id, action)
            assert found.id == child.id and access.basis == CHILD_ACCESS[who]["roll_a"]
            opened = True
        except NotFound:
            opened = False
            event = last_event(user.id)
            assert (event.outcome, event.object_type, event.object_id, event.child_id, event.action) == (
                "refused", "philomena-profile", str(child.id), child.id, action)
            assert _refusals(user.id) == before + 1
        assert opened == (who in allowed), f"{who} {action}"


def test_a_profile_of_no_child_is_refused_without_naming_one(world):
    user = world.user("sw_h")
    with pytest.raises(NotFound):
        load_profile_child(user, 10**6)
    event = last_event(user.id)
    assert (event.object_type, event.object_id, event.child_id) == ("philomena-profile", str(10**6), None)


def test_the_photo_basis_says_whether_the_profile_was_released(world):
    child = world.children["roll_a"].id
    assert profile_photo_basis(world.user("off1"), child) == "profile-released"
    assert profile_photo_basis(world.user("sw_h"), child) == "responsible-authority"
    assert profile_photo_basis(world.user("hub_dpo"), child) == "role:dpo"
    for who in ("off2", "chair", "dsl_a"):  # a revoked release; the releasing authority's chair; a school
        with pytest.raises(NotFound):
            profile_photo_basis(world.user(who), child)
        assert last_event(world.users[who].id).object_type == "philomena-photo"


@pytest.mark.parametrize("who", EVERYONE)
def test_a_draft_share_is_its_authors_alone(world, who):
    user, sent, other = world.user(who), world.children["sent"].id, world.children["roll_a"].id
    try:
        draft = load_share_draft(user, world.draft_id, sent)
        assert draft.id == world.draft_id
        opened = True
    except NotFound:
        opened = False
        event = last_event(user.id)
        assert (event.outcome, event.object_type, event.child_id) == ("refused", "share-draft", sent)
    assert opened == (who == "nurse"), who
    for wrong in ((world.draft_id, other), ("no-such-draft", sent), (None, sent), (12, sent)):
        with pytest.raises(NotFound):
            load_share_draft(user, *wrong)


@pytest.mark.parametrize("who", EVERYONE)
def test_a_consent_is_read_by_those_who_see_the_child_and_changed_by_those_who_may_share(world, who):
    user, record = world.user(who), world.consent
    sees = "roll_a" in CHILD_ACCESS[who]
    for action, allowed in ((READ, sees), (CHANGE, sees and who in SHARERS)):
        listed = db.session().scalar(select(ConsentRecord.id).where(
            ConsentRecord.id == record.id, visible_clause(user, ConsentRecord, action)))
        assert (listed is not None) == allowed, f"{who} {action}"
        try:
            load_or_refuse(user, ConsentRecord, record.id, action=action)
            opened = True
        except NotFound:
            opened = False
            assert last_event(user.id).child_id == record.child_id
        assert opened == allowed, f"{who} {action}"


@pytest.mark.parametrize("who", EVERYONE)
def test_sharing_without_consent_is_authorised_by_those_who_hold_safeguarding_decisions(world, who):
    authorisers = {"dsl_a", "dsl_b", "dsl_c", "edu", "sw_h", "sw_p", "chair"} | POLICE | NURSES
    assert may_authorise_sharing(world.user(who)) == (who in authorisers), who
    assert is_designated_lead(world.user(who)) == (who in {"dsl_a", "dsl_b", "dsl_c", "edu"}), who
    assert is_officer_of(world.user(who), world.orgs["f1"].id) == (who in {"off1", "member", "former"}), who


def _refusals(user_id: int) -> int:
    return len(list(db.session().scalars(select(AuditEvent.id).where(
        AuditEvent.actor_user_id == user_id, AuditEvent.outcome == "refused"))))
