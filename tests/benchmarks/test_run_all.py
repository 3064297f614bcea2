"""``benchmarks/run_all.py`` (``make bench``): the table shows what each benchmark printed, and never a figure for a
run that failed, printed no JSON, or skipped its peer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

RUN_ALL = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    return _load()


def _fake(run_all: ModuleType, tmp_path: Path, name: str, body: str) -> Any:
    script = tmp_path / f"{name}.py"
    script.write_text(body, encoding="utf-8")
    bench = run_all.Bench(name, str(script), (), "a goal")
    return bench


def test_a_run_that_fails_or_prints_no_json_shows_no_figure(run_all: ModuleType, tmp_path: Path) -> None:
    failing = _fake(run_all, tmp_path, "kernel", "import sys\nprint('{\"events_per_s\": 1}')\nsys.exit(3)\n")
    silent = _fake(run_all, tmp_path, "risk", "print('figures but no json')\n")
    results = [run_all.run_one(b, tmp_path, sys.executable) for b in (failing, silent)]
    rows = run_all.table_rows(results)
    assert rows[0][1] == "exit 3 (see log)" and rows[0][4] == "?"
    assert rows[1][1] == "no JSON line (see log)" and rows[1][4] == "?"
    assert (tmp_path / "risk.log").read_text(encoding="utf-8").strip() == "figures but no json"


def test_the_last_json_line_is_read_and_a_skipped_peer_is_shown_as_skipped(run_all: ModuleType, tmp_path: Path) -> None:
    ok = _fake(run_all, tmp_path, "parquet", "print('x')\nprint('{\"rate\": 2.5, \"n\": 10}')\n")
    skipped = _fake(run_all, tmp_path, "paper", 'print(\'{"skipped": "no data"}\')\n')
    results = [run_all.run_one(b, tmp_path, sys.executable) for b in (ok, skipped)]
    assert results[0]["json"] == {"rate": 2.5, "n": 10}
    rows = run_all.table_rows(results)
    assert rows[0][1] == "rate=2.5, n=10"
    assert rows[1][1] == "skipped: no data" and rows[1][4] == "-"


def test_every_listed_script_exists_and_names_are_unique(run_all: ModuleType) -> None:
    names = [b.name for b in run_all.BENCHES]
    assert len(names) == len(set(names))
    for bench in run_all.BENCHES:
        assert (RUN_ALL.parent / bench.script).is_file(), bench.script


def test_markdown_has_one_row_per_result(run_all: ModuleType) -> None:
    text = run_all.markdown([("a", "1", "", "g", "yes"), ("b", "2", "3.0x", "g", "NO")])
    assert text.splitlines()[2:] == ["| a | 1 |  | g | yes |", "| b | 2 | 3.0x | g | NO |"]


def test_headlines_judge_the_goal_from_the_benchmarks_own_keys_and_say_unknown_when_one_is_missing(
    run_all: ModuleType,
) -> None:
    kernel = {b.name: b for b in run_all.BENCHES}["kernel"].headline
    assert kernel({"merge_events_per_s": 7_000_000, "scheduled_events_per_s": 3_100_000})[2] is True
    assert kernel({"merge_events_per_s": 7_000_000, "scheduled_events_per_s": 2_900_000})[2] is False
    assert kernel({"merge_events_per_s": 7_000_000})[2] is None
    risk = {b.name: b for b in run_all.BENCHES}["risk"].headline
    assert risk({"pass-kernel_us": 4.9, "pass-kernel_cpu_us": 4.1})[2] is True
    figure, _, met = risk({})
    assert "?" in figure and met is None
