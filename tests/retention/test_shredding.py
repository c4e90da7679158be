"""Crypto-shredding (issue 23): destroying a child's last record destroys the child's data key, its
search indexes and its row, so nothing in the database, and nothing in a backup made before, can
be read for the child again; the audit log stays whole and verifies; other children are untouched.
Key rotation re-wraps the data keys, and after it the old field key opens nothing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import func, inspect, select, text

from hub import create_app, crypto, db
from hub.audit import integrator as audit_integrator
from hub.audit import verify as offline
from hub.consent import service as consent
from hub.crypto import blind_index, dob_index, normalise_identifier
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.migrate import alembic_config
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.missing.profiles import service as profiles
from hub.models.consent import GivenBy
from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.people import BreakGlassCategory, Child, ChildDataKey, IdentifierKind
from hub.models.retention import HoldKind, LegalHold, RecordClass
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.people import search as name_search
from hub.people import service as people
from hub.retention import destruction, service, shredding
from hub.sharing import recipients as sharing_recipients
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from hub.subject_access import service as subject_access
from tests.factories import involve, make_child, make_org, make_user, sign_in
from tests.support.retention import HOLD_REASON, World, make_due, retention_of, today

NHS = IdentifierKind.nhs_number
TOKEN_STARTS = ("gAAAA", crypto.CHILD_PREFIX)


@dataclass
class Marked:
    """A child's personal values, and every keyed index value computed from them."""

    child: Child
    given: str
    family: str
    dob: date
    nhs: str

    def plain(self) -> list[str]:
        return [self.given, self.family, self.dob.isoformat(), self.dob.strftime("%d/%m/%Y"), self.nhs]

    def indexes(self) -> list[str]:
        found = name_search.index_hashes(self.given, self.family)  # name words, prefixes, sound-alikes
        return [*found, dob_index(self.dob), blind_index(NHS.value, normalise_identifier(self.nhs))]


def _share(world: World, child_id: int, marked: str) -> int:
    return sharing.create_share(world.worker1, sharing.ShareDraft(
        child_id=child_id, category=Category.other, summary=f"Summary about {marked}",
        content=f"{marked} was seen at the station", purpose=f"To keep {marked} safe",
        recipient_org_ids=[world.la2.id], source_kind=SourceKind.organisation, source_description=f"{marked}'s school",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale=f"{marked} at risk",
        authorised_by_user_id=world.manager1.id, family_told=False, family_not_told_reason=f"{marked}'s safety")).id


def _everything_about(world: World, child: Child, marked: str) -> None:
    """A share, an episode, a profile, a consent record and an emergency access grant about the child."""
    _share(world, child.id, marked)
    missing.record_episode(world.officer, child.id, missing_details.EpisodeDetails(
        police_reference=f"SHRED/{child.id}", reported_start=utcnow(), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home, missing_from_detail=f"{marked}'s aunt's flat"))
    profiles.save_profile(world.worker1, child.id, {"physical_description": f"{marked} is tall",
                                                    "friends_and_associates": f"{marked}'s friend Jo"})
    consent.record_consent(world.worker1, consent.ConsentDetails(
        child_id=child.id, given_by=GivenBy.parental_responsibility, giver_description=f"{marked}'s mother", given=True,
        purposes=[Category.other], recipient_org_ids=[world.la2.id], obtained_on=date.today()))
    stranger, _ = make_user(world.school, Role.dsl)
    people.break_glass(stranger, child.id, BreakGlassCategory.missing_at_risk, f"{marked} missing tonight, urgent")


def _marked_child(world: World, given: str, family: str, dob: date, nhs: str) -> Marked:
    child = make_child(given=given, family=family, dob=dob, responsible_authority_id=world.la1.id,
                       identifiers={NHS: nhs, IdentifierKind.la_id: f"LA-{nhs}"})
    for org in (world.la2, world.force):
        involve(child, org)
    _everything_about(world, child, given)
    return Marked(child, given, family, dob, nhs)


