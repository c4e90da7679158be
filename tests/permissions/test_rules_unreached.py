"""Rules no test of the access rules reached before (the mutation run's "no tests"): the annual
workbook's scope on the command line, the people a DPO may find by name, and which waiting rows
of the data quality page link to their page. Each against the compact world
(tests/permissions/world.py), with the answers written out here."""

from __future__ import annotations

from sqlalchemy import select, true

from hub import db
from hub.admin import service as admin
from hub.auth.models import User
from hub.auth.roles import Role
from hub.mace.models import MaceGroup
from hub.missing.models import MissingEpisode
from hub.permissions import audit_person_scope, command_line_report_scope, quality_may_link_download_row

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
