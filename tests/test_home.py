"""The home page is each user's work: counts from hub/home.py, the same counts in the menu."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from hub import db
from hub.db import utcnow
from hub.home import work_for
from hub.missing import service as missing
from hub.models.audit import AuditEvent, AuditFlag
from hub.models.auth import User
from hub.models.missing import ImportBatch, ImportReviewItem, ImportStatus, ReviewStatus
from hub.models.roles import ROLES_FOR_KIND, OrgKind, Role
from hub.permissions import may_search_children
from tests.factories import episode_details, make_org, make_user, sign_in


def _client_for(app, user: User):
    secret = pyotp.random_base32()
    with db.unit_of_work():
        db.session().get(User, user.id).totp_secret = secret
    client = app.test_client()
    sign_in(client, db.session().get(User, user.id), secret)
    return client


def _home(client) -> str:
    return re.sub(r"\s+", " ", client.get("/").get_data(as_text=True))


def test_a_dsl_with_two_new_notifications_sees_two_on_the_home_page_and_in_the_menu(app, world):
    missing.record_episode(world.officer, world.child.id, episode_details())
    missing.record_episode(world.officer, world.child.id, episode_details(police_reference="MP/26/0002"))
    assert work_for(world.dsl).notifications == 2
    page = _home(_client_for(app, world.dsl))
    assert 'data-testid="work-notifications"' in page and "<strong>2</strong> notifications" in page
    assert "Notifications (2)" in page
    assert "overdue" not in page.lower() and "open flag" not in page  # another role's work is not shown
    assert "Test Child" not in page  # counts only, no names


def test_the_home_page_count_reads_no_personal_data_so_it_writes_no_audit_event(app, world):
    missing.record_episode(world.officer, world.child.id, episode_details())
    client = _client_for(app, world.dsl)
    before = db.session().scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    client.get("/")
    after = db.session().scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
    assert [e.object_type for e in after if e.action == "read"] == []


def test_police_see_their_forces_review_queue_and_overdue_duties(app, world):
    other_force = make_org(OrgKind.police)
    with db.unit_of_work() as s:
        for force, waiting in ((world.police, 3), (other_force, 2)):
            batch = ImportBatch(police_org_id=force.id, filename="d.xlsx", sha256="0" * 64, status=ImportStatus.done)
            s.add(batch)
            s.flush()
            for n in range(waiting):
                s.add(ImportReviewItem(batch_id=batch.id, row_number=n + 2, police_org_id=force.id,
                                       police_reference=f"MP/{n}", row_data="{}", status=ReviewStatus.waiting))
    # Found five hours ago with no safe and well check: one overdue duty (the 4-hour check).
    missing.record_episode(world.officer, world.child.id, episode_details(
        reported_start=utcnow() - timedelta(hours=9), found_at=utcnow() - timedelta(hours=5)))
    work = work_for(world.officer)
    assert (work.review_queue, work.overdue_duties, work.notifications, work.open_flags) == (3, 1, None, None)
    page = _home(_client_for(app, world.officer))
    assert 'data-testid="work-review-queue"' in page and "<strong>3</strong> rows" in page
    assert "<strong>1</strong> overdue duty" in page and "Missing (4)" in page
    assert work_for(world.worker).overdue_duties == 1 and work_for(world.worker).review_queue is None


def test_a_dpo_sees_the_open_flags_of_their_scope(app):
    host, school = make_org(OrgKind.mace_host), make_org(OrgKind.school)
    dpo, secret = make_user(school, Role.dpo)
    with db.unit_of_work() as s:
        s.add_all([AuditFlag(kind="volume", event_seq=n, reason="test", actor_org_id=school.id) for n in (1, 2)])
        s.add(AuditFlag(kind="volume", event_seq=3, reason="test", actor_org_id=host.id))
        s.add(AuditFlag(kind="volume", event_seq=4, reason="test", actor_org_id=school.id, status="closed"))
    assert work_for(dpo).open_flags == 2
    client = app.test_client()
    sign_in(client, dpo, secret)
    page = _home(client)
    assert "<strong>2</strong> open flags" in page and "Audit (2)" in page


def _main_links(page: str) -> set[str]:
    main = page.split('id="main-content"', 1)[1].split("</main>", 1)[0]
    return {href.replace("&amp;", "&") for href in re.findall(r'href="(/[^"#]*)"', main)}


#: One user of each role in each kind of organisation that may hold it.
ONE_OF_EACH_ROLE = sorted({(kind, role) for kind, roles in ROLES_FOR_KIND.items() for role in roles},
                          key=lambda pair: (pair[1].value, pair[0].value))


@pytest.mark.parametrize("kind,role", ONE_OF_EACH_ROLE, ids=lambda v: v.value)
def test_every_section_of_each_roles_home_page_is_one_it_can_use(app, kind, role):
    user, _ = make_user(make_org(kind), role)
    client = _client_for(app, user)
    page = client.get("/").get_data(as_text=True)
    for href in sorted(_main_links(page)):
        assert client.get(href).status_code == 200, f"{role.value} of a {kind.value} is offered {href}"
    assert ('href="/children"' in page) is may_search_children(user)


def test_the_analyst_is_offered_the_figures_and_never_find_a_child(app):
    analyst, _ = make_user(make_org(OrgKind.childrens_social_care), Role.analyst)
    page = _client_for(app, analyst).get("/").get_data(as_text=True)
    assert "/children" not in page and "Find a child" not in page
    assert 'data-testid="home-reports"' in page
    worker, _ = make_user(make_org(OrgKind.childrens_social_care), Role.social_worker)
    assert 'data-testid="home-children"' in _client_for(app, worker).get("/").get_data(as_text=True)