def _approve_all_of(world: World, child_id: int) -> None:
    records = [r for r in (retention_of(c, i) for c, i in _records_of(child_id)) if r is not None]
    make_due(*records)
    force_dpo = make_user(world.force, Role.dpo)[0]
    for record in records:
        approver = force_dpo if record.record_class == RecordClass.police_record else world.dpo1.user
        service.approve_destruction(approver, [record.id], today())


def _records_of(child_id: int) -> list[tuple[RecordClass, int]]:
    from_register = db.session().execute(text(
        "SELECT record_class, record_id FROM retention_record WHERE child_id = :c"), {"c": child_id}).all()
    return [(RecordClass(c), i) for c, i in from_register]


def _scan(engine, values: list[str]) -> list[str]:
    """Every table, every column of every row of the database: where any of `values` appears,
    in clear or inside whatever the keys still standing decrypt."""
    db.session.remove()  # no unwrapped key kept from before: only the stored keys open anything
    found = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():  # nosec B608 - the schema's names
                for column, value in row.items():
                    for readable in _readings(value):
                        found += [f"{table}.{column}: {v}" for v in values if v in readable]
    return found


def _readings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return [raw.decode("latin-1"), base64.b64encode(raw).decode("ascii")]
    readings = [str(value)]
    if isinstance(value, str) and value.startswith(TOKEN_STARTS):
        try:
            readings.append(crypto.decrypt_any(value))
        except RuntimeError:  # a destroyed key (KeyDestroyed), or not a token after all
            pass
        else:
            if readings[-1].startswith("/9j/"):  # a photo: base64 of a JPEG
                readings.append(base64.b64decode(readings[-1]).decode("latin-1"))
    return readings


def test_destroying_a_childs_records_leaves_nothing_of_the_child_readable_anywhere(app, world, runner, tmp_path,
                                                                                  fresh_database_url):
    target = _marked_child(world, "Wilhelmina", "Quarrendon", date(2011, 9, 23), "9434765919")
    other = _marked_child(world, "Bartholomew", "Fenwright", date(2012, 2, 14), "4010232137")
    engine = app.extensions["hub_engine"]
    # The scan can fail: before destruction it finds the target everywhere, keys included.
    before = _scan(engine, target.plain() + target.indexes())
    assert {f.split(".")[0] for f in before} >= {"child", "child_identifier", "child_name_token", "share_record",
                                                "missing_episode", "philomena_profile", "consent_record",
                                                "break_glass_grant"}
    # Every child-scoped field is under the child's own key, not the field key.
    key_id = db.session().get(Child, target.child.id).data_key_id
    stored = db.session().execute(text("SELECT given_name, date_of_birth FROM child WHERE id = :i"),
                                  {"i": target.child.id}).one()
    assert all(v.startswith(f"{crypto.CHILD_PREFIX}{key_id}.") for v in stored)

    audit_integrator.integrate_all()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    backup_file = tmp_path / "before.backup"
    assert runner.invoke(args=["db", "backup", "--out", str(backup_file)]).exit_code == 0
    # The backup carries no data key: not one wrapped key's bytes are in the file.
    wrapped = db.session().execute(text("SELECT wrapped_key FROM child_data_key")).scalars().all()
    in_file = backup_file.read_bytes()
    assert wrapped and not any(w.encode() in in_file for w in wrapped)

    records = _records_of(target.child.id)
    assert RecordClass.police_record in {c for c, _ in records} and len(records) >= 2
    _approve_all_of(world, target.child.id)
    certificates = destruction.destroy_approved()
    assert sum(c.count for c in certificates) == len(records)  # the share, the episode, and the rest

    # Nothing of the target anywhere, decrypting whatever the remaining keys open...
    assert _scan(engine, target.plain() + target.indexes()) == []
    key = db.session().get(ChildDataKey, key_id)
    assert key.wrapped_key is None and key.destroyed_at is not None
    assert db.session().get(Child, target.child.id) is None
    # ...while the other child is whole: every value, every index, readable.
    other_found = _scan(engine, other.plain() + other.indexes())
    assert {f.split(".")[0] for f in other_found} >= {"child", "child_identifier", "child_name_token",
                                                      "share_record", "philomena_profile", "consent_record"}
    db.session.remove()
    assert db.session().get(Child, other.child.id).full_name == "Bartholomew Fenwright"

    # The log is whole: verified in full, incrementally, and offline from an export.
    audit_integrator.integrate_all()
    full = runner.invoke(args=["audit", "verify"])
    assert full.exit_code == 0, full.output
    incremental = runner.invoke(args=["audit", "verify", "--incremental"])
    assert incremental.exit_code == 0 and "incremental" in incremental.output, incremental.output
    export = tmp_path / "export.json"
    assert runner.invoke(args=["audit", "export", "--out", str(export)]).exit_code == 0
    assert offline.main([str(export)]) == 0
    assert runner.invoke(args=["audit", "export", "--child", str(target.child.id), "--out",
                               str(tmp_path / "child.json")]).exit_code == 0
    assert offline.main([str(tmp_path / "child.json")]) == 0

    # A copy made before the destruction, restored with the keys as they stand now, reads nothing
    # of the target (its fields are there, their key is not) and everything of the other child.
    keys_file = tmp_path / "keys.jsonl"
    assert runner.invoke(args=["keys", "backup", "--out", str(keys_file)]).exit_code == 0
    _restored_reads(fresh_database_url, backup_file, keys_file, target, other)


