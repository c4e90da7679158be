"""The per-request access cache (issue 13): a request answers "may this user see this child" once
per (user, child), and any change of a relationship in that request (through a service, a bulk
statement, a change not yet flushed, or a rollback) makes the next check ask the database again."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select

from hub import db
from hub.models.people import BreakGlassCategory, BreakGlassGrant, Enrolment
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from hub.permissions import child_access, child_bases
from hub.sharing import recipients as share_recipients
from hub.sharing import service as sharing
from tests.factories import enrol, make_child, make_org, make_user
from tests.support.sharing import draft


@pytest.fixture
def world(app):
    la, school, other_school = (make_org(OrgKind.childrens_social_care), make_org(OrgKind.school),
                                make_org(OrgKind.school))
    health, host = make_org(OrgKind.health), make_org(OrgKind.mace_host)
    child = make_child("Cached", "Access", responsible_authority_id=la.id)
    enrol(child, school, start=date(2024, 9, 1))
    return dict(la=la, school=school, health=health, child=child,
                worker=make_user(la, Role.social_worker)[0], manager=make_user(la, Role.social_worker)[0],
                dsl=make_user(school, Role.dsl)[0], other_dsl=make_user(other_school, Role.dsl)[0],
                nurse=make_user(health, Role.health_practitioner)[0], admin=make_user(host, Role.hub_admin)[0])


class Statements:
    """Counts the SQL statements run while it is open."""

    def __init__(self, app):
        self.engine, self.count = app.extensions["hub_engine"], 0

    def _bump(self, *_args) -> None:
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._bump)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._bump)


def _enrolment(world) -> Enrolment:
    return db.session().scalar(select(Enrolment).where(Enrolment.child_id == world["child"].id))


def _end_enrolment_elsewhere(app, world) -> None:
    """End the enrolment as another process would: on a connection of its own, unseen by this
    process's session and cache (no request context is active)."""
    with app.extensions["hub_engine"].connect() as conn:
        conn.exec_driver_sql(f"UPDATE enrolment SET end_date = CURRENT_DATE WHERE child_id = {world['child'].id}")
        conn.commit()


def test_a_request_asks_the_database_once_per_user_and_child(app, world):
    with app.test_request_context("/"):
        assert child_access(world["dsl"], world["child"].id).basis == "enrolment"
        with Statements(app) as seen:
            for _ in range(5):
                assert child_access(world["dsl"], world["child"].id).basis == "enrolment"
            assert child_bases(world["dsl"], [world["child"].id]) == {world["child"].id: "enrolment"}
        assert seen.count == 0


def test_access_ends_within_the_request_when_the_enrolment_is_ended_through_the_service(app, world):
    with app.test_request_context("/"):
        assert child_access(world["dsl"], world["child"].id)
        people.end_enrolment(world["admin"], _enrolment(world).id, date.today())
        assert not child_access(world["dsl"], world["child"].id)
        assert child_bases(world["dsl"], [world["child"].id]) == {}


def test_access_ends_within_the_request_on_a_change_not_yet_flushed(app, world):
    with app.test_request_context("/"):
        assert child_access(world["dsl"], world["child"].id)
        _enrolment(world).end_date = date.today()  # pending in the session: no statement has run
        assert not child_access(world["dsl"], world["child"].id)
        db.session().rollback()
        assert child_access(world["dsl"], world["child"].id)  # rolled back: the enrolment stands


def test_access_ends_within_the_request_when_a_share_is_revoked_by_a_bulk_delete(app, world):
    share = sharing.create_share(world["worker"], draft(world, recipient_org_ids=[world["health"].id]))
    with app.test_request_context("/"):
        assert child_access(world["nurse"], world["child"].id).basis == "share-received"
        share_recipients.revoke(world["worker"], share.id, world["health"].id, "Sent to the wrong service")
        assert not child_access(world["nurse"], world["child"].id)


def test_a_grant_that_rolls_back_is_not_remembered(app, world):
    with app.test_request_context("/"):
        assert not child_access(world["other_dsl"], world["child"].id)
        with pytest.raises(RuntimeError), db.unit_of_work() as s:
            s.add(BreakGlassGrant(user_id=world["other_dsl"].id, child_id=world["child"].id, reason="testing",
                                  category=BreakGlassCategory.other, expires_at=db.utcnow().replace(year=2999)))
            s.flush()
            assert child_access(world["other_dsl"], world["child"].id).basis == "break-glass"
            raise RuntimeError("the rest of the change failed")
        assert not child_access(world["other_dsl"], world["child"].id)


def test_the_cache_is_not_shared_between_users(app, world):
    with app.test_request_context("/"):
        assert child_access(world["dsl"], world["child"].id)
        assert not child_access(world["other_dsl"], world["child"].id)
        assert child_bases(world["other_dsl"], [world["child"].id]) == {}


def test_the_cache_is_not_shared_between_requests_even_in_one_application_context(app, world):
    with app.app_context():  # held across both requests, as a shell or a test might: one `g`
        with app.test_request_context("/"):
            assert child_access(world["dsl"], world["child"].id)
        db.session().rollback()  # the next request works in a transaction of its own
        _end_enrolment_elsewhere(app, world)
        with app.test_request_context("/"):
            assert not child_access(world["dsl"], world["child"].id)


def test_outside_a_request_nothing_is_cached(app, world):
    assert child_access(world["dsl"], world["child"].id)
    db.session().rollback()
    _end_enrolment_elsewhere(app, world)
    assert not child_access(world["dsl"], world["child"].id)
