"""``tapeflow sweep``: one JSON object or a table; a failed task is exit 1 with its error; bad input: one line, 2."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.sweep.config import load_sweep
from tests.sweep.helpers import write_flaky_sweep, write_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_sweep_with_a_failing_task_exits_1_and_names_it_with_its_error(tmp_path: Path) -> None:
    path = write_flaky_sweep(tmp_path, ["never", "always"], retries=0)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), "--executor", "processes", "--workers", "1", "--json",
                                      "-o", str(out)])  # fmt: skip
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["tasks"], report["ok"], report["missing"]) == (2, 1, 0)
    assert report["failed"] == [
        {"key": '*/*|strategy.params.fail="always",strategy.params.marker=' + json.dumps(str(tmp_path / "marker")),
         "attempts": 1, "error": "RuntimeError: this task always fails"}
    ]  # fmt: skip
    assert out.exists()


def test_resume_from_the_command_line_runs_nothing_already_done(tmp_path: Path) -> None:
    path, out = write_sweep(tmp_path, events=1000), tmp_path / "out.parquet"
    args = ["sweep", str(path), "--executor", "processes", "--workers", "1", "--json", "-o", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert (report["ran"], report["resumed"], report["ok"]) == (0, 8, 8)


def test_the_table_for_a_person_lists_tasks_and_where_results_went(tmp_path: Path) -> None:
    path, out = write_sweep(tmp_path, events=1000), tmp_path / "out.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), "--executor", "processes", "--workers", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "sweep results" in result.stdout
    assert "8 ran, 0 resumed, 0 failed of 8 tasks" in result.stdout
    assert str(out) in result.stdout.replace("\n", "")


def _one_line_error(tmp_path: Path, args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, ["sweep", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.stderr


def test_an_unknown_field_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write_sweep(tmp_path)
    path.write_text(path.read_text().replace('"exchange.queue_model"', '"exchange.nope"'))
    _one_line_error(tmp_path, [str(path)], "exchange.nope")


def test_an_existing_table_without_resume_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"")
    _one_line_error(tmp_path, [str(write_sweep(tmp_path)), "-o", str(out)], "--resume")


def test_an_address_that_is_not_a_scheduler_url_is_refused(tmp_path: Path) -> None:
    _one_line_error(tmp_path, [str(write_sweep(tmp_path)), "--address", "127.0.0.1:8786"], "tcp://HOST:PORT")


def test_an_unknown_executor_is_refused(tmp_path: Path) -> None:
    _one_line_error(tmp_path, [str(write_sweep(tmp_path)), "--executor", "ray"], "'dask', 'processes'")


def test_a_missing_sweep_file_is_refused(tmp_path: Path) -> None:
    _one_line_error(tmp_path, [str(tmp_path / "nope.toml")], "file not found")


def test_the_synthetic_example_loads_into_eight_checked_tasks() -> None:
    assert len(load_sweep(EXAMPLES / "sweep_synthetic.toml").tasks) == 8


def test_the_command_line_starts_without_loading_dask() -> None:
    """Dask costs ~0.35 s to import: ``tapeflow --help`` and every other command must not pay it."""
    loaded = "sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))"
    code = f"import sys, tapeflow.cli; print({loaded})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_ctrl_c_exits_130_and_keeps_every_finished_task_in_the_table(tmp_path: Path) -> None:
    """A real SIGINT to the command and its workers (as a terminal's Ctrl-C sends to the process group), sent once
    the first checkpoint is on disk, so some tasks have finished and most have not."""
    seeds = ", ".join(map(str, range(64)))
    grid = '\n[sweep]\nretries = {retries}\n[sweep.grid]\n"data.synthetic.seed" = [' + seeds + "]\n"
    path, out = write_sweep(tmp_path, grid, events=20000), tmp_path / "out.parquet"
    tapeflow = Path(sys.executable).with_name("tapeflow")
    proc = subprocess.Popen(
        [str(tapeflow), "sweep", str(path), "--workers", "1", "--json", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores it
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not out.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 130, stderr[-2000:]
    report = json.loads(stdout)
    assert report["interrupted"] is True and 0 < report["ran"] < 64
    table = pq.read_table(out)
    assert table.num_rows == report["ran"] == report["tasks"] - report["missing"]
    assert set(table.column("status").to_pylist()) == {"ok"}


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def test_the_walk_forward_example_reports_its_folds_in_json_and_writes_the_table_beside(tmp_path: Path) -> None:
    out = tmp_path / "wf.parquet"
    args = ["sweep", str(EXAMPLES / "sweep_walk_forward.toml"), "--executor", "processes", "--workers", "2",
            "--json", "-o", str(out)]  # fmt: skip
    started = _cpu_s()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # the example runs under 30 s: counted in CPU seconds of this process and its workers (spawned, so reaped here
    # by the pool's shutdown), which a loaded machine does not stretch as it does wall time (15 s of it here)
    assert _cpu_s() - started < 30
    report = json.loads(result.stdout)
    assert (report["tasks"], report["walk_forward_metric"]) == (18, "pnl_units")
    assert report["walk_forward_output"] == str(tmp_path / "wf.walk_forward.parquet")
    folds = report["walk_forward"]
    assert [(f["fold"], f["train_start"], f["test_start"]) for f in folds] == [
        (i, f"seed={11 + i}", f"seed={13 + i}") for i in range(4)
    ]
    assert all(f["params"]["strategy.params.threshold"] in (0.2, 0.4, 0.6) for f in folds)
    table = pq.read_table(tmp_path / "wf.walk_forward.parquet").to_pylist()
    assert [r["out_of_sample"] for r in table] == [f["out_of_sample"] for f in folds]


def test_a_walk_forward_with_an_unknown_metric_is_exit_2_before_any_worker_starts(tmp_path: Path) -> None:
    path = tmp_path / "wf.toml"
    path.write_text((EXAMPLES / "sweep_walk_forward.toml").read_text().replace('"pnl_units"', '"profit"'))
    result = CliRunner().invoke(app, ["sweep", str(path), "--json", "-o", str(tmp_path / "o.parquet")])
    assert result.exit_code == 2
    assert "unknown metric 'profit'" in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_the_walk_forward_table_for_a_person_names_the_chosen_set_per_fold(tmp_path: Path) -> None:
    out = tmp_path / "wf.parquet"
    args = ["sweep", str(EXAMPLES / "sweep_walk_forward.toml"), "--executor", "processes", "--workers", "1",
            "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "walk-forward (pnl_units)" in result.output
    assert f"walk-forward: {tmp_path / 'wf.walk_forward.parquet'}" in result.output.replace("\n", "")
