"""The data protection officer's forms, fuzzed (tests/support/form_fuzz.py): the retention queue's
approval, keeping a record, a class's retention period, legal holds set and lifted, an erasure
request and each agency's decision on it, the audit log's integrity check and closing flags."""

from __future__ import annotations

from datetime import date, timedelta

from hub import db
from hub.db import utcnow
from hub.erasure import service as erasure
from hub.models.auth import User
from hub.models.retention import RecordClass
from hub.models.roles import OrgKind, Role
from hub.retention import service as retention
from hub.retention.rules import london_day
from tests.factories import fail_sign_in_five_times, make_child, make_org, make_share, make_user, sign_in
from tests.support.form_fuzz import fuzz
from tests.support.retention import build_world, make_due, retention_of
from tests.support.sharing import draft


def _client(app, user, secret):
    client = app.test_client()
    sign_in(client, user, secret)
    return client


def test_the_retention_forms(app):
    world = build_world()
    about = {"child": world.child, "school": world.school, "health": world.la2, "manager": world.manager1}
    approved, kept = (
        retention_of(RecordClass.social_care_record, make_share(world.worker1, draft(about)).id) for _ in range(2)
    )
    dpo_id = world.dpo1.user.id
    dpo = _client(app, world.dpo1.user, world.dpo1.secret)
    make_due(approved)
    assert fuzz(dpo, "/retention/", "/retention/approve") == 1
    make_due(kept)
    assert fuzz(dpo, f"/retention/records/{kept.id}/keep") == 2
    hold = retention.set_hold(
        db.session().get(User, dpo_id),
        retention.HoldDetails(retention.HoldKind.litigation, "A claim is expected", child_id=world.child.id),
    )
    assert fuzz(dpo, f"/retention/schedule/{RecordClass.social_care_record.value}") >= 1
    assert fuzz(dpo, "/retention/holds/new") >= 3
    assert fuzz(dpo, f"/retention/holds/{hold.id}/lift") == 1


def test_the_erasure_request_and_decision_forms(app):
    la = make_org(OrgKind.childrens_social_care)
    child = make_child(given="Erasable", family="Person", responsible_authority_id=la.id)
    dpo, secret = make_user(la, Role.dpo)
    worker, manager = make_user(la, Role.social_worker)[0], make_user(la, Role.social_worker)[0]
    make_share(
        worker,
        draft(
            {"child": child, "school": make_org(OrgKind.school), "health": make_org(OrgKind.health), "manager": manager}
        ),
    )
    made = erasure.record_request(
        dpo,
        erasure.RequestDetails(child.id, date.today() - timedelta(days=2), "Their mother", "Erase what you hold"),
        london_day(utcnow()),
    )
    client = _client(app, dpo, secret)
    assert fuzz(client, "/erasure/new") >= 4
    assert fuzz(client, f"/erasure/{made.id}/decide/{RecordClass.social_care_record.value}") == 2


def test_the_audit_integrity_and_flag_forms(app):
    dsl, _ = make_user(make_org(OrgKind.school), Role.dsl)
    hub_dpo = make_user(make_org(OrgKind.mace_host), Role.dpo)
    fail_sign_in_five_times(app, dsl)
    client = _client(app, *hub_dpo)
    assert fuzz(client, "/audit/integrity", "/audit/integrity/verify") == 1
    assert fuzz(client, "/audit/flags", "/audit/flags/close") == 2