def _restored_reads(fresh: str, backup_file: Path, keys_file: Path, target: Marked, other: Marked) -> None:
    restored = create_app({"env": "testing", "database_url": fresh})
    live = db.session.registry().get_bind()
    try:
        db.bind(restored.extensions["hub_engine"])
        done = restored.test_cli_runner().invoke(args=["db", "restore", "--from", str(backup_file),
                                                       "--keys", str(keys_file)])
        assert done.exit_code == 0, done.output
        with restored.app_context():
            restored.extensions["hub_crypto"] = crypto._keyring()
            tokens = db.session().execute(text("SELECT given_name, family_name, date_of_birth FROM child "
                                               "WHERE id = :i"), {"i": target.child.id}).one()
            for token in tokens:  # the target's row came back with the copy, and opens with no key
                with pytest.raises(crypto.KeyDestroyed):
                    crypto.decrypt_any(token)
            assert _scan(restored.extensions["hub_engine"], target.plain()) == []
            db.session.remove()
            assert db.session().get(Child, other.child.id).full_name == "Bartholomew Fenwright"
    finally:
        db.session.remove()
        restored.extensions["hub_engine"].dispose()
        db.bind(live)


def test_a_held_record_keeps_the_child_and_its_key(world):
    target = _marked_child(world, "Perpetua", "Hazeldine", date(2010, 1, 8), "9434765870")
    _approve_all_of(world, target.child.id)
    service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.litigation, HOLD_REASON,
                                                          record_class=RecordClass.social_care_record))
    destruction.destroy_approved()  # the episode goes; the held share stays, so does the child
    db.session.remove()
    child = db.session().get(Child, target.child.id)
    assert child is not None and child.full_name == "Perpetua Hazeldine"
    assert db.session().get(ChildDataKey, child.data_key_id).wrapped_key is not None
    assert shredding.destroyed_child(target.child.id) is None


def test_the_dpos_log_search_says_when_and_under_which_rule_a_childs_records_were_destroyed(app, world):
    target = _marked_child(world, "Ignatius", "Vellacott", date(2011, 4, 2), "9434765862")
    _approve_all_of(world, target.child.id)
    destruction.destroy_approved()
    audit_integrator.integrate_all()
    hub_dpo, secret = make_user(make_org(OrgKind.mace_host), Role.dpo)
    client = app.test_client()
    sign_in(client, hub_dpo, secret)
    page = client.get(f"/audit/children/{target.child.id}").get_data(as_text=True)
    on = today().strftime("%-d %B %Y")
    assert f"about a record destroyed on {on} under " in page
    assert "Ignatius" not in page and "Vellacott" not in page
    with pytest.raises(NotFound):  # nothing is held to give: a subject access pack finds no child
        subject_access.pack(db.session().merge(hub_dpo), target.child.id)


