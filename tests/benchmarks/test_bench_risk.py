"""``benchmarks/bench_risk.py`` and ``bench_risk_ab.py`` run, so they cannot rot: a few hundred orders, checked
for what docs/PERFORMANCE.md's Risk engine section rests on (every workload, both clocks, a median inside its
spread, the goal's verdict), not for the values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.benchmarks.bench_run import run_bench

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("bare", "pass", "pass-kernel", "no-rules", "reject-first", "modify", "pass-bars")


def _run(script: str, *args: str) -> tuple[list[str], dict[str, Any]]:
    return run_bench(ROOT / "benchmarks" / script, *args)


def test_every_workload_reports_wall_and_cpu_per_order_and_the_goal_verdict() -> None:
    lines, report = _run("bench_risk.py", "--orders", "400", "--runs", "5")
    assert report["benchmark"] == "risk" and report["orders"] == 400 and report["runs"] == 5
    assert report["rules"] >= 24, "every default rule is on"
    assert "one composed fast check" in lines[1]
    for w in WORKLOADS:
        for clock in ("", "_cpu"):
            low, high = report[f"{w}{clock}_us_spread"]
            assert 0 < low <= report[f"{w}{clock}_us"] <= high
    assert isinstance(report["goal_met_cpu"], bool) and isinstance(report["goal_met_wall"], bool)


def test_ab_runs_both_trees_alternately_and_reports_a_ratio_per_workload() -> None:
    lines, report = _run("bench_risk_ab.py", "--other", str(ROOT / "src"), "--orders", "300", "--pairs", "5")
    assert report["benchmark"] == "risk_ab" and report["pairs"] == 5
    assert lines[0].startswith("other: ") and lines[1].startswith("this: ")
    for w in WORKLOADS[1:]:
        for side in ("other", "this"):
            low, high = report[f"{w}_{side}_cpu_us_spread"]
            assert 0 < low <= report[f"{w}_{side}_cpu_us"] <= high
        assert report[f"{w}_this_speed_vs_other"] > 0


def test_calls_counts_python_calls_and_bytecodes_per_order_by_function() -> None:
    lines, report = _run("bench_risk.py", "--calls", "pass-kernel", "--orders", "400")
    assert report["benchmark"] == "risk_calls" and report["workload"] == "pass-kernel"
    assert report["calls"] >= 5 and report["bytecodes"] > 300
    assert lines[0].startswith(f"pass-kernel: per order {report['calls']} Python calls")
    assert lines[2].split() == ["inclusive", "own", "calls", "function"]
    assert any(line.endswith("(on_command)") and "risk/engine.py" in line for line in lines[3:])
    assert any("<risk fast check" in line and line.endswith("(check)") for line in lines[3:])


def test_once_runs_one_workload_over_the_first_orders_and_nothing_else() -> None:
    lines, report = _run("bench_risk.py", "--once", "pass-kernel", "--orders", "400", "--run", "150")
    assert lines == ['{"once": "pass-kernel", "orders": 150}'] and report == {"once": "pass-kernel", "orders": 150}
