"""``benchmarks/bench_itch.py`` runs, so it cannot rot, and its peak RSS is the child's own, not its parent's."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_itch.py"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_itch", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_reports_both_implementations_identical_counts_and_flat_memory(tmp_path: Path) -> None:
    _, report = run_bench(BENCH, "--messages", "20000", "--runs", "2", "--keep", str(tmp_path))
    assert report["benchmark"] == "itch_parse" and report["implementation"] == "compiled"
    assert report["file_messages"] == 20_000 and report["passes_that_differ"] == 0
    for name in ("compiled", "python", "compiled+book"):
        rates = report["rates"][name]
        assert rates["runs"] == 2 and 0 < rates["cpu_rate_min"] <= rates["cpu_rate_median"] <= rates["cpu_rate_max"]
    peaks = report["peak_rss_mb"]
    assert set(peaks) == {"baseline_one_chunk", "compiled_1x", "compiled_4x", "python_1x", "python_4x"}
    assert all(peak > 0 for peak in peaks.values())
    assert report["book_cpu_ns_per_msg"] > 0 and report["cpu_ratio_compiled_over_python"] > 0


def test_child_peak_rss_excludes_what_the_parent_held(tmp_path: Path) -> None:
    # ru_maxrss of a child carries the parent's peak across fork and exec on Linux; the benchmark reports the
    # child's own high-water mark instead. A parent holding 160 MB must not show in it.
    bench = _bench()
    path = tmp_path / "tiny.itch"
    subprocess.run([sys.executable, str(BENCH.parent / "gen_itch.py"), str(path), "--messages", "2000"], check=True)
    held = bytearray(160 * 1024 * 1024)
    held[:: 1 << 12] = b"\x01" * len(held[:: 1 << 12])  # touch every page: resident
    child = bench._child(["rss", str(path), "python", str(sys.maxsize)])
    assert child["messages"] == 2000
    assert child["ru_maxrss_kib"] > 160 * 1024  # the inherited figure, which the benchmark does not report
    assert child["vm_hwm_kib"] < 120 * 1024
    del held