def test_keys_rotate_rewraps_every_data_key_and_the_old_key_opens_nothing(app, world):
    _marked_child(world, "Cressida", "Ormerod", date(2012, 6, 30), "9434765889")
    service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON))  # a hub-level field
    with unit_of_work():
        world.worker1.totp_secret = "JBSWY3DPEHPK3PXP"  # a hub secret, under the field key
        db.session().merge(world.worker1)
    settings = app.config["HUB"]
    old_key, new_key = settings.field_keys[0], Fernet.generate_key().decode()
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key, old_key], settings.blind_index_key)
    before = _every_encrypted_value()
    rotated = people.rotate_keys()
    assert rotated >= db.session().scalar(select(func.count()).select_from(ChildDataKey))

    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key], settings.blind_index_key)  # the old key removed
    assert _every_encrypted_value() == before  # every encrypted column of every table reads back

    app.extensions["hub_crypto"] = crypto.Keyring.of([old_key], settings.blind_index_key)  # the old key alone
    db.session.remove()
    engine = app.extensions["hub_engine"]
    opened = []
    with engine.connect() as conn:
        for _table, _key, column in people.encrypted_columns():
            for token in conn.execute(select(column).where(column.is_not(None))).scalars():
                try:
                    crypto.decrypt_any(token)
                    opened.append(column.name)
                except RuntimeError:
                    pass
        for wrapped in conn.execute(text("SELECT wrapped_key FROM child_data_key WHERE wrapped_key IS NOT NULL")):
            with pytest.raises(RuntimeError):
                crypto.unwrap(wrapped[0])
    assert opened == []
    db.session.remove()
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key], settings.blind_index_key)


def _every_encrypted_value() -> dict[tuple[str, str], list[str]]:
    """Every encrypted column of every table, decrypted with the keys configured now (no key kept)."""
    db.session.remove()
    values = {}
    for table, key, column in people.encrypted_columns():
        tokens = db.session().execute(select(key, column).where(column.is_not(None)).order_by(key)).all()
        values[(table.name, column.name)] = [crypto.decrypt_any(t) for _, t in tokens]
    assert sum(len(v) for v in values.values()) > 20
    kinds = {k for k, v in values.items() if v}
    assert {("child", "given_name"), ("philomena_profile", "physical_description"), ("share_record", "content"),
            ("legal_hold", "reason"), ("user_account", "totp_secret"), ("consent_record", "giver_description"),
            ("break_glass_grant", "reason"), ("missing_episode", "missing_from_detail")} <= kinds
    return values


def test_the_demo_data_loads_with_every_child_under_its_own_key(app, runner):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    children = db.session().scalar(select(func.count()).select_from(Child))
    keys = db.session().scalar(select(func.count(func.distinct(Child.data_key_id))))
    assert children > 0 and keys == children
    plain = db.session().execute(text("SELECT given_name FROM child")).scalars().all()
    assert all(v.startswith(crypto.CHILD_PREFIX) for v in plain)
    assert json.dumps(plain)  # plain text tokens



def test_a_childs_value_copied_into_a_table_about_no_child_goes_under_the_field_key(world):
    target = _marked_child(world, "Philippa", "Strangeways", date(2012, 8, 9), "9434765838")
    db.session.remove()
    name = db.session().get(Child, target.child.id).given_name
    assert getattr(name, "key_id", None)  # read back still scoped to the child's key
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, HOLD_REASON))
    with unit_of_work() as s:
        s.get(LegalHold, hold.id).reason = name  # the very value, key id and all
    stored = db.session().execute(text("SELECT reason FROM legal_hold WHERE id = :i"), {"i": hold.id}).scalar()
    assert stored.startswith("gAAAA") and crypto.decrypt(stored) == "Philippa"


