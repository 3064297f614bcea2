"""run_files: what a backtest writes for the tear sheet is byte-identical for the same inputs, and complete."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.compliance.surveillance import review
from tapeflow.report.run_data import load_run
from tapeflow.report.run_files import VOLATILE_KEYS, write_json_atomic
from tapeflow.report.tearsheet import build_tearsheet
from tests.report.tearsheet_pages import figures, synthetic_run, values


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


def test_a_run_with_an_audit_trail_records_surveillance_alerts_and_the_page_lists_them(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    synthetic_run(folder, audit=tmp_path / "audit.db")
    run = msgspec.json.decode((folder / "run.json").read_bytes())
    store = SqliteAuditStore(tmp_path / "audit.db", readonly=True)
    try:
        expected = review(store.rows())
    finally:
        store.close()
    assert expected, "the quoter's cancels next to its fills should raise spoofing alerts"
    assert [(a["kind"], a["ts"], a["summary"]) for a in run["compliance_alerts"]] == [
        (a.kind, a.ts, a.summary) for a in expected
    ]
    table = figures(build_tearsheet(load_run(folder)))["alerts"]["data"][0]
    assert len(values(table["cells"]["values"][1])) == len(expected)


def test_a_run_without_an_audit_trail_has_no_alerts_key(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    synthetic_run(folder, events=2_000)
    assert "compliance_alerts" not in msgspec.json.decode((folder / "run.json").read_bytes())
