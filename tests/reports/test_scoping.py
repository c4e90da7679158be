"""Every figure counts only what its viewer may see: a force its episodes, an authority its
children and the episodes naming it, a school its pupils, a MACE chair their groups, the analyst
the whole area (and never a child's record); anyone else has no reports at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import Forbidden, NotFound
from hub.models.audit import AuditEvent
from hub.models.people import BreakGlassCategory
from hub.people import service as people
from hub.permissions import aggregate_only, child_access, report_scope, visible_child_ids
from hub.reports import figures, service
from tests.factories import sign_in
from tests.reports.picture import NOW, YEAR
from tests.support.mace import name_member

#: Per viewer, each episode figure's first column, hand-counted from tests/reports/picture.py:
#: episodes, over 24 h, children (1+, 2+, 3+, 5+), looked-after (children, episodes), found/checked/4 h,
#: RHI (found, offered, done, 72 h, declined), IRO (episodes, told, 24 h), plans (due, on file,
#: on time, late), school notifications (sent, acknowledged, in time, escalated).
EXPECTED = {
    "analyst": dict(episodes=13, over=2, children=[5, 4, 2, 1], la=[2, 5], checks=[12, 3, 2], rhi=[12, 4, 3, 2, 1],
                    iro=[5, 2, 1], plans=[3, 2, 1, 2], notes=[3, 2, 1, 1]),
    # P1: E1 E2 E3 E5 E8 and c5's five.
    "officer_1": dict(episodes=10, over=1, children=[4, 3, 1, 1], la=[1, 2], checks=[10, 3, 2], rhi=[10, 4, 3, 2, 1],
                      iro=[2, 2, 1], plans=[2, 2, 1, 1], notes=[2, 1, 1, 1]),
    # P2: E4 E6 E9.
    "officer_2": dict(episodes=3, over=1, children=[2, 1, 0, 0], la=[2, 3], checks=[2, 0, 0], rhi=[2, 0, 0, 0, 0],
                      iro=[3, 0, 0], plans=[1, 0, 0, 1], notes=[1, 1, 0, 0]),
    # B: its child c3 (E6, E9) and E3, found in B.
    "sw_b": dict(episodes=3, over=0, children=[2, 1, 0, 0], la=[2, 3], checks=[3, 0, 0], rhi=[3, 1, 1, 0, 0],
                 iro=[3, 1, 1], plans=[1, 1, 0, 1], notes=[1, 1, 0, 0]),
    # A: every episode but E9 (c3's, in B).
    "sw_a": dict(episodes=12, over=2, children=[5, 3, 2, 1], la=[2, 4], checks=[11, 3, 2], rhi=[11, 4, 3, 2, 1],
                 iro=[4, 2, 1], plans=[3, 2, 1, 2], notes=[3, 2, 1, 1]),
}
# A school counts no episode: its reports are its own notifications (tests/reports/test_school_reports.py).


def _first_column(figure) -> list:
    return [row[1] for row in figure.rows]


def _seen(world, who: str) -> dict:
    shown = {f.key: f for f in figures.dashboard(report_scope(world.user(who)), YEAR, NOW)}
    la = shown["looked-after"].rows[0]
    return dict(
        episodes=sum(row[-1] for row in shown["episodes-by-month"].rows),
        over=shown["long-episodes"].rows[1][1], children=_first_column(shown["repeat-missing"]), la=[la[1], la[2]],
        checks=_first_column(shown["prevention-checks"]), rhi=_first_column(shown["return-interviews"]),
        iro=_first_column(shown["iro-told"]), plans=_first_column(shown["trigger-plans"]),
        notes=_first_column(shown["school-notifications"]))


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_viewer_counts_only_their_own_part_of_every_episode_figure(picture, who):
    assert _seen(picture, who) == EXPECTED[who]


@pytest.mark.parametrize("who", ["officer_1", "sw_a", "sw_b", "dsl_1"])
def test_practitioners_see_no_mace_figures(picture, who):
    keys = {f.key for f in figures.dashboard(report_scope(picture.user(who)), YEAR, NOW)}
    assert not keys & set(figures.MACE_FIGURES)


def test_a_mace_chair_sees_only_their_groups_mace_figures(picture):
    shown = {f.key: f for f in figures.dashboard(report_scope(picture.user("chair")), YEAR, NOW)}
    assert set(shown) == set(figures.MACE_FIGURES)
    assert {r[0]: r[1] for r in shown["mace-risk"].rows} == {"High": 1, "Medium": 1}  # G's c1 and c2, not H's c3
    assert _first_column(shown["mace-actions"]) == [4, 1, 1, 2]  # not H's overdue action
    other = {f.key: f for f in figures.dashboard(report_scope(picture.user("chair_h")), YEAR, NOW)}
    assert {r[0]: r[1] for r in other["mace-risk"].rows} == {"High": 1}
    assert _first_column(other["mace-actions"]) == [1, 1, 0, 0]


@pytest.mark.parametrize("who", ["dpo", "admin"])
def test_anyone_else_has_no_reports_and_the_refusal_is_audited(picture, who):
    user = picture.user(who)
    assert report_scope(user) is None
    with pytest.raises(NotFound):
        service.dashboard(user, YEAR)
    refused = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.outcome == "refused")).all()
    assert [(e.object_type, e.object_id) for e in refused] == [("report", "dashboard")]


def test_the_analyst_has_no_route_to_any_child(picture):
    analyst = picture.user("analyst")
    assert aggregate_only(analyst)
    assert not any(child_access(analyst, c.id) for c in picture.children.values())
    assert db.session().scalars(visible_child_ids(analyst)).all() == []
    with pytest.raises(NotFound):
        people.get_child(analyst, picture.children["c1"].id, purpose="view record")


def test_the_analyst_named_on_a_mace_group_still_reaches_no_child(picture):
    analyst = picture.user("analyst")
    name_member(picture.groups["G"], analyst)
    assert not child_access(analyst, picture.children["c1"].id)


@pytest.mark.parametrize("path", ["/children/{c1}", "/missing/{e1}", "/missing/profile/{c1}"])
def test_the_analyst_cannot_open_a_childs_pages(picture, client, path):
    sign_in(client, *picture.users["analyst"])
    url = path.format(c1=picture.children["c1"].id, e1=picture.episodes["E1"].id)
    assert client.get(url).status_code in (403, 404)


def test_the_analyst_cannot_break_the_glass(picture):
    with pytest.raises((NotFound, Forbidden)):
        people.break_glass(picture.user("analyst"), picture.children["c1"].id, BreakGlassCategory.other,
                           "I need to see this record now")


def test_a_practitioner_may_still_open_the_child_the_analyst_may_not(picture, client):
    sign_in(client, *picture.users["sw_a"])
    assert client.get(f"/children/{picture.children['c1'].id}").status_code == 200


def test_the_analysts_menu_offers_reports_but_no_childrens_records(picture, client):
    sign_in(client, *picture.users["analyst"])
    menu = client.get("/").get_data(as_text=True).split('aria-label="Menu"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/reports"' in menu
    assert 'href="/children"' not in menu and 'href="/sharing"' not in menu
