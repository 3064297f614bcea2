"""``benchmarks/bench_backtest_bars.py`` runs, so it cannot rot: a few thousand bars, two pairs, checked for what
docs/PERFORMANCE.md's bar section rests on (both backtrader setups, CPU and wall, the trade count and the
explained first difference, the ratio last), not for the values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tapeflow.engine import Kernel
from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_backtest_bars.py"


def _run(*args: str) -> tuple[list[str], dict[str, Any]]:
    return run_bench(BENCH, *args)


def test_paired_run_reports_both_backtrader_setups_the_trade_difference_and_the_ratio_last() -> None:
    pytest.importorskip("backtrader")
    lines, report = _run("--bars", "6000", "--pairs", "2")
    assert report["benchmark"] == "backtest_bars" and report["bars"] == 6000 and report["pairs"] == 2
    assert report["core"] == Kernel().impl  # the kernel loops the benchmark ran, printed with its figures
    for key in ("tapeflow_cpu", "tapeflow_wall", "backtrader_fast_cpu", "backtrader_fast_wall",
                "backtrader_default_cpu", "backtrader_default_wall"):  # fmt: skip
        assert report[f"{key}_bars_per_s"] > 0
    assert 0 < report["ratio_min"] <= report["ratio"] <= report["ratio_max"]
    matching = report["matching_trades"]
    assert 0 < matching <= min(report["tapeflow_trades"], report["backtrader_trades"])
    assert report["differing_tapeflow"] == report["tapeflow_trades"] - matching
    # the synthetic walk's first integer tie that backtrader's floats cross on comes at trade 111
    assert report["first_difference"] == 111
    assert any(line.startswith("trades first differ at trade 111") for line in lines)
    assert lines[-2].startswith("CPU-time ratio tapeflow / backtrader stdstats=False")


def test_rss_mode_measures_listed_and_streamed_bars_in_child_processes() -> None:
    lines, report = _run("--rss", "3000")
    assert report["benchmark"] == "backtest_bars_rss" and report["bars"] == 3000
    assert report["listed_peak_rss_mib"] > 0 and report["streamed_peak_rss_mib"] > 0
    assert len(lines) == 3


def test_split_mode_prints_per_bar_and_per_order_costs_of_the_tree_it_imports() -> None:
    lines, report = _run("--split", "--bars", "3000")
    assert report["benchmark"] == "backtest_bars_split" and report["orders"] > 0
    assert 0 < report["ns_per_bar_without_orders"] < report["ns_per_bar"]
    assert lines[0].startswith("tapeflow (") and "us each" in lines[0]


def test_parts_mode_prints_each_order_path_components_cpu_per_order() -> None:
    lines, report = _run("--parts", "--bars", "3000")
    assert report["benchmark"] == "backtest_bars_parts" and report["orders"] > 0
    # every component was called on the order path, and risk's time includes execution's
    assert report["RiskEngine.on_command"] > report["ExecutionEngine.execute"] > 0
    assert report["SimulatedExchange._on_submit"] > 0 and report["Portfolio.on_fill"] > 0
    assert lines[0].endswith("(two per timed call, counted in its part)")


def test_dispatch_mode_counts_each_event_type_per_order_and_names_its_subscribers() -> None:
    lines, report = _run("--dispatch", "--bars", "3000")
    assert report["benchmark"] == "backtest_bars_dispatch" and report["orders"] > 0
    # one of each per order, a round trip's two orders alike; the report's subscribers in their kernel order
    for kind in ("Signal", "SubmitOrder", "OrderAccepted", "OrderFilled"):
        assert report[kind]["per_order"] == 1.0
    assert report["SubmitOrder"]["subscribers"][0] == "RiskEngine.on_command"
    assert "OrderEmulator.on_report (gated)" in report["OrderFilled"]["subscribers"]
    # the exchange's arrival handler: its Python method, or the compiled path's (TAPEFLOW_PURE_PYTHON decides)
    arrivals = ("call_at SimulatedExchange._on_submit", "call_at CompiledExchange.on_submit")
    assert [report.get(name) for name in arrivals].count(1.0) == 1
    assert lines[0].endswith("the subscribers each is dispatched to:")


def test_floor_mode_prints_the_per_bar_floor_and_what_100x_backtrader_leaves_after_it() -> None:
    lines, report = _run("--floor", "--bars", "3000")
    assert report["benchmark"] == "backtest_bars_floor" and report["orders"] > 0
    assert report["build_ns_per_bar"] > 0 and report["strategy_ns_per_bar"] > 0
    floor = report["build_ns_per_bar"] + report["strategy_ns_per_bar"]
    assert floor < report["run_ns_per_bar_without_orders"] < report["run_ns_per_bar"]
    assert lines[3].strip().startswith("= the floor before the engine")
    if "backtrader" in report:  # not installed: said instead of the budget
        assert report["backtrader"].startswith("backtrader not installed")
        return
    assert abs(report["budget_100x_ns_per_bar"] - report["backtrader_ns_per_bar"] / 100) <= 1
    assert abs(report["left_ns_per_bar"] - (report["budget_100x_ns_per_bar"] - floor)) <= 2
    assert lines[-2].startswith("backtrader stdstats=False")


def test_digest_mode_gives_one_digest_for_the_python_reference_and_the_compiled_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "1")
    lines, python = _run("--digest", "--bars", "3000")
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "0")
    _, compiled = _run("--digest", "--bars", "3000")
    assert python["benchmark"] == "backtest_bars_digest" and python["orders"] > 0
    assert compiled == python  # what a compiled tree is compared on: every digest and counter
    assert python["counters"][0] == python["orders"]  # every fill the exchange booked is in the results
    _, shorter = _run("--digest", "--bars", "2000")
    for key in ("event_log", "fills", "order_records", "summary"):
        assert len(python[key]) == 64 and shorter[key] != python[key]
    assert lines[0].startswith("tapeflow (") and "event log" in lines[0]


def test_once_mode_runs_with_or_without_orders_and_prints_only_its_report() -> None:
    lines, orders = _run("--once", "orders", "--bars", "3000")
    assert orders == {"benchmark": "backtest_bars_once", "bars": 3000, "mode": "orders", "orders": orders["orders"]}
    assert orders["orders"] > 0 and len(lines) == 1
    _, none = _run("--once", "no_orders", "--bars", "3000")
    assert none["mode"] == "no_orders" and none["orders"] == 0


def test_calls_mode_counts_python_calls_and_bytecodes_per_order_by_function() -> None:
    lines, report = _run("--calls", "--bars", "3000")
    assert report["benchmark"] == "backtest_bars_calls" and report["orders"] > 0
    assert report["calls_per_order"] > 10 and report["bytecodes_per_order"] > 500
    assert lines[0].endswith("(orders run minus") and lines[2].split() == ["inclusive", "own", "calls", "function"]
    assert any(line.endswith("(on_command)") and "risk/engine.py" in line for line in lines[3:])
