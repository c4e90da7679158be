"""Every figure of the reports dashboard, counted in SQL over what the viewer may see.

`dashboard(scope, filters)` computes them all with a fixed number of statements, whatever the
size of the data: one for every episode figure, one per MACE figure. `figure(scope, filters, key)`
computes one, for its CSV or xlsx download, from the same statement. Neither writes anything or audits:
hub.reports.service does both. The definitions are in hub.reports.query.
"""

from __future__ import annotations

from datetime import datetime

from hub.db import london_today, utcnow
from hub.permissions import ReportScope
from hub.reports import episode_figures as ep
from hub.reports import mace_figures as mace
from hub.reports.query import AGE_BANDS, Figure, ReportFilters, ReportQuery

__all__ = ["AGE_BANDS", "EPISODE_FIGURES", "MACE_FIGURES", "Figure", "ReportFilters", "ReportQuery",
           "dashboard", "figure", "london_today"]

#: In the dashboard's order.
EPISODE_FIGURES = ["episodes-by-month", "long-episodes", "repeat-missing", "looked-after", "cross-border",
                   "prevention-checks", "return-interviews", "iro-told", "trigger-plans", "school-notifications"]
MACE_FIGURES = ["mace-risk", "mace-actions", "mace-outcomes"]


def _mace_figure(q: ReportQuery, key: str) -> Figure:
    if key == "mace-risk":
        return mace.children_by_risk(q)
    if key == "mace-actions":
        return mace.actions(q, london_today(q.now))
    return mace.outcomes(q)


def dashboard(scope: ReportScope, filters: ReportFilters, now: datetime | None = None) -> list[Figure]:
    """Every figure the scope allows, in the dashboard's order."""
    q = ReportQuery(scope, filters, now or utcnow())
    figures: list[Figure] = []
    if q.counts_episodes:
        # Every episode figure from one statement (hub.reports.episode_figures.counts).
        counts = ep.counts(q)
        figures.extend(ep.FROM_COUNTS[key][0](q, counts) for key in EPISODE_FIGURES)
    elif scope.school_notifications is not None:
        figures.append(ep.own_school_notifications(q))
    if q.counts_mace:
        figures.extend(_mace_figure(q, key) for key in MACE_FIGURES)
    return figures


def available(scope: ReportScope) -> list[str]:
    """The figure keys a scope has: a school's reports only its own notifications."""
    if scope.episodes is not None:
        episodes = EPISODE_FIGURES
    else:
        episodes = [SCHOOL_FIGURE] if scope.school_notifications is not None else []
    return episodes + (MACE_FIGURES if scope.mace_groups is not None else [])


#: The one figure of a school's reports.
SCHOOL_FIGURE = "school-notifications"


def figure(scope: ReportScope, filters: ReportFilters, key: str, now: datetime | None = None) -> Figure:
    """One figure (its download). KeyError when the scope has no such figure."""
    if key not in available(scope):
        raise KeyError(key)
    q = ReportQuery(scope, filters, now or utcnow())
    if key == SCHOOL_FIGURE and not q.counts_episodes:
        return ep.own_school_notifications(q)
    if key in ep.FROM_COUNTS:
        # The same statement as the dashboard's, asked only for the parts this figure reads.
        build, parts = ep.FROM_COUNTS[key]
        return build(q, ep.counts(q, parts))
    return _mace_figure(q, key)
