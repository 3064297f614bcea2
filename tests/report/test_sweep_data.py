"""The sweep page's numbers: heatmap cells aggregated over symbol-days (sum for money, mean for ratios, none when
a task failed), the walk-forward's fold rows in period order and its stitched equity."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.model.errors import ConfigError
from tapeflow.report.sweep_data import aggregate, fold_rows, grids, per_period, read_sweep, stitch
from tapeflow.sweep.task import TaskResult
from tapeflow.sweep.walk_forward import FoldResult
from tests.report.sweep_tables import NAMES, grid_results, result, write_table


def test_an_integer_metric_is_summed_and_a_float_metric_averaged() -> None:
    assert aggregate([3, 4, -2], integer=True) == 5
    assert aggregate([0.5, 1.5], integer=False) == 1.0


def test_a_missing_value_or_nan_or_no_value_at_all_gives_no_aggregate() -> None:
    assert aggregate([3, None], integer=True) is None
    assert aggregate([1.0, math.nan], integer=False) is None
    assert aggregate([], integer=True) is None


@given(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=50))
def test_integer_aggregates_are_exact_sums(values: list[int]) -> None:
    assert aggregate(values, integer=True) == sum(values)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_float_aggregates_lie_between_the_smallest_and_largest_value(values: list[float]) -> None:
    mean = aggregate(values, integer=False)
    assert mean is not None
    assert min(values) - 1e-6 <= mean <= max(values) + 1e-6


def test_each_heatmap_cell_is_the_sum_over_symbol_days_of_its_parameter_set(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, grid_results()))
    assert table.param_names == NAMES
    [grid] = grids(table, "pnl_units")
    assert (grid.x, grid.y) == ([0.2, 0.6], ["FRONT", "BACK"])
    # slice s contributes 100*(s+1) + 10*t + m: over both slices 300 + 20*t + 2*m
    assert grid.z == [[300, 320], [302, 322]]
    assert grid.tasks == [[2, 2], [2, 2]]
    assert grid.failed == [[0, 0], [0, 0]]


def test_a_float_metric_cell_is_the_mean_over_symbol_days(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, grid_results()))
    [grid] = grids(table, "sharpe", x=NAMES[1], y=NAMES[0])
    assert (grid.x, grid.y) == (["FRONT", "BACK"], [0.2, 0.6])
    assert grid.z == [[pytest.approx(1.5), pytest.approx(1.51)], [pytest.approx(1.6), pytest.approx(1.61)]]


def test_a_cell_with_a_failed_task_has_no_value_and_counts_the_failure(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, grid_results(failed=5)))  # slice 2, threshold 0.2, BACK
    [grid] = grids(table, "pnl_units")
    assert grid.z == [[300, 320], [None, 322]]
    assert grid.failed == [[0, 0], [1, 0]]


def test_a_third_parameter_gives_one_heatmap_per_value_holding_it_fixed(tmp_path: Path) -> None:
    rows = [
        result(i, "AAPL/seed=1", {"a": a, "b": b, "c": c}, 1000 * c + 10 * a + b, 0.0)
        for i, (c, a, b) in enumerate((c, a, b) for c in (1, 2) for a in (1, 2) for b in (1, 2))
    ]
    table = read_sweep(write_table(tmp_path, rows))
    found = grids(table, "pnl_units")
    assert [g.fixed for g in found] == [{"c": 1}, {"c": 2}]
    assert found[1].z == [[2011, 2021], [2012, 2022]]


def test_an_unknown_metric_or_axis_is_refused_naming_the_choices(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, grid_results()))
    with pytest.raises(ConfigError, match=r"unknown metric 'pnl'.*pnl_units"):
        grids(table, "pnl")
    with pytest.raises(ConfigError, match="'nope' is not a swept parameter"):
        grids(table, "pnl_units", x="nope")


def test_a_parquet_file_that_is_not_a_sweep_table_is_refused_naming_the_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(ConfigError, match="not a sweep results table"):
        read_sweep(path)
    with pytest.raises(ConfigError, match="file not found"):
        read_sweep(tmp_path / "missing.parquet")


def _folds() -> list[FoldResult]:
    chosen = {NAMES[0]: 0.6, NAMES[1]: "FRONT"}
    return [
        FoldResult(fold=0, train_start="seed=1", train_end="seed=2", test_start="seed=3", test_end="seed=3",
                   params=chosen, in_sample=330, out_of_sample=310),
        FoldResult(fold=1, train_start="seed=2", train_end="seed=3", test_start="seed=4", test_end="seed=4",
                   params=None, in_sample=None, out_of_sample=None),
    ]  # fmt: skip


def _period_results() -> list[TaskResult]:
    return [
        result(
            i,
            f"AAPL/seed={p}",
            {NAMES[0]: t, NAMES[1]: "FRONT"},
            100 * p,
            0.0,
            equity=[1_000_000, 1_000_000 + 100 * p],
            ts=[p * 10, p * 10 + 5],
        )
        for i, (p, t) in enumerate((p, t) for p in (1, 2, 3, 4) for t in (0.2, 0.6))
    ]


def test_the_folds_are_read_beside_the_table_and_their_rows_follow_the_period_order(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, _period_results(), _folds()))
    assert [f["fold"] for f in table.folds] == [0, 1]
    train = fold_rows(table, table.folds[0], test=False)
    assert [table.rows[i]["slice"] for i in train] == ["AAPL/seed=1", "AAPL/seed=2"]
    assert [table.params[i][NAMES[0]] for i in train] == [0.6, 0.6]
    assert fold_rows(table, table.folds[1], test=True) == []  # no set chosen: nothing to show


def test_stitched_equity_adds_each_tasks_change_to_where_the_last_one_ended(tmp_path: Path) -> None:
    table = read_sweep(write_table(tmp_path, _period_results(), _folds()))
    rows = fold_rows(table, table.folds[0], test=False) + fold_rows(table, table.folds[0], test=True)
    segments = stitch(table, [(0, rows)])
    assert [s.equity for s in segments] == [[1_000_000, 1_000_100], [1_000_100, 1_000_300], [1_000_300, 1_000_600]]
    assert [s.slice for s in segments] == ["AAPL/seed=1", "AAPL/seed=2", "AAPL/seed=3"]


def test_a_window_sum_per_period_divides_integers_and_leaves_means_alone() -> None:
    assert per_period(330, 2, integer=True) == 165.0
    assert per_period(1.5, 2, integer=False) == 1.5
    assert per_period(None, 2, integer=True) is None
