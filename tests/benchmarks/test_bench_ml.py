"""``benchmarks/bench_ml.py`` runs, so it cannot rot: each part tiny (a few thousand quotes, a 5-minute window),
checked for what the figures in docs/PERFORMANCE.md rest on, not for their values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tapeflow.book import keeper as keeper_module
from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ml.py"
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def _run(*args: str) -> tuple[list[str], dict[str, Any]]:
    return run_bench(BENCH, "--repeat", "2", *args)


def _ordered(s: dict[str, float]) -> bool:
    return 0 < s["min"] <= s["median"] <= s["max"]


def test_recording_and_latency_report_per_quote_costs_for_each_variant_and_condition() -> None:
    lines, report = _run("--quotes", "6000", "--parts", "recording,latency", "--busy-rows", "2000", "--chunk", "2500")
    assert lines[0].startswith("1. feature recording on the quote backtest (an event is a quote): 6,000 events")
    # each pair's two runs take turns through the stream: 2,500 + 2,500 + 1,000 events
    assert lines[1].strip().startswith("each pair's two runs take turns every 2,500 events (3 turns each)")
    assert report["benchmark"] == "ml" and report["cpus"] >= 1
    recording = report["recording"]
    assert recording["events"] == 6000 and recording["pairs"] == 2
    assert recording["chunk"] == 2500 and recording["turns"] == 3
    assert recording["sampling_timer"] == "callback-only"
    assert recording["sample_step"] in ("compiled", "python")  # which sample step ran
    # the benchmark says which flow handler the keeper ran
    assert recording["handler"] in ("compiled FlowQuoteHandler", "Python on_quote_flow")
    assert recording["quote_flow"] == f"kept by the book keeper ({recording['handler']})"
    for variant in ("1s", "100ms", "quotes_only"):
        for side in ("without", "with"):
            figures = recording[variant][side]
            assert _ordered(figures["ns_per_event"]) and _ordered(figures["cpu_ns_per_event"])
        assert _ordered(recording[variant]["cpu_ratio"])
        over = recording[variant]["overhead_pct"]
        assert over["min"] <= over["median"] <= over["max"]
    assert recording["quotes_only"]["samples"] == 0 and "goal_met" not in recording["quotes_only"]
    # the stream spans ~140 s of event time: a sample a second, ten at 100 ms
    assert 50 < recording["1s"]["samples"] < recording["100ms"]["samples"] // 5
    for variant in ("1s", "100ms"):
        assert isinstance(recording[variant]["goal_met"], bool)
    overhead_lines = [x for x in lines if x.lstrip().startswith("overhead")]
    assert len(overhead_lines) == 3 and all("; CPU ratio with/without " in x for x in overhead_lines)  # ratio last
    latency = report["latency"]
    assert latency["batch"] == 100 and len(latency["trainings_finished_per_run"]) == 2
    for condition in ("idle", "training"):
        figures = latency[condition]
        assert figures["p50"]["median"] <= figures["p99"]["median"] <= figures["max"]["median"]
        assert 0 < figures["cpu_p50"]["median"] <= figures["cpu_p99"]["median"]
    assert isinstance(latency["goal_met"], bool) and "cpu_p99_change_pct" in latency


def test_retrain_times_each_kind_in_process_through_the_warm_pool_and_cold(data_dir: Path) -> None:
    args = ("--parts", "recording_lobster,retrain", "--file", str(data_dir / AAPL), "--lobster-events", "20000")
    args += ("--window-s", "300", "--trigger", "09:40", "--kinds", "ridge,hgb", "--cold-repeat", "1")
    _, report = _run(*args)
    replay = report["recording_lobster"]
    assert replay["events"] == 20000 and _ordered(replay["1s"]["without"]["cpu_ns_per_event"])
    assert 0 < replay["1s"]["samples"] < replay["100ms"]["samples"], "both cadences sample the replayed stretch"
    retrain = report["retrain"]
    assert 250 < retrain["samples"] < 300, "5 minutes at 1 s, less the 10 s horizon purged before the trigger"
    assert retrain["window_s"] == 300 and retrain["pool_start_warm_ms"] > 0
    assert set(retrain["kinds"]) == {"ridge", "hgb"}
    for figures in retrain["kinds"].values():
        assert _ordered(figures["in_process_ms"]) and _ordered(figures["pool_ms"])
        assert figures["pool_ms"]["min"] >= figures["worker_fit_ms"]["min"], "submit to result includes the fit"
        assert figures["cold_modules_imported"] > 100, "a cold worker imports the libraries; a warm one does not"
        assert figures["cold_first_ms"]["median"] > figures["pool_ms"]["median"]


def test_a_missing_lobster_file_skips_the_retrain_part_and_still_ends_with_the_json_line(tmp_path: Path) -> None:
    lines, report = _run("--parts", "retrain", "--file", str(tmp_path / "absent.zip"))
    assert "not found" in lines[0]
    assert report["retrain"] == {"skipped": str(tmp_path / "absent.zip")}


def test_the_volatility_part_times_both_updates_and_finds_no_differing_value() -> None:
    lines, report = _run("--quotes", "6000", "--parts", "vol")
    assert lines[0].startswith("1c. realized volatility per sample (every 43 quotes, 29 held): ")
    vol = report["vol"]
    assert vol["samples"] > 1000 and 0 < vol["mid_moved"] <= vol["samples"]  # ten passes over ~140 mids
    assert _ordered(vol["fsum_cpu_ns"]) and _ordered(vol["squares_cpu_ns"]) and _ordered(vol["cpu_ratio"])
    assert vol["differing_values"] == 0
    assert lines[3].strip().startswith("CPU ratio push/fsum ")  # ratio last


@pytest.mark.skipif(not keeper_module.COMPILED_AVAILABLE, reason="the compiled quote handler was not built")
def test_flow_part_times_each_keeper_handler_and_says_which_ran() -> None:
    lines, report = _run("--quotes", "3000", "--parts", "flow")
    assert lines[0].startswith("1d. the keeper's quote handler alone: 3,000 quotes, 2 interleaved rounds")
    flow = report["flow"]
    assert flow["ran"] == {"python flow": "Python", "compiled flow": "compiled", "compiled plain": "compiled"}
    for side in ("python flow", "compiled flow", "compiled plain"):
        assert flow[side]["min"] <= flow[side]["median"] <= flow[side]["max"]
    assert _ordered(flow["cpu_ratio"]) and lines[-2].lstrip().startswith("CPU ratio compiled flow / python flow")


def test_breakdown_part_splits_the_overhead_into_steps_that_sum_to_the_whole() -> None:
    lines, report = _run("--quotes", "6000", "--parts", "breakdown")
    assert lines[0].startswith("1e. the recording overhead at 1 s, step by step: 6,000 quotes")
    b = report["breakdown"]
    assert b["samples"] > 50 and b["interval_ns"] == 1_000_000_000
    steps = ("flow handler", "sampling timer", "tick's work")
    for step in steps:
        figures = b[step]["ns_per_quote"]
        assert figures["min"] <= figures["median"] <= figures["max"] and "us_per_sample" in b[step]
    assert set(b["cpu_ns_per_quote"]) == {"none", "flow", "timer", "full"}
    assert _ordered(b["warm_tick_us"])
    # the tick's own CPU in the loop, for each sample step the tree has
    # and beside each, the labels' backstop call's, per sample
    assert set(b["tick_in_loop_us"]) in (
        {"compiled", "compiled backstop", "python", "python backstop"},
        {"python", "python backstop"},
    )
    assert b["tick_in_loop_us"]["python"]["median"] > 0
    assert b["tick_in_loop_us"]["python backstop"]["median"] > 0