def test_migration_0026_puts_existing_children_under_their_own_keys_and_back(app, world):
    target = _marked_child(world, "Octavia", "Brackenbury", date(2011, 11, 11), "9434765846")
    audit_integrator.integrate_all()
    db.session.remove()
    command.downgrade(alembic_config(app), "0025_dposcope")
    with app.extensions["hub_engine"].connect() as conn:
        given, content = conn.execute(text(
            "SELECT c.given_name, s.content FROM child c JOIN share_record s ON s.child_id = c.id WHERE c.id = :i"),
            {"i": target.child.id}).one()
    assert crypto.decrypt(given) == "Octavia" and "Octavia" in crypto.decrypt(content)  # the field key's, as before
    command.upgrade(alembic_config(app), "head")
    db.session.remove()
    child = db.session().get(Child, target.child.id)
    assert child.full_name == "Octavia Brackenbury" and child.data_key_id
    with app.extensions["hub_engine"].connect() as conn:
        tokens = conn.execute(text(
            "SELECT c.given_name, s.content, p.physical_description FROM child c JOIN share_record s ON "
            "s.child_id = c.id JOIN philomena_profile p ON p.child_id = c.id WHERE c.id = :i"),
            {"i": target.child.id}).one()
    assert all(t.startswith(f"{crypto.CHILD_PREFIX}{child.data_key_id}.") for t in tokens)
    assert "Octavia" in crypto.decrypt_any(tokens[1])


def test_no_event_of_any_kind_holds_the_marked_text_of_what_it_is_about(app, world):
    """The log holds no personal content, which is why its leaves may stay after destruction: every
    kind of event the child's records write here (create, read, search, update, revoke, withdraw,
    break-glass, hold, keep, approve, destroy, shred, subject access), each given marked text where
    it takes any, then every leaf and every column of the log scanned for the marks."""
    mark = "Zanzibarine"
    target = _marked_child(world, mark, "Mcgillicuddy", date(2010, 3, 4), "9434765854")
    other = _marked_child(world, "Ottoline", "Marchbanks", date(2011, 7, 12), "9434765811")
    share_id = _share(world, other.child.id, mark)
    people.get_child(world.worker1, target.child.id)
    people.find_children(world.worker1, people.ChildSearch(name=f"{mark} Mcgillicuddy"))
    people.find_children(world.worker1, people.ChildSearch(identifier=target.nhs))
    people.find_children(world.worker1, people.ChildSearch(name="Zanz", date_of_birth=target.dob))
    episode = db.session().execute(text("SELECT id FROM missing_episode WHERE child_id = :c"),
                                   {"c": target.child.id}).scalar()
    missing.update_episode(world.officer, episode, missing_details.EpisodeChanges(
        found_at=utcnow(), found_where=f"{mark} found at the bus station"))
    sharing_recipients.revoke(world.worker1, share_id, world.la2.id, f"{mark}'s share sent in error")
    consent_id = db.session().execute(text("SELECT id FROM consent_record WHERE child_id = :c"),
                                      {"c": other.child.id}).scalar()
    consent.withdraw(world.worker1, consent_id, f"{mark}'s mother withdrew it")
    hold = service.set_hold(world.dpo1.user, service.HoldDetails(HoldKind.inquiry, f"Inquiry into {mark}",
                                                                 child_id=other.child.id))
    service.lift_hold(world.dpo1.user, hold.id, f"{mark} inquiry closed")
    record = retention_of(RecordClass.social_care_record, share_id)
    make_due(record)
    service.keep(world.dpo1.user, record.id, date.today() + timedelta(days=30), f"Kept for {mark}", today())
    subject_access.pack(world.dpo1.user, other.child.id)
    _approve_all_of(world, target.child.id)
    destruction.destroy_approved()
    audit_integrator.integrate_all()

    events = db.session().execute(text("SELECT * FROM audit_event")).mappings().all()
    kinds = {(e["action"], e["object_type"]) for e in events}
    assert len(kinds) >= 15, sorted(kinds)
    marks = [mark, "Mcgillicuddy", "Zanz", target.dob.isoformat(), target.nhs, "bus station", "withdrew",
             "Inquiry into", "inquiry closed", "Kept for", "sent in error", *target.indexes()[:5]]
    for event in events:
        for column, value in event.items():
            readable = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
            for marked in marks:
                assert marked not in readable, (event["action"], event["object_type"], column, marked)
