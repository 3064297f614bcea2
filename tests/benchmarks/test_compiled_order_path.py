"""``scripts/compiled_order_path.py`` still applies to this tree, so the compiled order path's figures in
docs/PERFORMANCE.md can be made again: mypyc's source changes (the Structs moved to interpreted modules, the rest)
find their text, and the edited tree, interpreted, gives the bar benchmark's results byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.bench_run import run_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "compiled_order_path.py"
BENCH = ROOT / "benchmarks" / "bench_backtest_bars.py"


def test_mypycs_source_changes_apply_and_leave_the_bar_backtests_results_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tree), "--compiler", "edits", "--extended"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    src = tree / "src" / "tapeflow"
    # each Struct now sits in an interpreted module of its own, imported back where it was
    assert "class PortfolioConfig(" in (src / "portfolio" / "portfolio_config.py").read_text()
    assert "class PortfolioConfig(" not in (src / "portfolio" / "portfolio.py").read_text()
    assert "@mypyc_attr(allow_interpreted_subclasses=True)" in (src / "strategy" / "base.py").read_text()
    _, here = run_bench(BENCH, "--digest", "--bars", "2000")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tree / "src"), os.environ.get("PYTHONPATH", "")]))
    lines, edited = run_bench(BENCH, "--digest", "--bars", "2000")
    assert lines[0].startswith(f"tapeflow ({tree / 'src'},")  # the edited copy ran, not this checkout
    assert edited == here


def test_it_refuses_a_directory_inside_the_repository() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(ROOT / "build" / "compiled-tree")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "outside the repository" in done.stderr
    assert not (ROOT / "build" / "compiled-tree").exists()
