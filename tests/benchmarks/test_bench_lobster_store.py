"""``benchmarks/bench_lobster_store.py`` runs, so it cannot rot: all four replays, equal reports, the ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.data.lobster import COMPILED_AVAILABLE
from tests.benchmarks.bench_run import run_bench

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lobster_store.py"
GOOG1 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"


@pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")
def test_one_round_reports_the_store_zip_and_reference_rates_and_the_ratios_last(data_dir: Path) -> None:
    lines, report = run_bench(BENCH, "--file", str(data_dir / GOOG1), "--pairs", "1", "--quick")
    assert report["bench"] == "lobster_store" and report["pairs"] == 1
    results = report["results"]
    for name in ("store compiled", "store 1 thread", "zip compiled", "store python"):
        for clock in ("cpu", "wall"):
            rates = results[name][f"{clock}_msgs_per_s"]
            assert 0 < rates["min"] <= rates["median"] <= rates["max"]
    assert results["cpu_ratio_vs_store_python"]["median"] > 1  # the compiled loop beats its reference
    assert results["wall_ratio_vs_store_1_thread"]["median"] > 0
    assert lines[-3].startswith("goal >= 3,000,000 msgs/s (wall): ")
    assert lines[-2].startswith("goal >= 3,000,000 msgs/s (cpu): ")


@pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")
def test_breakdown_splits_the_compiled_replay_into_its_loop_read_hash_and_rest(data_dir: Path) -> None:
    lines, report = run_bench(BENCH, "--file", str(data_dir / GOOG1), "--pairs", "1", "--quick", "--breakdown")
    parts = report["results"]["breakdown_s"]
    assert 0 < parts["loop"] < parts["replay"] and parts["read"] > 0 and parts["sha256"] > 0
    assert abs(parts["replay"] - parts["loop"] - parts["read"] - parts["sha256"] - parts["rest"]) < 1e-9
    assert [line.split()[1] for line in lines if line.startswith("breakdown ")] == [
        "replay", "loop", "read", "sha256", "rest"
    ]  # fmt: skip


@pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")
def test_against_an_older_tree_alternates_fresh_processes_and_prints_the_ratio_new_over_old(data_dir: Path) -> None:
    """This tree against itself: both sides load the cores from the given src, the reports agree, a ratio each."""
    src = BENCH.parents[1] / "src"
    lines, report = run_bench(
        BENCH, "--file", str(data_dir / GOOG1), "--pairs", "2", "--quick", "--against", str(src)
    )  # fmt: skip
    against = report["results"]["against"]
    for name in ("store", "zip"):
        ratio = against[name]["cpu_ratio_new_old"]
        assert 0 < ratio["min"] <= ratio["median"] <= ratio["max"]
    assert [line.split(":")[0] for line in lines if line.startswith(("old: ", "new: "))] == ["old", "new"]
    assert all(str(src) in line for line in lines if line.startswith(("old: ", "new: ")))


@pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")
def test_ab_times_the_whole_replay_and_its_loop_in_alternated_fresh_processes(data_dir: Path, tmp_path: Path) -> None:
    """``bench_lobster_store_ab.py``, this tree against itself: both parts timed, the loop inside the whole."""
    from tapeflow.data.lobster_events import iter_events
    from tapeflow.data.lobster_store import write_lobster_book
    from tapeflow.data.store_writer import write_store

    zip_path = data_dir / GOOG1
    store = tmp_path / "store"
    write_store(iter_events(zip_path), store, tables=lambda w: write_lobster_book(w, zip_path))
    ab = BENCH.with_name("bench_lobster_store_ab.py")
    lines, report = run_bench(ab, "--store", str(store), "--other", str(BENCH.parents[1] / "src"), "--pairs", "2",
                              "--reps", "1")  # fmt: skip
    assert report["bench"] == "lobster_store_ab" and report["pairs"] == 2 and report["rows"] > 0
    for side in ("old_ns", "new_ns"):
        assert 0 < report["loop"][side] < report["whole"][side] and report["wall"][side] > 0
    assert [line.split()[0] for line in lines[:3]] == ["whole", "loop", "wall"]
