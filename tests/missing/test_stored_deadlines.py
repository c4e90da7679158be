"""The deadlines stored beside each episode (hub.missing.deadlines) are the ones the rules compute
(hub.missing.rules, as the episode's page assesses it), after every kind of change: a new episode
(which changes what is due for the child's earlier ones), a practitioner's update, closing (found),
a row of the police download or the API (new or bringing an episode up to date), the download's
bulk path; and the menu's count read from them is the count the rules give at any time."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub import db
from hub.audit import integrator as audit_integrator
from hub.db import utcnow
from hub.home import work_for
from hub.migrate import alembic_config
from hub.missing import dashboard as missing_dashboard
from hub.missing import deadlines, rules, service
from hub.missing import details as missing_details
from hub.missing import reading as episode_reading
from hub.missing.dashboard import RECENTLY_FOUND
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import Child
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, involve, make_child, make_org, make_user
from tests.support.holders import assert_every_held_child_is_noted

_references = itertools.count(1)
HOURS = st.integers(min_value=0, max_value=24 * 30)
RHI_AND_CONCERN = sorted(rules._RHI_FACTORS.keys() | rules._CONCERN_FACTORS | {"self_harm"})


def _reference() -> str:
    return f"MP/H/{next(_references):06d}"


def _details(start_hours_ago: int, found_after: int | None, classification: Classification,
             now: datetime) -> missing_details.EpisodeDetails:
    start = now - timedelta(hours=start_hours_ago, minutes=7)
    found = None if found_after is None else min(start + timedelta(hours=found_after), now)
    return missing_details.EpisodeDetails(police_reference=_reference(), reported_start=start,
                                  classification=classification, risk_grade=RiskGrade.medium,
                                  missing_from=MissingFrom.home, found_at=found)


# One change to an episode: the fields a practitioner's form, the download and the API change.
CHANGE = st.fixed_dictionaries({}, optional={
    "found_after": st.integers(min_value=0, max_value=24 * 10),
    "prevention_check_after": st.integers(min_value=0, max_value=12),
    "return_interview_offered_after": st.integers(min_value=0, max_value=100),
    "return_interview_after": st.integers(min_value=0, max_value=100),
    "return_interview_declined": st.booleans(),
    "iro_informed_after": st.integers(min_value=0, max_value=48),
    "strategy_discussion_after": st.integers(min_value=0, max_value=48),
    "trigger_plan_after": st.integers(min_value=0, max_value=24 * 10),
    "police_requested_meeting": st.booleans(),
    "risk_factors": st.sets(st.sampled_from(RHI_AND_CONCERN), max_size=3),
    "classification": st.sampled_from(Classification),
    "start_earlier": st.integers(min_value=1, max_value=48),
})

OPERATION = st.one_of(
    st.tuples(st.just("record"), st.integers(0, 2), HOURS, st.none() | st.integers(0, 96),
              st.sampled_from(Classification)),
    st.tuples(st.just("update"), st.integers(0, 50), CHANGE),
    st.tuples(st.just("download"), st.integers(0, 50), st.none() | st.integers(0, 96)),
    st.tuples(st.just("bulk"), st.lists(st.tuples(st.integers(0, 2), HOURS, st.none() | st.integers(0, 96)),
                                        min_size=1, max_size=4)),
)


def _changes(episode: MissingEpisode, change: dict, now: datetime) -> missing_details.EpisodeChanges:
    """Times after the episode's start (or found time), never in the future."""
    start = episode.reported_start - timedelta(hours=change.get("start_earlier", 0))
    values: dict[str, object] = {}
    if "start_earlier" in change:
        values["reported_start"] = start
    found = episode.found_at
    if "found_after" in change:
        found = min(max(start + timedelta(hours=change["found_after"]), found or start), now)
        values["found_at"] = found
    anchor = found or start
    for name in ("prevention_check", "return_interview_offered", "return_interview", "iro_informed",
                 "strategy_discussion", "trigger_plan"):
        if f"{name}_after" in change:
            values[f"{name}_at"] = min(anchor + timedelta(hours=change[f"{name}_after"]), now)
    for name in ("return_interview_declined", "police_requested_meeting", "risk_factors", "classification"):
        if name in change:
            values[name] = change[name]
    return missing_details.EpisodeChanges(**values)


