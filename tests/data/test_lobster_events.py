"""``LobsterEvents``: a LOBSTER day as an iterable of events whose counts are complete when the iteration ends."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from tapeflow.book.l3 import L3Book
from tapeflow.data.lobster import LobsterDecoder, LobsterSink
from tapeflow.data.lobster_events import LobsterEvents, _EventSink, iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.quality import QualityReporter
from tapeflow.model import OrderAdded
from tapeflow.model.enums import Side
from tapeflow.model.events import TradingStatus
from tapeflow.model.market import OrderDeleted, Trade

SAMPLES = "lobster-samples-2012-06-21"
STEM = "TEST_2012-06-21_34200000_57600000"


def _zip(path: Path, messages: list[str], books: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{STEM}_message_1.csv", "\n".join(messages) + "\n")
        zf.writestr(f"{STEM}_orderbook_1.csv", "\n".join(books) + "\n")
    return path


def test_real_day_quality_counts_every_row_and_event_and_no_anomaly_but_discoveries(data_dir: Path) -> None:
    path = data_dir / SAMPLES / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    reader = iter_events(path)
    assert isinstance(reader, LobsterEvents) and isinstance(reader, QualityReporter)
    n = sum(1 for _ in reader)
    q = reader.quality()
    assert (q.format, q.rows, q.events) == ("lobster", 49_482, n)
    assert q.source == f"{path}!GOOG_2012-06-21_34200000_57600000_message_1.csv"
    assert q.discovered == reader.counts.discovered > 0 and q.unknown_ids == 0 and q.anomalies == 0
    assert q.first_problem == ""


def test_second_iteration_reads_again_with_fresh_counts(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "day.zip",
        ["34200.1,1,1,10,1000200,-1", "34200.2,1,2,5,1000000,1"],
        ["1000200,10,-9999999999,0", "1000200,10,1000000,5"],
    )
    reader = LobsterEvents(open_lobster(path))
    first = list(reader)
    assert list(reader) == first
    assert (reader.quality().rows, reader.quality().events) == (2, len(first))


def test_order_id_added_twice_is_counted_not_applied_and_named(tmp_path: Path) -> None:
    msgs = ["34200.1,1,7,10,1000200,-1", "34200.2,1,8,5,1000000,1", "34200.3,1,7,99,1000100,1"]
    books = ["1000200,10,-9999999999,0", "1000200,10,1000000,5", "1000200,10,1000000,5"]
    reader = LobsterEvents(_zip(tmp_path / "dup.zip", msgs, books))
    added = [e for e in reader if isinstance(e, OrderAdded)]
    assert [(e.order_id, e.size) for e in added] == [(7, 10), (8, 5)]
    q = reader.quality()
    assert (q.rows, q.duplicates, q.anomalies) == (3, 1, 1)
    assert q.first_problem == (
        f"{tmp_path / 'dup.zip'}!{STEM}_message_1.csv, line 3: order id 7 added again (already added that day); "
        "not applied"
    )


class _Both:
    """Feeds each decoder call to the replay's raw book and, as events, to a second book; compares them."""

    def __init__(self, symbol: str) -> None:
        self.raw = L3Book(symbol)
        self.fed = L3Book(symbol)
        self.sink = _EventSink(symbol)
        self.checked = 0
        self.first_difference: str | None = None

    def __getattr__(self, name: str) -> Callable[..., object]:
        raw_call, sink_call = getattr(self.raw, name), getattr(self.sink, name)

        def both(*args: Any, **kwargs: Any) -> object:
            result = raw_call(*args, **kwargs)
            sink_call(*args, **kwargs)
            for event in self.sink.events:
                if not isinstance(event, Trade | TradingStatus):
                    self.fed.apply(event)
            self.sink.events.clear()
            if name in ("delete", "cancel", "execute") and self.first_difference is None:
                for side in (Side.BUY, Side.SELL):
                    touched = [p for p, _ in self.raw.levels(side, 10)] + [p for p, _ in self.fed.levels(side, 10)]
                    for price in touched:
                        raw_size, fed_size = self.raw.size_at(side, price), self.fed.size_at(side, price)
                        if raw_size != fed_size:
                            self.first_difference = f"{name}{args[:3]}: {side.name} {price}: {raw_size} vs {fed_size}"
                self.checked += 1
            return result

        return both


@pytest.mark.parametrize("name", ["AAPL_2012-06-21_1", "AMZN_2012-06-21_1", "AMZN_2012-06-21_5"])
def test_a_book_fed_the_events_equals_the_replay_book_after_every_removal(data_dir: Path, name: str) -> None:
    """The events say what the verified replay does: a deletion that takes fewer shares than the order had left
    (part of it left out of view) carries them in ``OrderDeleted.size``; an explicit reduce before it, as the
    reader once emitted, took them twice (these three days: 81 removals left a level wrong until the next reveal,
    and 8 deletions named an order the reduce had dropped with its emptied level)."""
    lf = open_lobster(data_dir / SAMPLES / f"LOBSTER_SampleFile_{name}.zip")
    both = _Both(lf.symbol)
    decoder = LobsterDecoder(lf, cast(LobsterSink, both), on_trade=lambda *a: None, on_status=lambda *a: None)
    for _ in decoder.run():
        assert both.raw.levels(Side.BUY) == both.fed.levels(Side.BUY)
        assert both.raw.levels(Side.SELL) == both.fed.levels(Side.SELL)
    assert both.first_difference is None
    assert both.checked > 10_000
    assert both.fed.integrity.unknown_order_refs == both.raw.integrity.unknown_order_refs == 0


def test_a_deletion_of_fewer_shares_than_left_carries_them_and_nothing_else() -> None:
    sink = _EventSink("AAPL")
    sink.add(7, Side.SELL, 5_868_100, 200, 1)
    sink.delete(7, 2, 100)  # 100 of the 200 were cancelled while the level was out of view
    sink.add(8, Side.SELL, 5_868_100, 50, 3)
    sink.delete(8, 4, 50)
    deletes = [e for e in sink.events if not isinstance(e, OrderAdded)]
    assert [(type(e).__name__, e.order_id, e.size) for e in deletes if isinstance(e, OrderDeleted)] == [
        ("OrderDeleted", 7, 100),
        ("OrderDeleted", 8, 0),
    ]
    assert len(deletes) == 2
