"""The dashboard's episode figures, counted by one statement over the period's episodes (issue 22:
hub.reports.episode_figures.counts), are the figures the statement-per-figure code counted
(tests/reports/per_statement.py), over a random world: episodes at and a second either side of every
time limit, across the clock changes, open and found, across borders and not, for every filter and
for a whole-area and an authority's scope.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from bench import reports_per_statement as per_statement
from hub import db
from hub.missing.rules import LONG_EPISODE, PREVENTION_CHECK_WITHIN, RETURN_INTERVIEW_WITHIN, TRIGGER_PLAN_WITHIN
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.roles import OrgKind, Role
from hub.permissions import command_line_report_scope, report_scope
from hub.reports import figures
from hub.reports.query import ReportFilters, ReportQuery
from tests.factories import enrol, make_child, make_org, make_user
from tests.support.holders import note_episode_holders

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
YEAR = ReportFilters(date(2026, 1, 1), date(2026, 12, 31))
#: Around every limit: well within, exactly at it, a second over, well over.
NEAR = [timedelta(hours=-3), timedelta(0), timedelta(seconds=1), timedelta(hours=30)]


def _maybe(rng: random.Random, limit: timedelta, after: datetime | None, chance: float = 0.7) -> datetime | None:
    return after + limit + rng.choice(NEAR) if after is not None and rng.random() < chance else None


def _start(rng: random.Random) -> datetime:
    """Through 2026 and either side of it, often within an hour of a clock change or a month's end."""
    edges = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
             datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
             datetime(2026, 6, 30, 23, tzinfo=UTC)]
    if rng.random() < 0.3:
        return rng.choice(edges) + timedelta(seconds=rng.randint(-3600, 3600))
    return datetime(2025, 12, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 400 * 86400))


@pytest.fixture
def world(app):
    rng = random.Random(22)
    las = [make_org(OrgKind.childrens_social_care) for _ in range(3)]
    forces = [make_org(OrgKind.police) for _ in range(2)]
    schools = [make_org(OrgKind.school) for _ in range(2)]
    children = []
    for n in range(16):
        looked_after = rng.random() < 0.5
        child = make_child(given=f"Random{n}", dob=date(2009, 1, 1) + timedelta(days=rng.randint(0, 365 * 9)),
                           looked_after=looked_after, responsible_authority_id=rng.choice(las).id,
                           placing_authority_id=rng.choice(las).id if looked_after and rng.random() < 0.6 else None)
        enrol(child, rng.choice(schools), start=date(2026, rng.randint(1, 12), 1))
        children.append(child)
    with db.unit_of_work() as s:
        for n in range(110):
            start = _start(rng)
            found = start + LONG_EPISODE + rng.choice(NEAR) if rng.random() < 0.85 else None
            discussion = start + timedelta(hours=rng.randint(1, 40)) if rng.random() < 0.5 else None
            s.add(MissingEpisode(
                child_id=rng.choice(children).id, police_org_id=rng.choice(forces).id,
                police_reference=f"RAND/{n:04d}", reported_start=start, found_at=found,
                classification=rng.choice(list(Classification)), risk_grade=rng.choice(list(RiskGrade)),
                missing_from=rng.choice(list(MissingFrom)), source=EpisodeSource.manual,
                prevention_check_at=_maybe(rng, PREVENTION_CHECK_WITHIN, found),
                return_interview_offered_at=_maybe(rng, timedelta(hours=2), found, 0.4),
                return_interview_at=_maybe(rng, RETURN_INTERVIEW_WITHIN, found, 0.5),
                return_interview_declined=bool(found) and rng.random() < 0.2,
                iro_informed_at=_maybe(rng, LONG_EPISODE, start, 0.5),
                strategy_discussion_at=discussion, trigger_plan_at=_maybe(rng, TRIGGER_PLAN_WITHIN, discussion),
                home_authority_id=rng.choice(las).id if rng.random() < 0.9 else None,
                receiving_authority_id=rng.choice(las).id if rng.random() < 0.9 else None))
        note_episode_holders(s, [o for o in s.new if isinstance(o, MissingEpisode)])
    social_worker, _ = make_user(las[0], Role.social_worker)
    return dict(las=las, schools=schools, social_worker=social_worker)


