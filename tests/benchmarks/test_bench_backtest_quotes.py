"""``benchmarks/bench_backtest_quotes.py`` runs, so it cannot rot: a few thousand quotes, one round, checked for
what docs/PERFORMANCE.md's "Quotes" section rests on (risk on, the same crossings and orders on every side that
ran, both Nautilus set-ups, the ratios last), not for the values."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_backtest_quotes.py"


def test_the_quote_benchmark_runs_every_side_with_risk_and_reports_the_same_crossings_and_orders() -> None:
    _, report = run_bench(BENCH, "--quotes", "5000", "--pairs", "1", timeout=180, cwd=BENCH.parent)
    ours = report["tapeflow"]
    assert report["quotes"] == 5000 and ours["crossings"] > 0
    assert report["quote_handler"] in ("compiled", "python"), "the benchmark says which quote handler ran"
    assert ours["orders"] == ours["crossings"] and ours["refused"] == 0, "one order per crossing, none refused by risk"
    if "nautilus" in report:  # the peer is not installed: the benchmark says so and stops
        return
    for side in ("nautilus_risk", "nautilus_fast"):
        assert (report[side]["crossings"], report[side]["orders"]) == (ours["crossings"], ours["orders"])
        assert report[f"ratio_cpu_{side}"] > 0 and report[f"ratio_wall_{side}"] > 0
    assert list(report)[-1] == "ratio_wall_nautilus_risk"


def test_the_quote_benchmarks_split_accounts_for_the_whole_run_by_its_parts() -> None:
    _, report = run_bench(BENCH, "--quotes", "5000", "--split", timeout=180, cwd=BENCH.parent)
    parts = ("order_path", "keeper", "strategy", "kernel_and_rest")
    assert report["keeper_impl"] in ("compiled", "python") and report["whole"] > 0
    assert abs(sum(report[p] for p in parts) - report["whole"]) < 1e-6 * report["whole"]
    assert report["keeper"] > 0 and report["strategy"] > 0
    assert len(report["subscribers"]) == 3, "the keeper, the risk engine's staleness append, the strategy"
