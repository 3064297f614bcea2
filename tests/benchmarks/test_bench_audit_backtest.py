"""``benchmarks/bench_audit_backtest.py`` runs, so it cannot rot: a tiny demo backtest, one round, checked for what
docs/PERFORMANCE.md's "Audit writer" section rests on (both writers timed, the same records), not for the values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_audit_backtest.py"


def test_the_audit_backtest_benchmark_times_both_writers_against_no_trail() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "2000", "--pairs", "1"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["benchmark"] == "audit_backtest" and report["records"] > 0
    assert report["auto_writer"] in ("thread", "process")
    for writer in ("process", "thread"):
        assert f"{writer}_wall_slowdown" in report and f"{writer}_cpu_slowdown" in report
        assert report[f"{writer}_open_ms"] > 0  # what opening the trail costs, the store's layout inside
    assert any(line.startswith("with the thread writer") for line in lines)