def _old(q: ReportQuery) -> dict[str, figures.Figure]:
    t = per_statement.totals(q)
    return {"episodes-by-month": per_statement.episodes_by_month(q),
            "long-episodes": per_statement.long_episodes(q, t),
            "repeat-missing": per_statement.repeat_missing(q),
            "looked-after": per_statement.looked_after(q),
            "cross-border": per_statement.cross_border(q),
            "prevention-checks": per_statement.prevention_checks(q, t),
            "return-interviews": per_statement.return_interviews(q, t),
            "iro-told": per_statement.iro_told(q, t),
            "trigger-plans": per_statement.trigger_plans(q, t),
            "school-notifications": per_statement.school_notifications(q)}


def _filters(world) -> list[ReportFilters]:
    las, schools = world["las"], world["schools"]
    return [YEAR, ReportFilters(date(2025, 12, 1), date(2027, 1, 31)),
            ReportFilters(date(2026, 3, 29), date(2026, 3, 29)), ReportFilters(date(2026, 10, 1), date(2026, 10, 31)),
            replace(YEAR, authority_id=las[1].id),
            replace(YEAR, looked_after=True), replace(YEAR, looked_after=False), replace(YEAR, age_band="11_14"),
            replace(YEAR, age_band="15_17"), replace(YEAR, school_id=schools[0].id),
            replace(YEAR, authority_id=las[2].id, looked_after=True, age_band="10_and_under")]


@pytest.mark.parametrize("who", ["whole area", "an authority's social worker"])
def test_the_one_statement_counts_every_figure_as_the_statements_did(world, who):
    scope = command_line_report_scope() if who == "whole area" else report_scope(world["social_worker"])
    compared = 0
    for filters in _filters(world):
        new = {f.key: f for f in figures.dashboard(scope, filters, NOW)}
        old = _old(ReportQuery(scope, filters, NOW))
        for key, figure in old.items():
            assert new[key] == figure, (key, filters)
            compared += 1
        # Each figure alone (its download, the annual workbook) reads the same from its parts.
        for key, figure in old.items():
            assert figures.figure(scope, filters, key, NOW) == figure, (key, filters)
    assert compared == 10 * len(_filters(world))


def test_the_random_world_reaches_every_count(world):
    """Not a vacuous comparison: the year's figures have something in every count they compare."""
    t = per_statement.totals(ReportQuery(command_line_report_scope(), YEAR, NOW))
    assert all(n > 0 for n in t.values()), t
    assert 0 < t["checked_4h"] < t["checked"] and 0 < t["rhi_72h"] < t["rhi_done"]
    assert 0 < t["plans_on_time"] < t["plans_on_file"] and 0 < t["iro_24h"] < t["iro_told"]
    assert per_statement.cross_border(ReportQuery(command_line_report_scope(), YEAR, NOW)).rows


def _episode_statements(app, run) -> list[str]:
    """The SQL of each statement `run` sends that reads the episodes table."""
    engine = app.extensions["hub_engine"]
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        if "missing_episode" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


@pytest.mark.parametrize("who", ["whole area", "an authority's social worker"])
def test_the_dashboard_reads_the_episodes_in_two_statements_the_counts_reading_them_once(app, world, who):
    """Issue 22: the period's episodes are read by two statements (the counts, and the school
    notifications, which join each episode's notifications), where the statement-per-figure
    dashboard read them in seven; the counts statement names the episodes' tables no more often
    than the period's select itself does (the CTE, read by every GROUP BY, is the only read)."""
    scope = command_line_report_scope() if who == "whole area" else report_scope(world["social_worker"])
    filters = replace(YEAR, age_band="11_14")
    statements = _episode_statements(app, lambda: figures.dashboard(scope, filters, NOW))
    assert len(statements) == 2
    q = ReportQuery(scope, filters, NOW)
    assert len(_episode_statements(app, lambda: _old(q))) == 7
    one = next(s for s in statements if "UNION ALL" in s)
    assert "MATERIALIZED" in one and "notification" not in one
    reads_of_the_period = str(q._episode_select().compile(db.session().get_bind())).count("missing_episode")
    assert one.count("missing_episode") == reads_of_the_period
    # A figure alone: the same code, one statement per figure.
    for key in ("episodes-by-month", "looked-after", "cross-border", "trigger-plans", "school-notifications"):
        assert len(_episode_statements(app, lambda key=key: figures.figure(scope, filters, key, NOW))) == 1
