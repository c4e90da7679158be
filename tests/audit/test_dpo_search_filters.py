"""Each filter of the DPO's audit search narrows what it finds (issue 24, "every rule executed"):
by person, by organisation, by action, by outcome and by dates, and a range that ends before it
starts is refused; a DPO's search for a person needs two characters, and someone who is not a
DPO is refused and the refusal recorded."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.dpo import exports as dpo_exports
from hub.dpo import search as dpo_search
from hub.errors import Forbidden, Invalid
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user

F = dpo_search.EventFilter


@pytest.fixture
def log(app):
    school, other = make_org(OrgKind.school), make_org(OrgKind.school)
    dsl, other_dsl = make_user(school, Role.dsl)[0], make_user(other, Role.dsl)[0]
    hub_dpo = make_user(make_org(OrgKind.mace_host), Role.dpo)[0]
    with db.unit_of_work():
        audit.record("read", actor=dsl, object_type="child-list")
        audit.record("update", actor=other_dsl, object_type="notification")
        audit.record("read", actor=other_dsl, object_type="child", outcome=audit.REFUSED)
    return dict(dsl=dsl, other_dsl=other_dsl, hub_dpo=hub_dpo, school=school)


def _found(actor, **filters) -> list[tuple[int | None, str, str]]:
    page = dpo_search.search(actor, F(**filters))
    return [(e.actor_user_id, e.action, e.outcome) for e in page.events
            if e.object_type in ("child-list", "notification", "child")]


def test_each_filter_narrows_the_search(log):
    dpo, dsl, other = log["hub_dpo"], log["dsl"].id, log["other_dsl"].id
    assert set(_found(dpo)) == {(dsl, "read", "done"), (other, "update", "done"), (other, "read", "refused")}
    assert set(_found(dpo, user_id=other)) == {(other, "update", "done"), (other, "read", "refused")}
    assert _found(dpo, organisation_id=log["school"].id) == [(dsl, "read", "done")]
    assert _found(dpo, action="update") == [(other, "update", "done")]
    assert _found(dpo, outcome="refused") == [(other, "read", "refused")]
    assert len(_found(dpo, date_from=date.today(), date_to=date.today())) == 3
    assert _found(dpo, date_from=date.today() + timedelta(days=1)) == []
    assert _found(dpo, date_to=date.today() - timedelta(days=1)) == []


def test_a_range_that_ends_before_it_starts_is_refused(log):
    with pytest.raises(Invalid) as info:
        F(date_from=date.today(), date_to=date.today() - timedelta(days=1)).validate()
    assert info.value.errors["date_to"] == "The end date must be the same as or after the start date"
    F(date_from=date.today(), date_to=date.today()).validate()


def test_finding_a_person_needs_two_characters_and_a_dpo(log):
    dpo = log["hub_dpo"]
    assert dpo_search.find_people(dpo, " d ") == []
    assert log["dsl"] in dpo_search.find_people(dpo, log["dsl"].email.upper())
    assert dpo_search.person(dpo, log["dsl"].id) == log["dsl"]
    for refused in (lambda: dpo_search.find_people(log["dsl"], "someone"),
                    lambda: dpo_search.search(log["dsl"], F())):
        with pytest.raises(Forbidden):
            refused()
    refusals = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == log["dsl"].id, AuditEvent.object_type == "audit-log",
        AuditEvent.outcome == audit.REFUSED)).all()
    assert len(refusals) == 2


def test_a_json_export_holds_what_the_filter_allows_and_is_refused_while_the_log_cannot_be_sequenced(log,
                                                                                                      monkeypatch):
    data = dpo_exports.export_json(log["hub_dpo"], user_id=log["other_dsl"].id)
    leaves = [json.loads(base64.b64decode(e["leaf"])) for e in data["entries"]]
    assert leaves and {leaf["actor_user_id"] for leaf in leaves} == {log["other_dsl"].id}
    monkeypatch.setattr(dpo_exports, "_integrate_for_check",
                        lambda: "the integrator cannot sequence new entries (OperationalError)")
    with pytest.raises(Invalid) as info:
        dpo_exports.export_json(log["hub_dpo"])
    assert info.value.errors[""].startswith("The audit log cannot be exported now: the integrator cannot")
