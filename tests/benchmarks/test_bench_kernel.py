"""``benchmarks/bench_kernel.py`` runs, so it cannot rot: a tiny input, checked for what docs/PERFORMANCE.md's
Kernel section rests on (every workload's count, a median inside its spread, both clocks), not for the values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernel.py"


def test_every_workload_reports_wall_and_cpu_median_inside_its_spread_and_the_goals() -> None:
    lines, report = run_bench(BENCH, "--events", "4000", "--runs", "5")
    assert report["benchmark"] == "kernel" and report["events"] == 4000 and report["runs"] == 5
    assert report["kernel"].endswith("kernel.py")
    for w in ("bare", "merge", "generic", "scheduled"):
        for clock in ("", "_cpu"):
            low, high = report[f"{w}{clock}_events_per_s_spread"]
            assert 0 < low <= report[f"{w}{clock}_events_per_s"] <= high
    assert 0.05 < report["scheduled_share"] < 0.15, "about 10% of dispatched events come from the schedule"
    for goal in ("merge", "scheduled"):
        assert isinstance(report[f"goal_{goal}_met_cpu"], bool) and isinstance(report[f"goal_{goal}_met_wall"], bool)
        assert any(line.startswith(f"goal {goal} >= ") for line in lines)


def test_fewer_than_five_runs_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "400", "--runs", "3"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--runs must be at least 5" in done.stderr


INSTRUCTIONS = BENCH.with_name("bench_kernel_instructions.py")


def test_the_instruction_counts_processes_run_each_part_outside_valgrind() -> None:
    """Each counted process (``--inner``) runs its part to the end: without valgrind the window counts nothing, so
    this checks only that the parts cannot rot, not a count (that needs valgrind and minutes)."""
    for part in ("merge", "feed", "merged", "handler", "produced", "scheduled"):
        done = subprocess.run(
            [sys.executable, str(INSTRUCTIONS), "--events", "2000", "--inner", part],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]


def test_an_unknown_part_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(INSTRUCTIONS), "--parts", "merge,sort"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--parts takes merge, feed, merged" in done.stderr
