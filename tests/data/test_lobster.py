"""LOBSTER reader: exact time, every shared file rebuilt with zero mismatches, types 6/7, and bad files."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from tapeflow.book import L3Book
from tapeflow.data.lobster import LobsterDecoder
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.nytime import day_base_ns, ny_to_utc_ns, seconds_column_to_ns, seconds_to_ns
from tapeflow.model import Aggressor, DataError, MarketStatus, OrderExecuted, Trade, TradingStatus
from tapeflow.model.book_events import OrderDiscovered
from tapeflow.report.book_replay import replay

SAMPLES = "lobster-samples-2012-06-21"
ROWS = {
    "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip": 118_497,
    "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip": 57_515,
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip": 155_935,
    "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip": 49_482,
    "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip": 112_673,
}
EDT_MIDNIGHT = 1_340_251_200_000_000_000  # 2012-06-21 04:00 UTC


def test_seconds_parse_exactly_and_round_float_noise() -> None:
    assert seconds_to_ns(b"34200.18960767") == 34_200_189_607_670
    assert seconds_to_ns(b"53142.439") == 53_142_439_000_000
    assert seconds_to_ns(b"43002.632812672004") == 43_002_632_812_672
    assert seconds_to_ns(b"1.0000000005") == 1_000_000_001
    assert seconds_to_ns(b"34200") == 34_200_000_000_000
    assert seconds_column_to_ns([b"1.5", b"1.5", b"2.000000001"], base=7) == [
        1_500_000_007,
        1_500_000_007,
        2_000_000_008,
    ]
    assert seconds_column_to_ns([b"1.5", b"43002.632812672004"]) == [1_500_000_000, 43_002_632_812_672]
    for bad in (b"1_0.5", b"-1.5", b"1.2.3", b"", b"1e3"):
        with pytest.raises(ValueError):
            seconds_column_to_ns([b"1.0", bad])


def test_new_york_wall_clock_converts_to_utc_across_dst() -> None:
    assert day_base_ns(date(2012, 6, 21)) == EDT_MIDNIGHT
    assert day_base_ns(date(2012, 1, 3)) == 1_325_566_800_000_000_000  # 05:00 UTC in winter
    spring = date(2012, 3, 11)  # clocks jump 02:00 -> 03:00
    assert ny_to_utc_ns(spring, 5400 * 10**9) == 1_331_447_400_000_000_000  # 01:30 EST = 06:30 UTC
    assert ny_to_utc_ns(spring, 4 * 3600 * 10**9) == 1_331_452_800_000_000_000  # 04:00 EDT = 08:00 UTC


def _zip(path: Path, messages: list[str], books: list[str] | None, levels: int = 1, symbol: str = "TEST") -> Path:
    stem = f"{symbol}_2012-06-21_34200000_57600000"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{stem}_message_{levels}.csv", "\n".join(messages) + "\n")
        if books is not None:
            zf.writestr(f"{stem}_orderbook_{levels}.csv", "\n".join(books) + "\n")
    return path


BUILT_MESSAGES = [
    "34200.000000001,1,10,100,1000000,1",
    "34200.5,6,0,500,1000050,-1",
    "34201,7,0,0,-1,-1",
    "34202,7,0,0,0,-1",
    "34203,7,0,0,1,-1",
    "34204.123456789,4,20,50,1000100,-1",
    "34205,5,0,10,1000050,1",
]
BUILT_BOOKS = [
    "1000100,50,1000000,100",
    "1000100,50,1000000,100",
    "1000100,50,1000000,100",
    "1000100,50,1000000,100",
    "1000100,50,1000000,100",
    "9999999999,0,1000000,100",
    "9999999999,0,1000000,100",
]


def test_cross_halt_and_hidden_messages_become_trades_and_status(tmp_path: Path) -> None:
    path = _zip(tmp_path / "built.zip", BUILT_MESSAGES, BUILT_BOOKS)
    events = list(iter_events(path))
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.size, t.aggressor, t.conditions) for t in trades] == [
        (1_000_050, 500, Aggressor.UNKNOWN, ("cross",)),
        (1_000_050, 10, Aggressor.SELL, ("hidden",)),
    ]
    statuses = [e.status for e in events if isinstance(e, TradingStatus)]
    assert statuses == [MarketStatus.HALTED, MarketStatus.QUOTING, MarketStatus.TRADING]
    (found,) = [e for e in events if isinstance(e, OrderDiscovered)]
    assert (found.order_id, found.size, found.price) == (20, 50, 1_000_100)
    (executed,) = [e for e in events if isinstance(e, OrderExecuted)]
    assert executed.ts_event == EDT_MIDNIGHT + 34_204_123_456_789
    assert events[0].ts_event == EDT_MIDNIGHT + 34_200_000_000_001
    report = replay(path, verify=True)
    assert (report.rows, report.mismatches, report.trades, report.unknown_order_refs) == (7, 0, 3, 0)


def test_reveal_brings_in_the_next_level_and_drops_stale_ones(tmp_path: Path) -> None:
    msgs = ["34200.1,1,1,10,1000200,-1", "34200.2,3,1,10,1000200,-1", "34200.3,3,2,30,1000300,-1"]
    books = ["1000200,10,1000000,5", "1000300,30,1000000,5", "1000500,7,1000000,5"]
    path = _zip(tmp_path / "reveal.zip", msgs, books)
    report = replay(path, verify=True)
    assert (report.mismatches, report.levels_from_file) == (0, 2)


def test_mismatch_names_row_message_and_level(tmp_path: Path) -> None:
    books = ["1000200,10,1000000,5", "1000200,99,1000000,5"]
    path = _zip(tmp_path / "bad.zip", ["34200.1,1,1,10,1000200,-1", "34200.2,1,2,5,1000200,-1"], books)
    report = replay(path, verify=True)
    assert report.mismatches == 1
    (m,) = report.mismatch_examples
    assert (m.row, m.message, m.side, m.level, m.expected, m.book) == (
        2,
        "34200.2,1,2,5,1000200,-1",
        "SELL",
        1,
        (1_000_200, 99),
        (1_000_200, 15),
    )


def test_malformed_row_names_file_and_row(tmp_path: Path) -> None:
    msgs = [*BUILT_MESSAGES[:2], "34201,1,abc,100,1000000,1", *BUILT_MESSAGES[3:]]
    path = _zip(tmp_path / "malformed.zip", msgs, BUILT_BOOKS)
    with pytest.raises(DataError, match=r"message_1\.csv, line 3: malformed message row") as info:
        replay(path)
    assert info.value.line == 3 and "malformed.zip" in str(info.value)


def test_orderbook_shorter_than_messages_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "short.zip", BUILT_MESSAGES, BUILT_BOOKS[:4])
    with pytest.raises(DataError, match="orderbook file ends at row 4") as info:
        replay(path)
    assert info.value.line == 5


def test_truncated_zip_is_a_data_error(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / SAMPLES / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    cut = tmp_path / "cut.zip"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable zip") as info:
        replay(cut)
    assert "cut.zip" in str(info.value)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_shared_file_rebuilds_with_zero_mismatches(data_dir: Path, name: str) -> None:
    report = replay(data_dir / SAMPLES / name, verify=True)
    assert report.rows == ROWS[name]
    assert report.mismatches == 0, report.mismatch_examples[:3]
    assert report.unknown_order_refs == 0
    assert report.levels_from_file > 0 and report.discovered_orders > 0


def test_event_stream_rebuilds_the_same_book_as_the_raw_replay(data_dir: Path) -> None:
    lf = open_lobster(data_dir / SAMPLES / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    raw = L3Book(lf.symbol)
    for _ in LobsterDecoder(lf, raw).run():
        pass
    evented = L3Book(lf.symbol)
    for event in iter_events(lf):
        if not isinstance(event, Trade | TradingStatus):
            evented.apply(event)
    a, b = raw.snapshot(ts=0), evented.snapshot(ts=0)
    assert (a.bids, a.asks, a.orders) == (b.bids, b.asks, b.orders)
    assert evented.unknown_order_refs == 0


def test_levels_that_left_view_and_vanished_are_dropped_when_the_side_thins(tmp_path: Path) -> None:
    # level 2 file: asks 100, 101; a better ask pushes 101 out of view, where it is cancelled unseen
    msgs = [
        "34200.1,1,1,5,999000,1",
        "34200.2,1,2,7,990000,-1",
        "34200.3,3,10,3,1000000,-1",
        "34200.4,3,2,7,990000,-1",
    ]
    books = [
        "1000000,3,999000,5,1010000,4,-9999999999,0",
        "990000,7,999000,5,1000000,3,-9999999999,0",
        "990000,7,999000,5,9999999999,0,-9999999999,0",
        "9999999999,0,999000,5,9999999999,0,-9999999999,0",
    ]
    path = _zip(tmp_path / "thin.zip", msgs, books, levels=2)
    report = replay(path, verify=True)
    assert (report.mismatches, report.unknown_order_refs) == (0, 0), report.mismatch_examples
    assert report.book_levels_at_end == (1, 0)


def test_event_stream_is_deterministic(data_dir: Path) -> None:
    import hashlib

    from tapeflow.model import to_msgpack

    path = data_dir / SAMPLES / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    digests = set()
    for _ in range(2):
        h = hashlib.sha256()
        for event in iter_events(path):
            h.update(to_msgpack(event))
        digests.add(h.hexdigest())
    assert len(digests) == 1


def test_message_time_going_backwards_is_refused_with_its_row(tmp_path: Path) -> None:
    msgs = [*BUILT_MESSAGES[:3], "34200.9,7,0,0,0,-1", *BUILT_MESSAGES[4:]]
    path = _zip(tmp_path / "back.zip", msgs, BUILT_BOOKS)
    with pytest.raises(DataError, match=r"message_1\.csv, line 4: time 34200\.900000000 s is before the previous") as e:
        list(iter_events(path))
    assert e.value.line == 4 and "back.zip" in str(e.value)


def test_message_time_outside_the_window_the_name_claims_is_refused(tmp_path: Path) -> None:
    msgs = [*BUILT_MESSAGES[:-1], "57600.5,5,0,10,1000050,1"]
    path = _zip(tmp_path / "late.zip", msgs, BUILT_BOOKS)
    with pytest.raises(DataError, match=r"line 7: time 57600\.500000000 s is outside the window 34200000-57600000"):
        list(iter_events(path))


def test_order_id_that_does_not_fit_int64_is_refused_with_its_row(tmp_path: Path) -> None:
    msgs = [*BUILT_MESSAGES[:1], "34200.2,1,99999999999999999999,5,1000000,1", *BUILT_MESSAGES[2:]]
    path = _zip(tmp_path / "big.zip", msgs, BUILT_BOOKS)
    with pytest.raises(DataError, match=r"line 2: malformed message row .* does not fit a 64-bit integer"):
        list(iter_events(path))


def test_empty_message_file_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("TEST_2012-06-21_34200000_57600000_message_1.csv", "")
        zf.writestr("TEST_2012-06-21_34200000_57600000_orderbook_1.csv", "")
    with pytest.raises(DataError, match=r"message_1\.csv: the message file is empty"):
        list(iter_events(tmp_path / "empty.zip"))


def test_non_numeric_orderbook_field_read_for_a_reveal_is_a_data_error(tmp_path: Path) -> None:
    msgs = ["34200.1,1,1,10,1000200,-1", "34200.2,3,1,10,1000200,-1"]
    path = _zip(tmp_path / "book.zip", msgs, ["1000200,10,1000000,5", "10003x0,30,1000000,5"])
    with pytest.raises(DataError, match=r"orderbook_1\.csv, line 2: malformed orderbook row '10003x0,30"):
        list(iter_events(path))
