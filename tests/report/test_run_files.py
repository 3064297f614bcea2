"""run_files: what a backtest writes for the tear sheet is byte-identical for the same inputs, and complete."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tapeflow.report.run_files import VOLATILE_KEYS, write_json_atomic
from tests.report.tearsheet_pages import synthetic_run


def test_the_same_run_twice_writes_the_same_bytes_in_every_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "results", tmp_path / "b" / "results"
    first.parent.mkdir()
    second.parent.mkdir()
    synthetic_run(first, events=3_000)
    synthetic_run(second, events=3_000)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"run.json", "top.parquet", "depth.parquet", "order_marks.parquet"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_run_json_is_the_report_without_wall_clock_fields_plus_calendar_and_refusals(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    report = synthetic_run(folder, events=3_000)
    run = msgspec.json.decode((folder / "run.json").read_bytes())
    assert not VOLATILE_KEYS & set(run)
    assert run["summary"] == report["summary"]
    assert (run["calendar"], run["returns_period"]) == ("XNYS", "daily")
    timeline = run["risk_rejection_timeline"]
    assert len(timeline["ts"]) == len(timeline["rule"]) == sum(r["count"] for r in report["risk_rejections"])
    assert timeline["ts"] == sorted(timeline["ts"])


def test_write_json_atomic_leaves_no_temporary_behind(tmp_path: Path) -> None:
    path = write_json_atomic({"a": 1}, tmp_path / "x.json")
    assert msgspec.json.decode(path.read_bytes()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
