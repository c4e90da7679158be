"""No page costs more as the hub's open episodes grow (issue 22): the home page, the missing list and
a page that only carries the menu run the same SQL statements with one open episode as with
thousands, load no more episodes than they show, and show the right overdue count in both worlds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from hub import db
from hub.db import utcnow
from hub.missing import deadlines, service
from hub.missing import details as missing_details
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import Notification
from hub.models.roles import OrgKind, Role
from hub.permissions import addressed_to
from hub.permissions.children import visible_child_ids
from tests.factories import enrol, involve, make_child, make_org, make_user, sign_in
from tests.support.statements import page_statements

LARGE = 3000
PAGES = ["/", "/missing", "/children"]
#: The most episodes a page may load: the missing list shows at most 200 (hub.missing.dashboard.dashboard).
SHOWN = {"/": 0, "/children": 0, "/missing": 200}


@pytest.fixture
def world(app):
    la, school, police = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school), make_org(OrgKind.police)
    children = []
    for n in range(20):
        child = make_child("Many", f"Episodes{n}", responsible_authority_id=la.id, looked_after=n % 4 == 0)
        enrol(child, school)
        involve(child, police, "missing-person record")
        children.append(child.id)
    people = {"worker": make_user(la, Role.social_worker), "officer": make_user(police, Role.police_officer)}
    return dict(la=la, school=school, police=police, children=children,
                secrets={name: secret for name, (_, secret) in people.items()},
                **{name: user for name, (user, _) in people.items()})


def _one_overdue_episode(world) -> None:
    """A looked-after child missing for 30 hours, the IRO not told: one open episode, one overdue duty."""
    now = utcnow()
    service.record_episode(world["officer"], world["children"][0], missing_details.EpisodeDetails(
        police_reference="MP/ONE", reported_start=now - timedelta(hours=30), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home))


def _many_open_episodes(world, count: int) -> int:
    """A backlog of episodes never closed, loaded fast: the rows inserted in bulk, then their
    deadlines through the one function every write path calls. Returns the overdue duties added
    (one each for the looked-after children's episodes: the IRO told within a day)."""
    now = utcnow()
    children = world["children"]
    rows = [dict(child_id=children[n % len(children)], police_org_id=world["police"].id,
                 police_reference=f"MP/OPEN/{n:05d}", reported_start=now - timedelta(days=3, minutes=n),
                 classification=Classification.missing, risk_grade=RiskGrade.low, missing_from=MissingFrom.home,
                 source=EpisodeSource.police_download, return_interview_declined=False,
                 police_requested_meeting=False, risk_factors="", push_factors="", pull_factors="")
            for n in range(count)]
    # A bulk insert on purpose (not tests/factories.py's report_episode): hundreds of open
    # episodes are only the setup of a page whose cost is measured, and the service takes a
    # transaction, an audit event and a notice route per row.
    with db.unit_of_work() as s:
        s.execute(insert(MissingEpisode.__table__), rows)
        deadlines.refresh_children(s, children)
    return sum(1 for n in range(count) if n % len(children) % 4 == 0)


def _client(app, world, who: str):
    client = app.test_client()
    sign_in(client, world[who], world["secrets"][who])
    for url in PAGES:  # the first views after signing in may note the session's last sight
        client.get(url)
    return client


def _cost(app, client, url: str) -> tuple[list[str], int, str]:
    """The statements one GET runs, the episodes it loads as objects, and the page."""
    loaded: list[object] = []

    def load(_session, instance) -> None:
        if isinstance(instance, MissingEpisode):
            loaded.append(instance)

    event.listen(Session, "loaded_as_persistent", load)
    try:
        seen, page = page_statements(app, client, url)
    finally:
        event.remove(Session, "loaded_as_persistent", load)
    return seen, len(loaded), page


def _overdue_on(page: str) -> int:
    found = re.search(r"<strong>(\d+)</strong> overdue dut", re.sub(r"\s+", " ", page))
    assert found, "no overdue count on the home page"
    return int(found.group(1))


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("who", ["officer", "worker"])
def test_a_page_runs_the_same_statements_with_one_open_episode_as_with_thousands(app, world, who, url):
    _one_overdue_episode(world)
    client = _client(app, world, who)
    few, _, small_page = _cost(app, client, url)
    added = _many_open_episodes(world, LARGE)
    many, loaded, large_page = _cost(app, client, url)
    assert len(many) == len(few), "\n".join(" ".join(s.split())[:160] for s in many)
    assert loaded <= SHOWN[url]  # the menu loads none: it reads a count
    if url == "/":
        assert _overdue_on(small_page) == 1 and _overdue_on(large_page) == 1 + added
    assert f"Missing ({1 + added})" in large_page


@pytest.mark.parametrize("who", ["officer", "worker"])
def test_the_menu_count_is_a_single_statement(app, world, who):
    """The overdue count reads the stored deadlines: one statement, which never names the rules'
    inputs (the child's other episodes, whether looked after)."""
    _one_overdue_episode(world)
    _many_open_episodes(world, 50)
    client = _client(app, world, who)
    seen, _ = page_statements(app, client, "/children")
    counts = [s for s in seen if "next_due_at" in s]
    assert len(counts) == 1 and "looked_after" not in counts[0], counts


def test_the_menu_counts_waiting_notifications_from_an_index_not_the_users_history(app, world):
    """A key adult's "Notifications (n)" reads the copies not yet acknowledged through
    (user_id, acknowledged_at): years of acknowledged notifications are not read to count them."""
    dsl, _ = make_user(world["school"], Role.dsl)
    query = select(func.count()).select_from(Notification).where(
        addressed_to(dsl), Notification.acknowledged_at.is_(None))
    with db.unit_of_work() as s:
        connection = s.connection()
        if connection.dialect.name != "sqlite":
            pytest.skip("PostgreSQL plans an empty table by cost (either index); SQLite shows the index it takes")
        compiled = query.compile(dialect=connection.dialect)
        plan = [row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[k] for k in compiled.positiontup))]
    assert any("ix_notification_user_waiting" in line for line in plan), plan


def test_a_social_workers_reach_finds_their_authoritys_episodes_by_index_not_by_reading_all(app, world):
    """Every page of a social worker filters by their reach, which includes the episodes their
    authority is home or receiving authority for and the shares it sent or received: read from the
    children it has held (`child_holder`, by its key), each probed by the child's own index, never
    a scan of every episode or share in the hub, nor of every one of the authority's."""
    query = select(visible_child_ids(world["worker"]).subquery())
    with db.unit_of_work() as s:
        connection = s.connection()
        if connection.dialect.name != "sqlite":
            pytest.skip("PostgreSQL plans an empty table by cost; SQLite shows the indexes it takes")
        compiled = query.compile(dialect=connection.dialect)
        plan = [row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[k] for k in compiled.positiontup))]
    assert not [line for line in plan if line.startswith("SCAN")], plan
    assert any(line.startswith("SEARCH child_holder USING") and "(organisation_id=?)" in line for line in plan), plan
    probes = [line for line in plan if line.startswith(("SEARCH missing_episode", "SEARCH share_record"))]
    assert probes and all("child" in line for line in probes), plan
