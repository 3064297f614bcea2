"""sweep.run: results in task order whatever finishes first; failures recorded; resume; Ctrl-C keeps results."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tapeflow.model.errors import ConfigError
from tapeflow.sweep.config import TaskSpec, load_sweep
from tapeflow.sweep.run import run_sweep
from tapeflow.sweep.table import read_results
from tapeflow.sweep.task import TaskResult, run_task
from tests.sweep.helpers import InProcess, write_flaky_sweep, write_sweep


def test_the_table_is_in_task_order_though_tasks_finished_in_reverse(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    executor = InProcess()
    outcome = run_sweep(sweep, executor, tmp_path / "out.parquet")
    assert executor.ran == list(range(7, -1, -1))
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("key").to_pylist() == [t.key for t in sweep.tasks]
    assert table.column("status").to_pylist() == ["ok"] * 8
    assert table.column("strategy.params.threshold").to_pylist() == [0.2, 0.2, 0.6, 0.6] * 2
    assert table.column("exchange.queue_model").to_pylist() == ["FRONT", "BACK"] * 4
    assert (outcome.ran, outcome.resumed, outcome.failed, outcome.interrupted) == (8, 0, [], False)


def test_a_failing_task_is_recorded_with_its_error_and_the_sweep_finishes(tmp_path: Path) -> None:
    sweep = load_sweep(write_flaky_sweep(tmp_path, ["never", "always", "once"], retries=1))
    outcome = run_sweep(sweep, InProcess(), tmp_path / "out.parquet")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["status"], r["attempts"], r["error"]) for r in rows] == [
        ("ok", 1, None),
        ("failed", 2, "RuntimeError: this task always fails"),
        ("ok", 2, None),
    ]
    assert rows[1]["pnl_units"] is None and rows[0]["pnl_units"] is not None
    assert [r.key for r in outcome.failed] == [sweep.tasks[1].key]


def test_resume_runs_only_what_did_not_succeed(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    out = tmp_path / "out.parquet"
    run_sweep(sweep, InProcess(interrupt_after=3), out)
    assert len(read_results(out)) == 3

    calls: list[str] = []

    def counting(spec: TaskSpec) -> TaskResult:
        calls.append(spec.key)
        return run_task(spec)

    outcome = run_sweep(sweep, InProcess(), out, resume=True, task=counting)
    assert sorted(calls) == sorted(t.key for t in sweep.tasks[:5])  # the first three to finish were 7, 6, 5
    assert (outcome.resumed, outcome.ran, len(outcome.results)) == (3, 5, 8)
    assert pq.read_table(out).column("key").to_pylist() == [t.key for t in sweep.tasks]


def test_resume_gives_the_table_a_full_run_gives(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    run_sweep(sweep, InProcess(interrupt_after=4), tmp_path / "resumed.parquet")
    run_sweep(sweep, InProcess(), tmp_path / "resumed.parquet", resume=True)
    run_sweep(sweep, InProcess(), tmp_path / "full.parquet")
    resumed = pq.read_table(tmp_path / "resumed.parquet").drop_columns(["elapsed_s"])
    full = pq.read_table(tmp_path / "full.parquet").drop_columns(["elapsed_s"])
    assert resumed.equals(full)


def test_resume_runs_a_task_again_when_its_configuration_changed(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    run_sweep(load_sweep(write_sweep(tmp_path, events=2000)), InProcess(), out)
    changed = load_sweep(write_sweep(tmp_path, events=1500))  # same keys, another base configuration
    outcome = run_sweep(changed, InProcess(), out, resume=True)
    assert (outcome.resumed, outcome.ran) == (0, 8)


def test_resume_reruns_failed_tasks(tmp_path: Path) -> None:
    sweep = load_sweep(write_flaky_sweep(tmp_path, ["never", "once"], retries=0))
    out = tmp_path / "out.parquet"
    first = run_sweep(sweep, InProcess(), out)
    assert [r.status for r in first.results] == ["ok", "failed"]
    second = run_sweep(sweep, InProcess(), out, resume=True)
    assert (second.resumed, second.ran, [r.status for r in second.results]) == (1, 1, ["ok", "ok"])


def test_ctrl_c_keeps_the_finished_results_on_disk(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    outcome = run_sweep(sweep, InProcess(interrupt_after=2), tmp_path / "out.parquet")
    assert outcome.interrupted and outcome.ran == 2
    kept = pq.read_table(tmp_path / "out.parquet").column("key").to_pylist()
    assert kept == [sweep.tasks[6].key, sweep.tasks[7].key]


def test_a_task_the_executor_lost_is_recorded_failed(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))

    class Losing(InProcess):
        def map_unordered(self, fn, items):  # type: ignore[no-untyped-def]
            yield 0, OSError("worker died")
            for i in range(1, len(items)):
                yield i, fn(items[i])

    outcome = run_sweep(sweep, Losing(), tmp_path / "out.parquet")
    assert outcome.results[0].status == "failed" and outcome.results[0].error == "OSError: worker died"
    assert len(outcome.failed) == 1


def test_a_table_that_is_not_a_sweeps_is_refused_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="cannot read the results"):
        run_sweep(load_sweep(write_sweep(tmp_path)), InProcess(), out, resume=True)
