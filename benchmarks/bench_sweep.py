"""Sweep scaling: the same 64 backtests of real data on 1 and on 2 Dask workers (embedded LocalCluster).

The tasks: the imbalance quoter on LOBSTER symbol-days of the shared data (AMZN and GOOG, 2012-06-21), each read
to ``--limit`` events, over a grid of thresholds x position caps (``--tasks`` in all). For each worker count:

- ``start_s``: starting the LocalCluster (processes spawned, tapeflow imported on first use is in the tasks);
- ``wall_s``: sending every task and having every result back (the sweep's own loop, table written);
- ``task_s``: the sum of the tasks' own wall times on their workers (``TaskResult.elapsed_s``);
- ``overhead_ms``: per task, what the sweep costs beyond the backtests: (``wall_s`` x workers - ``task_s``) /
  tasks, which holds the scheduling, pickling the spec and the result, the Parquet writes and idle workers at
  the tail;
- ``rss_mb``: each worker's resident memory after its tasks (psutil, brought by distributed);
- ``cpu_ms_per_task``: the workers' CPU time (start-up included) over the tasks: what a task costs whatever
  else runs on the machine, the figure a sizing plan starts from.

Speedup is ``wall_s`` on 1 worker over ``wall_s`` on 2. The machine is shared: the CPU seconds of the workers are
printed beside wall times so another engineer's load can be told from the sweep's own cost.

Usage: python benchmarks/bench_sweep.py [--tasks 64] [--limit 20000] [--workers 1,2]
Target on a 2-core machine (issue 20): speedup >= 1.8x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from tapeflow.sweep import DaskExecutor, load_sweep, run_sweep

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SWEEP = """
base = "{base}"

[sweep]
seed = 1
retries = 0
symbols = ["AMZN", "GOOG"]
days = [2012-06-21]
path_template = "lobster-samples-2012-06-21/LOBSTER_SampleFile_{{symbol}}_{{day}}_1.zip"

[sweep.grid]
"data.limit" = [{limit}]
"strategy.params.threshold" = [{thresholds}]
"strategy.params.max_position" = [100, 200, 300, 400]
"""


def write_sweep(folder: Path, tasks: int, limit: int) -> Path:
    per_symbol = tasks // 2
    if tasks % 8 or per_symbol < 4:
        raise SystemExit("--tasks must be a multiple of 8 (2 symbols x 4 position caps x thresholds)")
    count = per_symbol // 4
    thresholds = ", ".join(f"{0.1 + 0.8 * i / max(count - 1, 1):.4f}" for i in range(count))
    path = folder / "bench_sweep.toml"
    base = (EXAMPLES / "lobster_aapl.toml").resolve()
    path.write_text(SWEEP.format(base=base, limit=limit, thresholds=thresholds))
    return path


def _worker_stats() -> dict[str, float]:
    import psutil  # lazy: runs on a Dask worker, and psutil comes with distributed

    proc = psutil.Process(os.getpid())
    cpu = proc.cpu_times()
    return {"rss_mb": proc.memory_info().rss / 2**20, "cpu_s": cpu.user + cpu.system}


def measure(config: Path, workers: int, folder: Path) -> dict[str, Any]:
    sweep = load_sweep(config)
    started = time.perf_counter()
    with DaskExecutor(workers) as executor:
        start_s = time.perf_counter() - started
        out = folder / f"w{workers}.parquet"
        outcome = run_sweep(sweep, executor, out)
        stats = executor.client.run(_worker_stats)
    if outcome.failed:
        raise SystemExit(f"{len(outcome.failed)} tasks failed: {outcome.failed[0].error}")
    wall_s = outcome.elapsed_s
    task_s = sum(r.elapsed_s for r in outcome.results)
    return {
        "workers": workers,
        "tasks": len(outcome.results),
        "start_s": round(start_s, 3),
        "wall_s": round(wall_s, 3),
        "task_s": round(task_s, 3),
        "task_ms_mean": round(1000 * task_s / len(outcome.results), 1),
        "overhead_ms": round(1000 * (wall_s * workers - task_s) / len(outcome.results), 1),
        "rss_mb": sorted(round(s["rss_mb"], 1) for s in stats.values()),
        "worker_cpu_s": sorted(round(s["cpu_s"], 2) for s in stats.values()),
        "cpu_ms_per_task": round(1000 * sum(s["cpu_s"] for s in stats.values()) / len(outcome.results), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--limit", type=int, default=20_000, help="events read per LOBSTER file")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_sweep(folder, args.tasks, args.limit)
        for workers in (int(w) for w in args.workers.split(",")):
            run = measure(config, workers, folder)
            runs.append(run)
            print(
                f"{workers} worker(s): {run['tasks']} tasks in {run['wall_s']:.2f} s (cluster start "
                f"{run['start_s']:.2f} s), {run['task_ms_mean']:.0f} ms/task on the worker, overhead "
                f"{run['overhead_ms']:.1f} ms/task, worker RSS {run['rss_mb']} MB"
            )
    by_workers = {r["workers"]: r for r in runs}
    speedup = None
    if 1 in by_workers and 2 in by_workers:
        speedup = round(by_workers[1]["wall_s"] / by_workers[2]["wall_s"], 2)
        print(f"speedup 1 -> 2 workers: {speedup:.2f}x")
    report = {
        "benchmark": "sweep",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "limit": args.limit,
        "runs": runs,
        "speedup": speedup,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
