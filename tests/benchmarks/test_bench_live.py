"""``benchmarks/bench_live.py`` runs, so it cannot rot: a tiny configuration (a few hundred messages, a second of
the paper venue), checked for what the figures in docs/PERFORMANCE.md rest on, not for their values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_live.py"
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def _run(*args: str) -> tuple[list[str], dict[str, Any]]:
    return run_bench(BENCH, "--repeat", "1", *args, timeout=180)


def test_the_in_process_path_measures_every_order_and_holds_a_slow_rate() -> None:
    lines, report = _run("--rates", "2000", "--seconds", "0.4", "--every", "10", "--paper-seconds", "0")
    assert lines[0].startswith("2,000 msgs/s offered")
    assert report["benchmark"] == "live"
    run = report["rates"]["2000"]
    # 800 messages, 9 in 10 quotes, an order on every 10th quote: 72 orders, each written and timed once
    assert run["tick_to_trade"]["n"] == 72
    assert 0 < run["tick_to_trade"]["p50_us"] <= run["tick_to_trade"]["p99_us"] <= run["tick_to_trade"]["max_us"]
    assert run["backlog"]["n"] == 800, "every offered message dispatched"
    assert run["sink_ack"]["n"] == 72
    assert run["malformed"] == 0


def test_the_round_trip_to_the_paper_venue_is_measured(data_dir: Path) -> None:
    _, report = _run("--rates", "--paper-seconds", "4", "--paper-every", "5", "--file", str(data_dir / LOBSTER))
    paper = report["paper"]
    assert paper["ack"]["n"] > 0, "orders acknowledged by the paper venue"
    assert paper["tick_to_trade"]["p50_us"] <= paper["ack"]["p50_us"], "an ack comes after its order is written"
