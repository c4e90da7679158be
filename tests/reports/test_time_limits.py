"""Every time limit of the figures, at its exact boundary: a time exactly at the limit counts as
within it, one second later does not, on SQLite and PostgreSQL alike (times are compared in whole
seconds: hub.reports.sqltime.seconds_between).

| limit                                   | within                               |
|-----------------------------------------|--------------------------------------|
| prevention check                        | 4 hours after the return             |
| return home interview                   | 72 hours after the return            |
| Independent Reviewing Officer told      | 24 hours after the start             |
| trigger plan                            | 7 days after the strategy discussion |
| a long episode ("over 24 hours")        | found more than 24 hours after the start |

The starts run through a day at uneven minutes and seconds: SQLite's julianday (a floating-point
day) put many of these exact limits a hair over (the issue found 74 of 117 four-hour checks
counted).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.missing.rules import LONG_EPISODE, PREVENTION_CHECK_WITHIN, RETURN_INTERVIEW_WITHIN, TRIGGER_PLAN_WITHIN
from hub.models.roles import OrgKind
from hub.permissions import command_line_report_scope
from hub.reports import episode_figures
from hub.reports.query import ReportFilters, ReportQuery
from tests.factories import make_child, make_org
from tests.reports.world import add_episode

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MARCH = ReportFilters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 28))
#: 24 starts through 2 March 2026 (GMT), at uneven minutes and seconds.
STARTS = [datetime(2026, 3, 2, hour, (hour * 7) % 60, (hour * 13) % 60, tzinfo=UTC) for hour in range(24)]


def _episodes(late: timedelta) -> None:
    """One looked-after child's episode per start, every limit met exactly (`late` zero) or
    missed by `late`."""
    authority, police = make_org(OrgKind.childrens_social_care), make_org(OrgKind.police)
    child = make_child(looked_after=True, responsible_authority_id=authority.id)
    for n, start in enumerate(STARTS):
        found = start + LONG_EPISODE + late  # exactly 24 hours: not a long episode
        discussion = found + timedelta(minutes=17 * n + 1, seconds=n)
        add_episode(child, police, start, found,
                    prevention_check_at=found + PREVENTION_CHECK_WITHIN + late,
                    return_interview_at=found + RETURN_INTERVIEW_WITHIN + late,
                    iro_informed_at=start + LONG_EPISODE + late,
                    strategy_discussion_at=discussion, trigger_plan_at=discussion + TRIGGER_PLAN_WITHIN + late)


def _totals() -> dict[str, int]:
    return episode_figures.totals(ReportQuery(command_line_report_scope(), MARCH, NOW))


def test_exactly_at_every_limit_counts_as_within_it(app):
    _episodes(timedelta(0))
    t = _totals()
    n = len(STARTS)
    assert (t["episodes"], t["found"], t["looked_after"], t["plans_due"]) == (n, n, n, n)
    assert t["checked_4h"] == n, "prevention checks exactly 4 hours after the return"
    assert t["rhi_72h"] == n, "return interviews exactly 72 hours after the return"
    assert t["iro_24h"] == n, "the IRO told exactly 24 hours after the start"
    assert t["plans_on_time"] == n and t["plans_late"] == 0, "trigger plans exactly 7 days after the discussion"
    assert t["over_24h"] == 0, "episodes of exactly 24 hours"


@pytest.mark.parametrize("late", [timedelta(seconds=1), timedelta(minutes=1)])
def test_a_second_past_every_limit_is_outside_it(app, late):
    _episodes(late)
    t = _totals()
    n = len(STARTS)
    assert (t["checked"], t["rhi_done"], t["iro_told"], t["plans_on_file"]) == (n, n, n, n)
    assert (t["checked_4h"], t["rhi_72h"], t["iro_24h"], t["plans_on_time"]) == (0, 0, 0, 0)
    assert t["plans_late"] == n and t["over_24h"] == n
