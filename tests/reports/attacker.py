"""The attacker the annual workbook's suppression is tested against: an exact integer solver (scipy's
`milp`) that knows every published count and every relation between counts, and computes the least
and the greatest value each hidden count can take. Independent of hub.reports.suppression's own
proof: it only reads the published values and the relations."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

Key = Hashable
Sum = tuple[Sequence[Key], Key]
CAP = 1_000_000


def feasible_ranges(published: dict[Key, int], unknown: Iterable[Key], sums: Sequence[Sum],
                    at_most: Sequence[tuple[Key, Key]] = ()) -> dict[Key, tuple[float, float]]:
    """For each unknown count, (least, greatest) over every non-negative integer table that agrees
    with the published counts, adds up in every sum and keeps each part within its whole."""
    unknown = sorted(set(unknown), key=repr)
    keys = sorted(set(published) | set(unknown), key=repr)
    column = {k: i for i, k in enumerate(keys)}
    lower = np.array([published.get(k, 0) for k in keys], dtype=float)
    # Unknowns are capped far above any count here, so every search ends; reaching the cap is "unbounded".
    upper = np.array([published.get(k, CAP) for k in keys], dtype=float)
    rows, lows, highs = [], [], []
    for parts, total in sums:
        row = np.zeros(len(keys))
        for k in parts:
            row[column[k]] += 1
        row[column[total]] -= 1
        rows.append(row), lows.append(0.0), highs.append(0.0)
    for part, whole in at_most:
        row = np.zeros(len(keys))
        row[column[part]] += 1
        row[column[whole]] -= 1
        rows.append(row), lows.append(-np.inf), highs.append(0.0)
    constraints = [LinearConstraint(np.array(rows), lows, highs)] if rows else []
    bounds = Bounds(lower, upper)
    integrality = np.ones(len(keys))
    ranges = {}
    for k in unknown:
        objective = np.zeros(len(keys))
        objective[column[k]] = 1
        low = milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)
        high = milp(-objective, constraints=constraints, bounds=bounds, integrality=integrality)
        assert low.status == 0, f"the published figures admit no table at all ({low.message})"
        assert high.status == 0, high.message
        ranges[k] = (round(low.fun), np.inf if -high.fun >= CAP else round(-high.fun))
    return ranges
