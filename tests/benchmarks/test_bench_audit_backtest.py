"""``benchmarks/bench_audit_backtest.py`` runs, so it cannot rot: a tiny demo backtest, one round, checked for what
docs/PERFORMANCE.md's "Audit writer" section rests on (both writers timed, the same records), not for the values."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_audit_backtest.py"


def test_the_audit_backtest_benchmark_times_both_writers_against_no_trail() -> None:
    lines, report = run_bench(BENCH, "--events", "2000", "--pairs", "1", timeout=180)
    assert report["benchmark"] == "audit_backtest" and report["records"] > 0
    assert report["auto_writer"] in ("thread", "process")
    for writer in ("process", "thread"):
        assert f"{writer}_wall_slowdown" in report and f"{writer}_cpu_slowdown" in report
        assert report[f"{writer}_open_ms"] > 0  # what opening the trail costs, the store's layout inside
    assert any(line.startswith("with the thread writer") for line in lines)
