"""Parquet store: reading back gives the identical event stream; failures leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.data.detect import open_events
from tapeflow.data.parquet_store import read_store, write_store
from tapeflow.model.events import Event
from tapeflow.model.market import Trade


@pytest.mark.parametrize(
    "rel",
    [
        "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
        "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbp-10.dbn.zst",
        "lean-algoseek-us-equity/minute/aapl/20140605_quote.zip",
        "zipline-test-daily/pipeline_inputs_AAPL.csv.gz",
        "nasdaq-itch50-head-fixture/sample.itch",
    ],
)
def test_round_trip_is_identical(data_dir: Path, tmp_path: Path, rel: str) -> None:
    _, events, _ = open_events(data_dir / rel)
    original = list(events)
    assert write_store(original, tmp_path / "store") == len(original)
    assert list(read_store(tmp_path / "store")) == original


def test_taq_day_with_conditions_and_ties_round_trips(tmp_path: Path) -> None:
    evs: list[Event] = [
        Trade(ts_event=t, ts_init=t, symbol=s, price=100 + t, size=1, conditions=("ODD_LOT",) if t % 2 else ())
        for t in (5, 5, 6, 6, 7)
        for s in ("B", "A")
    ]
    write_store(evs, tmp_path / "s")
    assert list(read_store(tmp_path / "s")) == evs
    assert [e.symbol for e in read_store(tmp_path / "s", symbols=["A"])] == ["A"] * 5  # type: ignore[attr-defined]


def test_failure_leaves_no_output(tmp_path: Path) -> None:
    def broken() -> Iterator[Event]:
        yield Trade(ts_event=1, ts_init=1, symbol="X", price=1, size=1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_store(broken(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
