"""Small-number suppression: primary (1 to threshold-1 shown as c, zero shown), secondary (no
hidden count can be worked out from a total), and the configured threshold."""

from __future__ import annotations

import itertools

import pytest

from hub.config import ConfigurationError, load_settings
from hub.reports.suppression import (
    DEFAULT_THRESHOLD,
    SUPPRESSED,
    suppress_count,
    suppress_series,
    suppress_table,
    threshold,
)

C = SUPPRESSED


@pytest.mark.parametrize("value, shown", [(0, 0), (1, C), (9, C), (10, 10), (250, 250)])
def test_a_count_under_the_threshold_is_c_and_zero_and_larger_counts_are_shown(value, shown):
    assert suppress_count(value, 10) == shown


def test_the_threshold_is_configurable():
    assert suppress_count(4, 5) == C and suppress_count(5, 5) == 5


def test_a_table_with_no_small_counts_is_published_whole_with_its_totals():
    assert suppress_table([[10, 20], [30, 40]], 10) == [[10, 20, 30], [30, 40, 70], [40, 60, 100]]


def test_a_lone_small_cell_in_a_row_hides_the_next_smallest_cell_of_its_row_and_column():
    # 3 is hidden; its row then has one hidden cell (12 hides), its column too (15 hides); 12 and 15
    # then make their own column and row single, so 40 hides: no cell can be subtracted out.
    published = suppress_table([[3, 12, 50], [15, 40, 60]], 10)
    assert published == [[C, C, 50, 65], [C, C, 60, 115], [18, 52, 110, 180]]


def test_the_complement_is_the_smallest_non_zero_cell_not_a_zero():
    published = suppress_table([[5, 0, 30, 20], [11, 0, 30, 25]], 10)
    assert published[0] == [C, 0, 30, C, 55]
    assert published[1] == [C, 0, 30, C, 66]


def test_secondary_suppression_runs_until_every_row_and_column_is_safe():
    values = [[2, 40, 40], [40, 40, 3], [40, 40, 40]]
    published = suppress_table(values, 10)
    grid = [row[:-1] for row in published[:-1]]
    for line in grid + [list(col) for col in zip(*grid, strict=True)]:
        assert sum(1 for v in line if v == C) != 1, published


def test_a_suppressed_table_never_lets_a_hidden_cell_be_worked_out_from_a_total():
    """Brute force: for every small table of 2x3 counts from {0, 1, 5, 12}, each row and column
    (its total included) has no hidden entry or at least two."""
    for cells in itertools.product([0, 1, 5, 12], repeat=6):
        values = [list(cells[:3]), list(cells[3:])]
        published = suppress_table(values, 10)
        lines = published + [list(col) for col in zip(*published, strict=True)]
        for line in lines:
            assert sum(1 for v in line if v == C) != 1, (values, published)


def test_visible_counts_and_totals_are_the_true_ones():
    values = [[3, 12, 50], [15, 40, 60]]
    published = suppress_table(values, 10)
    totals = [sum(r) for r in values]
    assert [row[-1] for row in published[:-1]] == totals
    assert published[-1][-1] == sum(totals)
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            assert published[r][c] in (value, C)


def test_a_small_total_is_hidden_like_any_count():
    assert suppress_table([[2, 3]], 10) == [[C, C, C], [C, C, C]]


def test_without_totals_only_primary_suppression_applies():
    assert suppress_table([[3, 12], [15, 40]], 10, totals=False) == [[C, 12], [15, 40]]


def test_a_series_gets_its_total_last_and_protects_a_lone_small_value():
    assert suppress_series([4, 30, 25], 10) == [C, 30, C, 59]
    assert suppress_series([4, 30], 10, total=False) == [C, 30]


def test_the_threshold_defaults_to_10_outside_the_app_and_reads_the_setting_inside(app):
    assert threshold() == DEFAULT_THRESHOLD == 10
    with app.app_context():
        assert threshold() == app.config["HUB"].report_suppression_threshold == 10


def test_the_threshold_is_read_from_hub_report_suppression_threshold(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_REPORT_SUPPRESSION_THRESHOLD", "5")
    assert load_settings(tmp_path, {"env": "testing"}).report_suppression_threshold == 5
    for bad in ("0", "ten"):
        monkeypatch.setenv("HUB_REPORT_SUPPRESSION_THRESHOLD", bad)
        with pytest.raises(ConfigurationError):
            load_settings(tmp_path, {"env": "testing"})
