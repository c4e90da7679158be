"""The demo locality loads once and only once; the schema comes only from the migrations."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from hub import db
from hub.db import Base
from hub.migrate import MIGRATIONS
from hub.models.api import ApiClient
from hub.models.auth import Organisation, User
from hub.models.mace import (
    DisruptionKind,
    MaceAction,
    MaceGroup,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceOutcome,
    MacePerson,
    PersonKind,
)
from hub.models.missing import MissingEpisode
from hub.models.people import Child


def _counts():
    s = db.session()
    return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Organisation, User, Child, MaceGroup))


def test_demo_data_builds_the_fictional_locality_and_prints_every_sign_in(runner, app):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    assert "FICTIONAL" in result.output
    orgs, users, children, groups = _counts()
    assert children == 80 and groups == 1
    schools = db.session().scalar(select(func.count()).select_from(Organisation).where(Organisation.kind == "school"))
    assert schools == 8
    emails = re.findall(r"^(\S+@northbridge\.example)$", result.output, re.M)
    assert len(emails) == users
    assert result.output.count("otpauth://totp/") == users
    assert "dsl.hillside@northbridge.example" in emails and "deputy.hillside@northbridge.example" in emails
    looked_after = db.session().scalar(select(func.count()).select_from(Child).where(Child.looked_after.is_(True)))
    westmere = db.session().scalar(select(Organisation.id).where(Organisation.code == "WMCSC"))
    placed_from_elsewhere = db.session().scalar(select(func.count()).select_from(Child).where(
        Child.placing_authority_id == westmere))
    assert looked_after > 0 and placed_from_elsewhere > 0


def test_demo_data_builds_northbridge_central_mace_as_the_issue_lists_it(runner, app):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    s = db.session()
    group = s.scalar(select(MaceGroup).where(MaceGroup.code == "MACE-CENTRAL"))
    members = {m.user.email.split("@")[0]: m
               for m in s.scalars(select(MaceMember).where(MaceMember.group_id == group.id))}
    assert {"school.nurse", "dsl.northbridge", "police.coordinator", "social.worker", "mace.chair"} <= {
        name for name, m in members.items() if m.current_on(date.today())}
    assert not members["mace.member"].current_on(date.today())  # an ended membership
    meetings = list(s.scalars(select(MaceMeeting).where(MaceMeeting.group_id == group.id)))
    assert sum(1 for m in meetings if m.held_at) == 3
    assert s.scalar(select(func.count()).select_from(MaceLocation)) >= 2
    assert s.scalar(select(func.count()).select_from(MacePerson).where(MacePerson.kind == PersonKind.peer_group)) == 1
    actions = list(s.scalars(select(MaceAction).where(MaceAction.group_id == group.id)))
    assert any(a.overdue_on(date.today()) for a in actions)
    assert any(a.disruption_kind == DisruptionKind.cawn for a in actions)
    health = members["school.nurse"].organisation_id
    waiting = s.scalars(select(MaceOutcome).where(MaceOutcome.confirmed_at.is_(None))).all()
    assert waiting and {o.organisation_id for o in waiting} == {health}


def test_demo_data_twice_duplicates_nothing_and_prints_the_same_secrets(runner, app):
    first = runner.invoke(args=["demo-data"])
    counts = _counts()
    second = runner.invoke(args=["demo-data"])
    assert second.exit_code == 0
    assert _counts() == counts
    assert re.findall(r"totp secret: (\w+)", first.output) == re.findall(r"totp secret: (\w+)", second.output)


def test_the_migrations_create_exactly_the_models_tables(app):
    tables = set(inspect(db.session().get_bind()).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_there_is_a_single_migration_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_sqlite_connections_enforce_foreign_keys(app):
    if db.session().get_bind().dialect.name != "sqlite":
        return
    assert db.session().execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_the_demo_api_client_gets_a_token_and_reads_its_force_s_episodes(runner, app, client):
    first = runner.invoke(args=["demo-data"])
    client_id = re.search(r"client id: (\S+)", first.output).group(1)
    secret = re.search(r"client secret: (\S+)", first.output).group(1)
    runner.invoke(args=["demo-data"])
    assert db.session().scalar(select(func.count()).select_from(ApiClient)) == 1  # not made twice
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret))
    assert token.status_code == 200, token.json
    episode_id = db.session().scalar(select(MissingEpisode.id).limit(1))
    answer = client.get(f"/api/v1/episodes/{episode_id}",
                        headers={"Authorization": f"Bearer {token.json['access_token']}"})
    assert answer.status_code == 200 and answer.json["id"] == episode_id
    wrong = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "nope"))
    assert wrong.status_code == 401


def test_the_migrations_match_the_models_index_for_index(app):
    """Alembic's own comparison of the migrated schema with the models finds nothing to add or
    drop: a model change without its migration (a column, an index, a constraint) fails here."""
    with app.extensions["hub_engine"].connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_demo_data_refuses_a_production_hub(app, runner):
    app.config["HUB"] = dataclasses.replace(app.config["HUB"], env="production")
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code != 0 and "refuses HUB_ENV=production" in result.output
    assert _counts() == (0, 0, 0, 0)  # nothing loaded
