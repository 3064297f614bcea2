"""``benchmarks/bench_sweep.py`` runs, so it cannot rot: 8 tiny LOBSTER tasks on one worker, checked for what the
figures in docs/SCALE.md rest on (every task ran on real data, times and memory measured), not for their values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sweep.py"


def test_the_sweep_benchmark_measures_tasks_overhead_and_worker_memory(data_dir: Path) -> None:
    env = {**os.environ, "TAPEFLOW_DATA": str(data_dir)}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tasks", "8", "--limit", "500", "--workers", "1"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    (run,) = report["runs"]
    assert (report["benchmark"], run["workers"], run["tasks"], report["speedup"]) == ("sweep", 1, 8, None)
    assert run["task_s"] > 0 and run["wall_s"] > 0 and run["cpu_ms_per_task"] > 0
    assert len(run["rss_mb"]) == 1 and run["rss_mb"][0] > 50  # a worker holding numpy, pyarrow and tapeflow
