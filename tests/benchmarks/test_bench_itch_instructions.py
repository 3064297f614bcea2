"""``benchmarks/bench_itch_instructions.py`` runs under valgrind, so it cannot rot: tiny (2,000 and 4,000 messages,
one count each), checked for what docs/PERFORMANCE.md's figure rests on: the difference of the two sizes' counts
over the messages added, and a callgrind file kept for each counted run when asked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_itch_instructions.py"


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None, reason="needs valgrind and cc")
def test_the_figure_is_the_two_sizes_difference_per_added_message_and_the_profiles_are_kept(tmp_path: Path) -> None:
    _, report = run_bench(
        BENCH, "--messages", "2000", "--counts", "1", "--callgrind-out", str(tmp_path), timeout=900, cwd=BENCH.parent
    )
    assert report["benchmark"] == "itch_instructions" and report["implementation"] == "compiled"
    runs = report["runs"]
    assert report["per_message"] == pytest.approx((runs["4000"][0] - runs["2000"][0]) / 2000, abs=0.1)
    assert report["per_message"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "callgrind.compiled.2000.0.out",
        "callgrind.compiled.4000.0.out",
    ]
