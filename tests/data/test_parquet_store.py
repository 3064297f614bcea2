"""Parquet store: reading back gives the identical event stream; failures leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.data import parquet_store
from tapeflow.data.detect import open_events
from tapeflow.data.parquet_store import read_store, write_store
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import Side
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import BookLevel, OrderAdded, OrderDeleted, Quote, Trade


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


def test_lobster_day_read_in_small_batches_is_identical(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches far smaller than a file force the block-wise merge through many rounds across six event types."""
    _, events, _ = open_events(data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    original = list(events)
    write_store(original, tmp_path / "store")
    for batch in (97, 4096):
        monkeypatch.setattr(parquet_store, "_READ_BATCH", batch)
        assert list(read_store(tmp_path / "store")) == original


def test_mixed_types_symbols_and_days_in_small_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interleaved types, two symbols (one with a single venue) and a New York midnight, ties included."""
    day = 1_700_000_000_000_000_000
    evs: list[Event] = []
    for i in range(300):
        ts = day + (i // 3) * 1_000_000_000_000  # ~28 hours in all: two New York dates
        sym = "AB" if i % 5 else "XYZ"
        kind = i % 4
        if kind == 0:
            evs.append(
                OrderAdded(ts_event=ts, ts_init=ts, symbol=sym, order_id=i, side=Side.BUY if i % 3 else Side.SELL,
                           price=1_000_000 + i, size=1 + i, mpid="" if i % 2 else "MM")
            )  # fmt: skip
        elif kind == 1:
            evs.append(OrderDeleted(ts_event=ts, ts_init=ts, symbol=sym, order_id=i - 1))
        elif kind == 2:
            levels = tuple(BookLevel(1_000_000 - j, 100 * j + 1) for j in range(i % 4))
            evs.append(
                DepthRevealed(ts_event=ts, ts_init=ts, symbol=sym, side=Side.SELL, after_price=999_999, levels=levels,
                              through_end=bool(i % 2))
            )  # fmt: skip
        else:
            evs.append(
                Quote(ts_event=ts, ts_init=ts, symbol=sym, bid_price=1, bid_size=0, ask_price=2, ask_size=3,
                      venue="XNAS")
            )  # fmt: skip
    write_store(evs, tmp_path / "s")
    assert len(list((tmp_path / "s").glob("symbol=*/date=*"))) == 4
    for batch in (1, 2, 13, 65_536):
        monkeypatch.setattr(parquet_store, "_READ_BATCH", batch)
        assert list(read_store(tmp_path / "s")) == evs
        assert list(read_store(tmp_path / "s", symbols=["XYZ"])) == [e for e in evs if e.symbol == "XYZ"]  # type: ignore[attr-defined]


def test_not_a_store_fails_when_opened(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        read_store(tmp_path)
