"""``benchmarks/bench_ml_instructions.py --cache`` runs under valgrind, so it cannot rot: tiny (1,000 and 2,000
quotes, one count each), checked for what docs/PERFORMANCE.md's estimated cycles rest on: each run's estimate is
its instructions plus the stated weights of its misses, and the share is what the recorder adds over the run
without it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ml_instructions.py"


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None, reason="needs valgrind and cc")
def test_the_cache_run_reports_each_runs_estimated_cycles_from_its_counts_and_the_recorders_share() -> None:
    lines, report = run_bench(
        BENCH, "--quotes", "1000", "--counts", "1", "--jobs", "2", "--cache", timeout=1200, cwd=BENCH.parent
    )
    assert any("est. cycles = I refs + 10 x (I1 + D1 misses) + 100 x LL misses" in line for line in lines)
    assert report["benchmark"] == "ml_instructions" and report["samples"] > 0
    est, runs = report["est. cycles"], ("none 1000", "none 2000", "recorder 1000", "recorder 2000")
    for run in runs:
        l1 = report["I1 misses"]["runs"][run] + report["D1 misses"]["runs"][run]
        assert est["runs"][run] == report["I refs"]["runs"][run] + 10 * l1 + 100 * report["LL misses"]["runs"][run]
    for name in ("I refs", "est. cycles"):
        figure = report[name]
        r = figure["runs"]
        added = (r["recorder 2000"] - r["none 2000"]) - (r["recorder 1000"] - r["none 1000"])
        assert figure["share_pct"] == pytest.approx(100 * added / (r["none 2000"] - r["none 1000"]), abs=0.01)
        assert figure["recorder_per_sample"] == pytest.approx(added / report["samples"], abs=0.1)
        assert figure["share_pct"] > 0
