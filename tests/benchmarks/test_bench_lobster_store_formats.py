"""``benchmarks/bench_lobster_store_formats.py`` runs, so it cannot rot: every format read and hashed, the store's
own among them, the JSON last."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lobster_store_formats.py"
GOOG1 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"


def test_one_round_times_the_read_and_hash_of_each_format_the_stores_delta_among_them(data_dir: Path) -> None:
    lines, report = run_bench(BENCH, "--file", str(data_dir / GOOG1), "--rounds", "1")
    assert report["bench"] == "lobster_store_formats" and report["rows"] > 40_000
    results = report["results"]
    assert {"delta", "plain", "plain-lz4", "dictionary", "bss-zstd1"} <= set(results)
    for got in results.values():
        assert got["mib"] > 0 and got["read_ns"] > 0 and got["sha256_ns"] > 0
        assert abs(got["sum_ns"] - got["read_ns"] - got["sha256_ns"]) < 1e-9
    assert results["plain"]["mib"] > results["delta"]["mib"]  # PLAIN int64 is 8 bytes a value, delta packs them
    assert report["best"] in results and lines[-2].startswith("fewest CPU ns a message to read and hash: ")
