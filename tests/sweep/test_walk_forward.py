"""sweep.walk_forward: folds over periods, the best train set judged on the test window, deterministic and resumable."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tapeflow.model.errors import ConfigError
from tapeflow.sweep.config import Scalar, WalkForwardSection, load_sweep
from tapeflow.sweep.executors import LocalProcesses
from tapeflow.sweep.run import run_sweep
from tapeflow.sweep.task import TaskResult
from tapeflow.sweep.walk_forward import Fold, evaluate, plan_folds, walk_forward_path
from tests.sweep.helpers import InProcess, write_sweep

WF = """
[sweep]
seed = 1
retries = {retries}
seeds = [7, 8, 9, 10]

[sweep.grid]
"strategy.params.threshold" = [0.2, 0.6]

[sweep.walk_forward]
train = 2
test = 1
step = 1
metric = "pnl_units"
"""


def _wf_sweep(tmp_path: Path, text: str = WF) -> Path:
    return write_sweep(tmp_path, text, events=1500)


def _result(period: str, threshold: float, value: int | float | None, *, status: str = "ok") -> TaskResult:
    params: dict[str, Scalar] = {"t": threshold}
    return TaskResult(
        index=0,
        key=f"A/{period}|t={threshold}",
        slice=f"A/{period}",
        params=params,
        seed=0,
        config_hash="h",
        status=status,
        attempts=1,
        metrics={"pnl_units": value if isinstance(value, int) else None, "sharpe": value},
    )


def test_seeds_are_the_slices_and_the_periods_in_order(tmp_path: Path) -> None:
    sweep = load_sweep(_wf_sweep(tmp_path))
    assert sweep.periods == ("seed=7", "seed=8", "seed=9", "seed=10")
    assert [t.slice for t in sweep.tasks[::2]] == ["*/seed=7", "*/seed=8", "*/seed=9", "*/seed=10"]
    assert [t.config.data.synthetic.seed for t in sweep.tasks] == [7, 7, 8, 8, 9, 9, 10, 10]


def test_folds_slide_by_step_and_stop_before_running_past_the_last_period(tmp_path: Path) -> None:
    folds = plan_folds(load_sweep(_wf_sweep(tmp_path)))
    assert folds == [
        Fold(index=0, train=("seed=7", "seed=8"), test=("seed=9",)),
        Fold(index=1, train=("seed=8", "seed=9"), test=("seed=10",)),
    ]


def test_the_default_step_is_the_test_window_so_test_windows_never_overlap(tmp_path: Path) -> None:
    text = WF.replace("seeds = [7, 8, 9, 10]", "seeds = [1, 2, 3, 4, 5]").replace("step = 1\n", "")
    folds = plan_folds(load_sweep(_wf_sweep(tmp_path, text)))
    assert [f.test for f in folds] == [("seed=3",), ("seed=4",), ("seed=5",)]


def test_an_unknown_metric_is_refused_before_anything_runs(tmp_path: Path) -> None:
    sweep = load_sweep(_wf_sweep(tmp_path, WF.replace('"pnl_units"', '"pnl"')))
    with pytest.raises(ConfigError, match="unknown metric 'pnl'") as info:
        run_sweep(sweep, InProcess(interrupt_after=0), tmp_path / "out.parquet")
    assert info.value.field == "sweep.walk_forward.metric"
    assert not (tmp_path / "out.parquet").exists()


def test_windows_longer_than_the_periods_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="need at least 5; the sweep has 4"):
        plan_folds(load_sweep(_wf_sweep(tmp_path, WF.replace("train = 2", "train = 4"))))


def test_seeds_on_recorded_data_are_refused(tmp_path: Path) -> None:
    path = _wf_sweep(tmp_path)
    path.write_text(path.read_text().replace('kind = "synthetic"', 'kind = "lobster"\npaths = ["x.zip"]'))
    with pytest.raises(ConfigError):
        load_sweep(path)


def test_the_best_train_set_is_chosen_and_judged_on_the_test_window() -> None:
    fold = Fold(index=0, train=("d1", "d2"), test=("d3",))
    wf = WalkForwardSection(train=2, test=1, metric="pnl_units")
    results = [
        _result("d1", 0.2, 10), _result("d2", 0.2, 10), _result("d3", 0.2, 100),
        _result("d1", 0.6, 30), _result("d2", 0.6, -5), _result("d3", 0.6, -7),
    ]  # fmt: skip
    [row] = evaluate([fold], wf, results)
    assert (row.params, row.in_sample, row.out_of_sample) == ({"t": 0.6}, 25, -7)
    assert (row.train_start, row.train_end, row.test_start, row.test_end) == ("d1", "d2", "d3", "d3")


def test_a_tie_goes_to_the_set_whose_key_sorts_first_whatever_the_result_order() -> None:
    fold = Fold(index=0, train=("d1",), test=("d2",))
    wf = WalkForwardSection(train=1, test=1, metric="sharpe")
    results = [_result("d1", 0.6, 1.5), _result("d1", 0.2, 1.5), _result("d2", 0.2, 0.1), _result("d2", 0.6, 0.9)]
    assert evaluate([fold], wf, results) == evaluate([fold], wf, results[::-1])
    assert evaluate([fold], wf, results)[0].params == {"t": 0.2}


def test_minimize_picks_the_lowest_metric() -> None:
    fold = Fold(index=0, train=("d1",), test=("d2",))
    wf = WalkForwardSection(train=1, test=1, metric="sharpe", maximize=False)
    results = [_result("d1", 0.2, 1.0), _result("d1", 0.6, -1.0), _result("d2", 0.6, 2.0)]
    [row] = evaluate([fold], wf, results)
    assert (row.params, row.in_sample, row.out_of_sample) == ({"t": 0.6}, -1.0, 2.0)


def test_a_set_with_a_failed_train_task_is_not_eligible_and_a_failed_test_gives_no_score() -> None:
    fold = Fold(index=0, train=("d1", "d2"), test=("d3",))
    wf = WalkForwardSection(train=2, test=1, metric="pnl_units")
    results = [
        _result("d1", 0.2, 1), _result("d2", 0.2, 1), _result("d3", 0.2, None, status="failed"),
        _result("d1", 0.6, 50), _result("d2", 0.6, None, status="failed"),
    ]  # fmt: skip
    [row] = evaluate([fold], wf, results)
    assert (row.params, row.in_sample, row.out_of_sample) == ({"t": 0.2}, 2, None)


def test_the_walk_forward_table_is_written_beside_the_results_from_the_grids_rows(tmp_path: Path) -> None:
    sweep = load_sweep(_wf_sweep(tmp_path))
    out = tmp_path / "out.parquet"
    outcome = run_sweep(sweep, InProcess(), out)
    assert outcome.walk_forward_output == str(tmp_path / "out.walk_forward.parquet")
    rows = pq.read_table(walk_forward_path(out)).to_pylist()
    assert [(r["fold"], r["train_start"], r["train_end"], r["test_start"]) for r in rows] == [
        (0, "seed=7", "seed=8", "seed=9"),
        (1, "seed=8", "seed=9", "seed=10"),
    ]
    pnl = {(r.slice, r.params["strategy.params.threshold"]): r.metrics["pnl_units"] for r in outcome.results}
    for row, fold in zip(rows, outcome.walk_forward, strict=True):
        assert fold.params is not None
        chosen = fold.params["strategy.params.threshold"]
        train = [f"*/{p}" for p in (row["train_start"], row["train_end"])]
        assert row["in_sample"] == max(sum(pnl[(s, t)] for s in train) for t in (0.2, 0.6))  # type: ignore[misc]
        assert row["in_sample"] == sum(pnl[(s, chosen)] for s in train)  # type: ignore[misc]
        assert row["out_of_sample"] == pnl[(f"*/{row['test_start']}", chosen)]
        assert row["metric"] == "pnl_units"


def test_the_walk_forward_table_is_the_same_with_one_or_two_workers(tmp_path: Path) -> None:
    sweep = load_sweep(_wf_sweep(tmp_path))
    with LocalProcesses(1) as one:
        run_sweep(sweep, one, tmp_path / "one.parquet")
    with LocalProcesses(2) as two:
        run_sweep(sweep, two, tmp_path / "two.parquet")
    one_table = pq.read_table(tmp_path / "one.walk_forward.parquet")
    assert one_table.equals(pq.read_table(tmp_path / "two.walk_forward.parquet"))


def test_an_interrupted_sweep_writes_no_walk_forward_and_resume_completes_it(tmp_path: Path) -> None:
    sweep = load_sweep(_wf_sweep(tmp_path))
    partial = run_sweep(sweep, InProcess(interrupt_after=3), tmp_path / "r.parquet")
    assert partial.interrupted and partial.walk_forward_output is None
    assert not walk_forward_path(tmp_path / "r.parquet").exists()
    resumed = run_sweep(sweep, InProcess(), tmp_path / "r.parquet", resume=True)
    assert (resumed.resumed, resumed.ran) == (3, 5)
    run_sweep(sweep, InProcess(), tmp_path / "f.parquet")
    resumed_table = pq.read_table(tmp_path / "r.walk_forward.parquet")
    assert resumed_table.equals(pq.read_table(tmp_path / "f.walk_forward.parquet"))