def _computed(now: datetime) -> tuple[dict[int, dict[str, object]], int]:
    """Every episode's deadlines as the episode's page computes them (rules.assess), and the
    number of overdue duties the menu should show at `now` (the episodes on the missing list)."""
    session = db.session()
    session.expire_all()
    episodes = session.scalars(select(MissingEpisode)).all()
    children = {c.id: c for c in session.scalars(select(Child))}
    starts: dict[int, list[datetime]] = {}
    for e in episodes:
        starts.setdefault(e.child_id, []).append(e.reported_start)
    expected, overdue = {}, 0
    for e in episodes:
        assessment = rules.assess(e, children[e.child_id].looked_after, starts[e.child_id], now)
        due = {d.what: d.due_at for d in assessment.duties if d.done_at is None}
        first = min(due.items(), key=lambda item: (item[1], item[0]), default=(None, None))
        expected[e.id] = {**{column: due.get(what) for what, column in deadlines.DUE_COLUMNS.items()},
                          "next_due_at": first[1], "next_due": first[0]}
        if e.found_at is None or e.found_at >= now - RECENTLY_FOUND:
            overdue += len(assessment.overdue)
    return expected, overdue


def _stored() -> dict[int, dict[str, object]]:
    table = MissingEpisode.__table__
    rows = db.session().execute(select(table.c.id, *(table.c[name] for name in deadlines.STORED))).all()
    return {row.id: {name: getattr(row, name) for name in deadlines.STORED} for row in rows}


def _assert_stored_equals_computed(officer) -> None:
    now = utcnow()
    expected, _ = _computed(now)
    assert _stored() == expected
    for later in (timedelta(0), timedelta(hours=5), timedelta(days=4), timedelta(days=12), timedelta(days=20)):
        _, overdue = _computed(now + later)
        assert work_for(officer, now=now + later).overdue_duties == overdue, later


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=st.lists(OPERATION, min_size=1, max_size=6))
def test_the_stored_deadlines_are_the_rules_after_every_kind_of_change(world, operations):
    now = utcnow()
    children = []
    for looked_after in (False, True, False):
        child = make_child(responsible_authority_id=world.csc.id, looked_after=looked_after)
        enrol(child, world.school)
        involve(child, world.police)
        children.append(child.id)
    mine: list[int] = []
    for operation in operations:
        kind = operation[0]
        if kind == "record":
            _, which, hours, found_after, classification = operation
            mine.append(service.record_episode(world.officer, children[which],
                                               _details(hours, found_after, classification, now)).id)
        elif kind == "update" and mine:
            episode = db.session().get(MissingEpisode, mine[operation[1] % len(mine)])
            service.update_episode(world.worker, episode.id, _changes(episode, operation[2], now))
        elif kind == "download" and mine:
            # The force's record brings the episode up to date (found, or found later).
            episode = db.session().get(MissingEpisode, mine[operation[1] % len(mine)])
            found_after = operation[2]
            row = missing_details.EpisodeDetails(
                police_reference=episode.police_reference, reported_start=episode.reported_start,
                classification=episode.classification, risk_grade=RiskGrade.high, missing_from=MissingFrom.home,
                found_at=None if found_after is None else min(episode.reported_start + timedelta(hours=found_after),
                                                              now))
            with db.unit_of_work():
                service.apply_police_record(world.officer, world.police.id, episode.child_id, row,
                                            EpisodeSource.api)
        elif kind == "bulk":
            rows = [(children[which], _details(hours, found_after, Classification.missing, now))
                    for which, hours, found_after in operation[1]]
            with db.unit_of_work():
                made = service.create_episodes(world.officer, world.police.id, rows, EpisodeSource.police_download)
            mine += [m for m in made if isinstance(m, int)]
        _assert_stored_equals_computed(world.officer)
        assert_every_held_child_is_noted()  # the same one function notes the episodes' holders


def test_a_second_episode_makes_a_return_interview_due_for_the_first(world):
    """The rules read the child's other episodes: a write of one episode moves another's deadline."""
    now = utcnow()
    first = service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/1", reported_start=now - timedelta(hours=10), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home, found_at=now - timedelta(hours=8)))
    assert db.session().get(MissingEpisode, first.id).return_interview_due_at is None  # one short episode
    service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/2", reported_start=now - timedelta(hours=2), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home))
    db.session().expire_all()
    stored = db.session().get(MissingEpisode, first.id)
    assert stored.return_interview_due_at == first.found_at + rules.RETURN_INTERVIEW_WITHIN
    assert (stored.next_due_at, stored.next_due) == (first.found_at + rules.PREVENTION_CHECK_WITHIN,
                                                     rules.PREVENTION_CHECK)


