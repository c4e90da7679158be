"""The retention world for tests that destroy records (tests/retention/): two children's social care
authorities, a school and a police force, their workers, managers and DPOs, and one child of the
first authority known to the second and to the force. The same world as
tests/retention/test_retention.py builds for itself, here for the other modules of tests/retention
(a test module is never imported: tests/test_honest_tests.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update

from hub import db
from hub.db import unit_of_work, utcnow
from hub.models.auth import Organisation, User
from hub.models.people import Child
from hub.models.retention import RecordClass, RetentionRecord
from hub.models.roles import OrgKind, Role
from hub.retention.rules import london_day
from tests.factories import involve, make_child, make_org, make_user

HOLD_REASON = "Marked-hold-reason-Quimby-inquiry"


@dataclass
class People:
    user: User
    secret: str


@dataclass
class World:
    la1: Organisation
    la2: Organisation
    school: Organisation
    force: Organisation
    worker1: User
    manager1: User
    worker2: User
    manager2: User
    officer: User
    dpo1: People
    dpo2: People
    admin: People
    practitioner: People
    child: Child


def build_world() -> World:
    la1, la2 = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    school, force, host = make_org(OrgKind.school), make_org(OrgKind.police), make_org(OrgKind.mace_host)
    child = make_child(given="Rowena", family="Threlkeld", dob=date(2010, 5, 17), responsible_authority_id=la1.id)
    for org in (la2, force):
        involve(child, org)
    (worker1, _), (manager1, _) = make_user(la1, Role.social_worker), make_user(la1, Role.social_worker)
    (worker2, _), (manager2, _) = make_user(la2, Role.social_worker), make_user(la2, Role.social_worker)
    officer, _ = make_user(force, Role.police_officer)
    dpo1, dpo2 = People(*make_user(la1, Role.dpo)), People(*make_user(la2, Role.dpo))
    admin = People(*make_user(host, Role.hub_admin))
    practitioner = People(*make_user(la1, Role.social_worker))
    return World(la1, la2, school, force, worker1, manager1, worker2, manager2, officer, dpo1, dpo2, admin,
                 practitioner, child)


def retention_of(record_class: RecordClass, record_id: int) -> RetentionRecord:
    return db.session().scalar(select(RetentionRecord).where(RetentionRecord.record_class == record_class,
                                                             RetentionRecord.record_id == record_id))


def make_due(*records: RetentionRecord) -> None:
    with unit_of_work():
        db.session().execute(update(RetentionRecord).where(RetentionRecord.id.in_([r.id for r in records]))
                             .values(review_on=date.today() - timedelta(days=1)))
    for record in records:
        record.review_on = date.today() - timedelta(days=1)  # as stored (no reload: it may be detached)


def today() -> date:
    return london_day(utcnow())
