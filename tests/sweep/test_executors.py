"""sweep.executors: the same table from 1 and 2 Dask workers (LocalCluster), local processes, and a scheduler with
two workers started as separate processes (as a real cluster would be) reached by --address."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.sweep.config import load_sweep
from tapeflow.sweep.executors import DaskExecutor, LocalProcesses
from tapeflow.sweep.run import run_sweep
from tests.sweep.helpers import InProcess, write_flaky_sweep, write_sweep

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 30.0


def _table(path: Path) -> pa.Table:
    return pq.read_table(path).drop_columns(["elapsed_s"])  # wall time: the one column allowed to differ


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    """The sweep file, and its table run here one task at a time in reverse order."""
    folder = tmp_path_factory.mktemp("sweep")
    path = write_sweep(folder)
    run_sweep(load_sweep(path), InProcess(), folder / "reference.parquet")
    return path, _table(folder / "reference.parquet")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_local_dask_cluster_gives_the_table_of_one_process(
    reference: tuple[Path, pa.Table], tmp_path: Path, workers: int
) -> None:
    path, expected = reference
    with DaskExecutor(workers) as executor:
        assert executor.description == f"dask LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
        outcome = run_sweep(load_sweep(path), executor, tmp_path / "out.parquet")
    assert outcome.failed == [] and outcome.ran == 8
    assert _table(tmp_path / "out.parquet").equals(expected)


def test_local_processes_give_the_table_of_one_process(reference: tuple[Path, pa.Table], tmp_path: Path) -> None:
    path, expected = reference
    with LocalProcesses(2) as executor:
        run_sweep(load_sweep(path), executor, tmp_path / "out.parquet")
    assert _table(tmp_path / "out.parquet").equals(expected)


def test_a_retried_task_on_a_dask_worker_succeeds_and_an_always_failing_one_is_recorded(tmp_path: Path) -> None:
    sweep = load_sweep(write_flaky_sweep(tmp_path, ["once", "always"], retries=1))
    with DaskExecutor(1) as executor:
        outcome = run_sweep(sweep, executor, tmp_path / "out.parquet")
    assert [(r.status, r.attempts) for r in outcome.results] == [("ok", 2), ("failed", 2)]
    assert outcome.results[1].error == "RuntimeError: this task always fails"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and two single-thread workers, each its own process on 127.0.0.1, always killed after.

    The scheduler takes a port of its own (``--port 0``) and writes the address it listens on to its scheduler file;
    a free port picked here and handed to it could be taken by another process before it binds."""
    info = tmp_path / "scheduler.json"
    log = (tmp_path / "cluster.log").open("wb")
    common = {"stdout": log, "stderr": subprocess.STDOUT, "start_new_session": True}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(info),
                 "--no-dashboard", "--idle-timeout", "120"],
                **common,  # type: ignore[call-overload]
            )
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _written(info):
            assert procs[0].poll() is None, (tmp_path / "cluster.log").read_text()
            assert time.monotonic() < deadline, f"the scheduler wrote no address within {START_TIMEOUT_S:g} s"
            time.sleep(0.1)
        address: str = json.loads(info.read_text())["address"]
        worker = [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                  "--no-nanny", "--death-timeout", "60"]  # fmt: skip
        procs.extend(subprocess.Popen(worker, **common) for _ in range(2))  # type: ignore[call-overload]
        yield address
    finally:
        _stop(procs)
        log.close()


def _written(info: Path) -> bool:
    """The scheduler file is there and whole (it may be read while being written)."""
    try:
        return "address" in json.loads(info.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def test_a_scheduler_and_two_worker_processes_reached_by_address_give_the_same_table(
    reference: tuple[Path, pa.Table], tmp_path: Path, cluster: str
) -> None:
    path, expected = reference
    out = tmp_path / "out.parquet"
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["sweep", str(path), "--address", cluster, "--workers", "2", "--json", "-o", str(out)]
    )
    assert time.monotonic() - started < START_TIMEOUT_S + 30
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["tasks"], report["ran"], report["ok"], report["failed"]) == (8, 8, 8, [])
    assert _table(out).equals(expected)