def test_correcting_the_found_time_moves_the_stored_deadline_and_doing_the_duty_clears_it(world):
    now = utcnow()
    episode = service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/1", reported_start=now - timedelta(hours=10), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home, found_at=now - timedelta(hours=8)))
    assert work_for(world.officer).overdue_duties == 1
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=now - timedelta(hours=2)))
    assert episode.next_due_at == now - timedelta(hours=2) + rules.PREVENTION_CHECK_WITHIN
    assert work_for(world.officer).overdue_duties == 0
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(prevention_check_at=now))
    assert (episode.next_due_at, episode.next_due, episode.prevention_check_due_at) == (None, None, None)


@pytest.mark.parametrize("who", ["officer", "worker"])
def test_the_count_keeps_to_the_children_the_reader_may_see(world, who):
    now = utcnow()
    stranger = make_child(given="Other")  # no relationship with the force or the authority
    other_force = make_org(OrgKind.police)
    other_officer, _ = make_user(other_force, Role.police_officer)
    for child, officer in ((world.child, world.officer), (stranger, other_officer)):
        with db.unit_of_work():
            service.create_episodes(officer, officer.organisation_id, [(child.id, missing_details.EpisodeDetails(
                police_reference="MP/1", reported_start=now - timedelta(hours=10),
                classification=Classification.missing, risk_grade=RiskGrade.low, missing_from=MissingFrom.home,
                found_at=now - timedelta(hours=8)))], EpisodeSource.police_download)
    assert work_for(getattr(world, who)).overdue_duties == 1
    outsider, _ = make_user(world.school, Role.dsl)
    assert work_for(outsider).overdue_duties is None


def test_a_duty_is_overdue_only_after_its_due_time_as_the_rules_say(world):
    """The rules: overdue when `now` is after the due time. The count and the list say the same at
    the due time itself and just after it."""
    now = utcnow()
    found = now - timedelta(hours=5)
    episode = service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/1", reported_start=now - timedelta(hours=9), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home, found_at=found))
    due_at = found + rules.PREVENTION_CHECK_WITHIN
    for at, overdue in ((due_at, []), (due_at + timedelta(microseconds=1), [rules.PREVENTION_CHECK])):
        assert [d.what for d in episode_reading.assess(episode, at).overdue] == overdue
        assert work_for(world.officer, now=at).overdue_duties == len(overdue)
        [row] = missing_dashboard.dashboard(world.officer, now=at)
        assert row.overdue == overdue


def test_the_command_recomputes_stored_deadlines_left_by_older_rules(world, runner):
    now = utcnow()
    episode = service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/1", reported_start=now - timedelta(hours=9), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home, found_at=now - timedelta(hours=5)))
    with db.unit_of_work() as s:  # as if the rules had been different when it was written
        s.execute(MissingEpisode.__table__.update().values(next_due_at=None, prevention_check_due_at=None))
    assert work_for(world.officer).overdue_duties == 0
    result = runner.invoke(args=["missing", "deadlines"])
    assert result.exit_code == 0 and "1 episodes changed" in result.output, result.output
    assert work_for(world.officer).overdue_duties == 1
    assert _stored()[episode.id] == _computed(now)[0][episode.id]
    assert "0 episodes changed" in runner.invoke(args=["missing", "deadlines"]).output


def test_the_migration_fills_the_deadlines_of_episodes_recorded_before_it(app, world):
    now = utcnow()
    first = service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/1", reported_start=now - timedelta(hours=30), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home, found_at=now - timedelta(hours=20)))
    service.record_episode(world.officer, world.child.id, missing_details.EpisodeDetails(
        police_reference="MP/2", reported_start=now - timedelta(hours=3), classification=Classification.missing,
        risk_grade=RiskGrade.low, missing_from=MissingFrom.home))
    expected = _stored()
    assert expected[first.id]["return_interview_due_at"] is not None  # a second episode: the interview is due
    audit_integrator.integrate_all()  # downgrading past 0016 needs every audit entry sequenced
    db.session.remove()
    command.downgrade(alembic_config(app), "0020")
    command.upgrade(alembic_config(app), "head")
    assert _stored() == expected == _computed(now)[0]
    assert work_for(world.officer).overdue_duties == 1  # the prevention check of the first
