"""Sessions on the tear sheet's time axes come from the exchange calendar: holidays unshaded, half days short."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from tapeflow.model.sessions import calendar_for
from tapeflow.report.figures_common import session_shapes
from tapeflow.report.run_data import load_run
from tapeflow.report.tables import int_table, write_table_atomic
from tapeflow.report.tearsheet import build_tearsheet
from tests.report.tearsheet_pages import figures, synthetic_run

NY = ZoneInfo("America/New_York")


def _ns(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime.datetime(2023, 11, day, hour, minute, tzinfo=NY).timestamp()) * 1_000_000_000


def test_thanksgiving_week_shades_wednesday_whole_skips_thursday_and_friday_ends_at_one() -> None:
    shapes, note = session_shapes(_ns(22, 9), _ns(24, 15), calendar_for("XNYS"))
    spans = [(s["x0"], s["x1"]) for s in shapes]
    assert spans == [
        ("2023-11-22 09:30:00.000", "2023-11-22 16:00:00.000"),
        ("2023-11-24 09:30:00.000", "2023-11-24 13:00:00.000"),
    ]
    assert shapes[1]["name"] == "session 2023-11-24 (half day)"
    assert shapes[0]["fillcolor"] != shapes[1]["fillcolor"]
    assert "Half days: 2023-11-24 closes 13:00" in note


def test_a_run_without_a_calendar_is_not_shaded_and_says_so() -> None:
    shapes, note = session_shapes(_ns(22, 9), _ns(24, 15), None)
    assert shapes == [] and "no exchange calendar" in note


@pytest.fixture
def half_day_folder(tmp_path: Path) -> Path:
    """A results folder whose equity curve is synthetic one-minute bars over Thanksgiving week 2023."""
    folder = tmp_path / "results"
    synthetic_run(folder, events=2_000)
    ts = [t for day, close in ((22, 16), (24, 13)) for t in range(_ns(day, 9, 30), _ns(day, close), 60_000_000_000)]
    equity = [10_000_000_000 + 1_000_000 * ((i * 7) % 13 - 6) for i in range(len(ts))]
    zeros = [0] * len(ts)
    columns = {"ts": ts, "equity": equity, "cash": equity, "gross": zeros, "net": zeros}
    write_table_atomic(
        int_table(columns | {"realized": zeros, "unrealized": zeros, "fees": zeros}), folder / "equity.parquet"
    )
    run: dict[str, Any] = msgspec.json.decode((folder / "run.json").read_bytes())
    run["summary"] |= {"start_ns": ts[0], "end_ns": ts[-1]}
    (folder / "run.json").write_bytes(msgspec.json.encode(run))
    return folder


def test_a_page_over_a_half_day_shades_it_to_the_early_close(half_day_folder: Path) -> None:
    page = build_tearsheet(load_run(half_day_folder))
    layout = figures(page)["equity"]["layout"]
    ends = [s["x1"] for s in layout["shapes"]]
    assert ends == ["2023-11-22 16:00:00.000", "2023-11-24 13:00:00.000"]
    assert "Half days: 2023-11-24 closes 13:00" in page
