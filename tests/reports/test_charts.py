"""The charts' SVG is kept by a hash of what it is drawn from (issue 22): a kept chart is the
same bytes a fresh drawing gives, different figures never share one, and only a bounded number
are kept."""

from __future__ import annotations

import random
import re

from hub.reports import charts
from hub.reports.charts import Drawing, KeptCharts
from hub.reports.query import Figure


def _figure(n: int, chart: str = "stacked", title: str = "Episodes by month") -> Figure:
    rows = [[f"2026-{m:02d}", n * m, (n + m) % 7, 1.5 * m] for m in range(1, 13)]
    return Figure(key="k", title=title, subtitle="s", columns=["Month", "Missing", "Absent", "Rate"], rows=rows,
                  chart=chart, first_column="month")


def test_a_kept_chart_is_byte_identical_to_a_fresh_drawing():
    charts.KEPT.clear()
    figure = _figure(3)
    first, again = str(charts.render(figure)), str(charts.render(figure))
    assert len(charts.KEPT) == 1
    assert again == first == charts.draw(Drawing.of(figure))
    assert first.startswith("<svg") and "March 2026" in first


def test_random_figures_kept_or_not_draw_the_same_bytes():
    rng = random.Random(22)
    charts.KEPT.clear()
    for _ in range(12):
        figure = _figure(rng.randint(0, 50), rng.choice(["bar", "stacked", "hbar"]))
        kept = str(charts.render(figure))
        assert str(charts.render(figure)) == kept == charts.draw(Drawing.of(figure))


def test_figures_that_differ_in_any_drawn_value_draw_their_own_chart():
    base = _figure(3)
    changed_count = _figure(3)
    changed_count.rows[5][1] += 1
    as_float = _figure(3)
    as_float.rows[0][1] = float(as_float.rows[0][1])  # 3 and 3.0: different keys, whatever pygal draws
    drawings = [Drawing.of(f) for f in (base, changed_count, as_float, _figure(3, chart="bar"),
                                         _figure(3, title="Another headline"))]
    assert len({d.digest() for d in drawings}) == len(drawings)
    charts.KEPT.clear()
    assert str(charts.render(changed_count)) != str(charts.render(base))


def test_only_a_bounded_number_are_kept_the_least_recently_used_dropped():
    kept = KeptCharts(size=3)
    drawings = [Drawing.of(_figure(n)) for n in range(4)]
    for drawing in drawings[:3]:
        kept.get(drawing)
    kept.get(drawings[0])  # used again: kept
    kept.get(drawings[3])  # drops drawings[1], the least recently used
    assert len(kept) == 3
    assert set(kept._svg) == {drawings[n].digest() for n in (0, 2, 3)}


def test_the_keys_are_digests_holding_no_label_or_count():
    charts.KEPT.clear()
    charts.render(_figure(7))
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in charts.KEPT._svg)
