"""``benchmarks/bench_book.py`` runs, so it cannot rot: a tiny stream, checked for what the Order book figures in
docs/PERFORMANCE.md rest on (same final books, paired ratios, the JSON last), not for their values."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_book.py"


def test_tiny_run_verifies_both_books_equal_and_ends_with_paired_ratios_as_json() -> None:
    lines, report = run_bench(BENCH, "--n", "3000", "--pairs", "2")
    assert report["bench"] == "book_l2" and report["n"] == 3000 and report["pairs"] == 2
    assert report["checks"]["timed_books_top_levels_differing"] == 0
    assert report["rates"]["tapeflow_apply"]["cpu"] > 0 and report["rates"]["tapeflow_apply"]["wall"] > 0
    if importlib.util.find_spec("nautilus_trader") is None:
        assert any(line.startswith("skip: NautilusTrader") for line in lines)
        return
    assert report["checks"]["best_price_mismatches"] == 0
    assert report["checks"]["top_level_differences"] == 0
    for peer in ("nautilus_from_raw", "nautilus_constructors"):
        ratio = report["cpu_ratio_vs_tapeflow_apply"][peer]
        assert 0 < ratio["min"] <= ratio["median"] <= ratio["max"]
    assert lines[-2].startswith(f"tapeflow ({report['impl']}) speed-up over nautilus_constructors")
    assert lines[0].startswith(f"tapeflow L2Book.apply: {report['impl']} ")
    assert report["sizes"] == ("LevelSizes" if report["impl"] == "compiled" else "dict")  # which state ran, said
    if report["impl"] == "compiled":  # the reference is paired with Nautilus too, and its books checked equal
        reference = report["context"]["python_reference_over_nautilus_from_raw"]
        assert 0 < reference["min"] <= reference["median"] <= reference["max"]
        assert report["rates"]["tapeflow_apply_python"]["cpu"] > 0
