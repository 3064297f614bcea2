"""sweep.task: a task is retried in place, never raises, and returns small results (metrics, thinned equity)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tapeflow.sweep.config import load_sweep
from tapeflow.sweep.task import METRICS, SERIES_POINTS, run_task, thin
from tests.sweep.helpers import write_flaky_sweep, write_sweep


def test_thin_keeps_at_most_the_points_asked_first_and_last_included() -> None:
    ts, values = list(range(1000)), list(range(1000, 2000))
    got_ts, got_values = thin(ts, values, points=10)
    assert len(got_ts) == len(got_values) == 10
    assert (got_ts[0], got_ts[-1], got_values[-1]) == (0, 999, 1999)
    assert got_ts == sorted(set(got_ts))
    assert thin([1, 2], [3, 4], points=10) == ([1, 2], [3, 4])


def test_a_task_returns_the_runs_metrics_and_a_thinned_equity_curve(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path)).tasks[0]
    result = run_task(spec)
    assert (result.status, result.attempts, result.error) == ("ok", 1, None)
    assert set(result.metrics) == set(METRICS)
    assert isinstance(result.metrics["fills"], int) and result.metrics["fills"] > 0
    assert 0 < len(result.equity) == len(result.equity_ts) <= SERIES_POINTS
    assert result.equity[-1] == result.metrics["final_equity_units"]
    assert (result.key, result.seed, result.config_hash) == (spec.key, spec.seed, spec.config_hash)


def test_the_same_task_twice_gives_the_same_result_but_for_its_wall_time(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path)).tasks[3]
    a, b = run_task(spec), run_task(spec)
    assert msgspec.structs.replace(a, elapsed_s=0.0) == msgspec.structs.replace(b, elapsed_s=0.0)
    assert a.metrics["pnl_units"] is not None


def test_a_task_that_fails_once_then_succeeds_is_ok_after_two_attempts(tmp_path: Path) -> None:
    spec = load_sweep(write_flaky_sweep(tmp_path, ["once"], retries=1)).tasks[0]
    result = run_task(spec)
    assert (result.status, result.attempts, result.error) == ("ok", 2, None)
    assert (tmp_path / "marker").exists()


def test_a_task_without_retries_that_fails_once_is_recorded_failed(tmp_path: Path) -> None:
    spec = load_sweep(write_flaky_sweep(tmp_path, ["once"], retries=0)).tasks[0]
    result = run_task(spec)
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.error == "RuntimeError: the first attempt fails"


def test_a_task_that_always_fails_returns_its_last_error_after_every_attempt(tmp_path: Path) -> None:
    spec = load_sweep(write_flaky_sweep(tmp_path, ["always"], retries=2)).tasks[0]
    result = run_task(spec)
    assert (result.status, result.attempts, result.error) == ("failed", 3, "RuntimeError: this task always fails")
    assert result.metrics == {} and result.equity == []
