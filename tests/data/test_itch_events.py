"""ITCH messages to tapeflow events: mapping, time zone, symbol filter, and fast path == generic path."""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.l3 import L3Book
from tapeflow.data.itch import ItchReader, books_by_symbol, midnight_utc_ns, read_itch_events
from tapeflow.data.itch_encoder import encode_message, encode_stream
from tapeflow.data.itch_messages import (
    ItchAddOrder,
    ItchAddOrderMpid,
    ItchBrokenTrade,
    ItchCrossTrade,
    ItchMessage,
    ItchNoii,
    ItchOrderCancel,
    ItchOrderDelete,
    ItchOrderExecuted,
    ItchOrderExecutedWithPrice,
    ItchOrderReplace,
    ItchStockDirectory,
    ItchStockTradingAction,
    ItchSystemEvent,
    ItchTrade,
)
from tapeflow.model import (
    Aggressor,
    MarketStatus,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Side,
    Trade,
    TradingStatus,
    from_msgpack,
    to_msgpack,
)
from tapeflow.model.errors import DataError

DAY = dt.date(2019, 12, 30)
MIDNIGHT = 1_577_682_000 * 10**9  # 2019-12-30 00:00 New York (EST, UTC-5) in ns UTC
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _directory(locate: int, stock: str) -> ItchStockDirectory:
    return ItchStockDirectory(locate, 0, 1, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N")


def test_midnight_new_york_is_utc_minus_5_in_winter_and_minus_4_in_summer() -> None:
    assert midnight_utc_ns(DAY) == MIDNIGHT
    assert midnight_utc_ns(dt.date(2019, 7, 30)) == 1_564_459_200 * 10**9
    # 2019-03-11 is the Monday after clocks went forward: a whole EDT session.
    assert midnight_utc_ns(dt.date(2019, 3, 11)) - midnight_utc_ns(dt.date(2019, 3, 8)) == (3 * 24 - 1) * 3600 * 10**9


def test_every_book_and_trade_message_maps_to_its_event() -> None:
    ts = 34_200 * 10**9  # 09:30 New York
    stream = [
        ItchSystemEvent(0, 0, ts, "Q"),
        _directory(5, "MSFT"),
        ItchStockTradingAction(5, 0, ts, "MSFT", "H", " ", "LUDP"),
        ItchStockTradingAction(5, 0, ts, "MSFT", "P", " ", ""),
        ItchStockTradingAction(5, 0, ts, "MSFT", "Q", " ", ""),
        ItchStockTradingAction(5, 0, ts, "MSFT", "T", " ", ""),
        ItchAddOrder(5, 0, ts + 1, 10, "B", 300, "MSFT", 1_575_000),
        ItchAddOrderMpid(5, 0, ts + 2, 11, "S", 200, "MSFT", 1_576_000, "GSCO"),
        ItchOrderExecuted(5, 0, ts + 3, 10, 100, 9001),
        ItchOrderExecutedWithPrice(5, 0, ts + 4, 10, 50, 9002, "N", 1_575_100),
        ItchOrderCancel(5, 0, ts + 5, 10, 50),
        ItchOrderReplace(5, 0, ts + 6, 11, 12, 150, 1_577_000),
        ItchOrderDelete(5, 0, ts + 7, 12),
        ItchTrade(5, 0, ts + 8, 0, "B", 70, "MSFT", 1_575_500, 9003),
        ItchCrossTrade(5, 0, ts + 9, 0, "MSFT", 1_576_000, 0, "C"),
        ItchCrossTrade(5, 0, ts + 10, 12_345, "MSFT", 1_576_000, 9004, "C"),
        ItchBrokenTrade(5, 0, ts + 11, 9003),
        ItchNoii(5, 0, ts + 12, 1, 2, "B", "MSFT", 3, 4, 5, "C", "L"),
    ]
    t = MIDNIGHT + ts
    expected = [
        TradingStatus(ts_event=t, ts_init=t, symbol="MSFT", status=MarketStatus.HALTED, reason="LUDP", venue="XNAS"),
        TradingStatus(ts_event=t, ts_init=t, symbol="MSFT", status=MarketStatus.HALTED, reason="PAUSED", venue="XNAS"),
        TradingStatus(ts_event=t, ts_init=t, symbol="MSFT", status=MarketStatus.QUOTING, venue="XNAS"),
        TradingStatus(ts_event=t, ts_init=t, symbol="MSFT", status=MarketStatus.TRADING, venue="XNAS"),
        OrderAdded(
            ts_event=t + 1,
            ts_init=t + 1,
            symbol="MSFT",
            order_id=10,
            side=Side.BUY,
            price=1_575_000,
            size=300,
        ),
        OrderAdded(
            ts_event=t + 2,
            ts_init=t + 2,
            symbol="MSFT",
            order_id=11,
            side=Side.SELL,
            price=1_576_000,
            size=200,
            mpid="GSCO",
        ),
        OrderExecuted(ts_event=t + 3, ts_init=t + 3, symbol="MSFT", order_id=10, size=100, trade_id="9001"),
        OrderExecuted(
            ts_event=t + 4,
            ts_init=t + 4,
            symbol="MSFT",
            order_id=10,
            size=50,
            price=1_575_100,
            trade_id="9002",
            printable=False,
        ),
        OrderReduced(ts_event=t + 5, ts_init=t + 5, symbol="MSFT", order_id=10, size=50),
        OrderReplaced(
            ts_event=t + 6,
            ts_init=t + 6,
            symbol="MSFT",
            order_id=11,
            new_order_id=12,
            price=1_577_000,
            size=150,
        ),
        OrderDeleted(ts_event=t + 7, ts_init=t + 7, symbol="MSFT", order_id=12),
        Trade(
            ts_event=t + 8,
            ts_init=t + 8,
            symbol="MSFT",
            price=1_575_500,
            size=70,
            aggressor=Aggressor.UNKNOWN,
            venue="XNAS",
            trade_id="9003",
        ),
        Trade(
            ts_event=t + 10,
            ts_init=t + 10,
            symbol="MSFT",
            price=1_576_000,
            size=12_345,
            venue="XNAS",
            trade_id="9004",
            conditions=("CROSS", "C"),
        ),
    ]
    for framing in ("length", "raw"):  # the fast path and the generic path
        reader = ItchReader(encode_stream(stream, framing), date=DAY, strict=True)  # type: ignore[arg-type]
        events = list(reader.events())
        assert events == expected, framing
        assert reader.stats.events == len(expected)
        assert reader.stats.messages == len(stream)
    for event in expected:  # what the reader makes passes the model's own validation
        assert from_msgpack(to_msgpack(event)) == event


# A random but consistent order flow over three symbols, with a few irregular messages mixed in.
_locate = st.sampled_from([1, 2, 3, 9])  # 9 is a locate no directory names
_shares = st.integers(0, 5_000)  # 0 is malformed for every order message
_ref = st.integers(1, 50) | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1])  # the last two do not fit int64
_ts = st.integers(0, 86_400 * 10**9)
_order_message = st.one_of(
    st.builds(ItchAddOrder, _locate, st.just(0), _ts, _ref, st.sampled_from("BSX"), _shares,
              st.sampled_from(["AAA", "BB", "C", "ZZZ"]), st.integers(1, 10**7)),
    st.builds(ItchAddOrderMpid, _locate, st.just(0), _ts, _ref, st.sampled_from("BS"), _shares,
              st.sampled_from(["AAA", "ZZZ"]), st.integers(1, 10**7), st.sampled_from(["NSDQ", "GS", ""])),
    st.builds(ItchOrderExecuted, _locate, st.just(0), _ts, _ref, _shares, st.integers(0, 2**64 - 1)),
    st.builds(ItchOrderExecutedWithPrice, _locate, st.just(0), _ts, _ref, _shares, st.integers(0, 2**64 - 1),
              st.sampled_from("YN"), st.integers(1, 10**7)),
    st.builds(ItchOrderCancel, _locate, st.just(0), _ts, _ref, _shares),
    st.builds(ItchOrderDelete, _locate, st.just(0), _ts, _ref),
    st.builds(ItchOrderReplace, _locate, st.just(0), _ts, _ref, _ref, _shares, st.integers(1, 10**7)),
    st.builds(ItchTrade, _locate, st.just(0), _ts, st.just(0), st.just("B"), _shares, st.just("AAA"),
              st.integers(1, 10**7), st.integers(0, 2**64 - 1)),
)  # fmt: skip
_flow = st.lists(_order_message, max_size=120)
_prefix = [_directory(1, "AAA"), _directory(2, "BB"), _directory(3, "C")]


def _events(data: bytes, framing: str, **kwargs: object) -> tuple[list[object], object]:
    reader = ItchReader(data, date=DAY, framing=framing, **kwargs)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events: list[object] = list(reader.events())
    return events, reader.stats


def _assert_same_counts(a: object, b: object) -> None:
    """Every count equal, and the first problem the same but for its byte offset (framings differ in bytes)."""
    names = ("messages", "events", "malformed", "filtered", "unknown_locate", "out_of_order", "duplicates")
    for name in (*names, "unknown_refs"):
        assert getattr(a, name) == getattr(b, name), name
    first_a, first_b = getattr(a, "first_problem"), getattr(b, "first_problem")  # noqa: B009 - not typed here
    assert first_a.partition(": ")[2] == first_b.partition(": ")[2]


@settings(max_examples=80, deadline=None)
@given(flow=_flow, chunk=st.sampled_from([64, 100, 1 << 20]), symbols=st.sampled_from([None, ["AAA", "C"]]))
def test_fast_path_gives_exactly_the_generic_paths_events_and_counts(
    flow: list[ItchMessage], chunk: int, symbols: list[str] | None
) -> None:
    stream = _prefix + flow
    fast, fast_stats = _events(encode_stream(stream), "length", chunk_size=chunk, symbols=symbols)
    slow, slow_stats = _events(encode_stream(stream, "raw"), "raw", symbols=symbols)
    assert fast == slow
    _assert_same_counts(fast_stats, slow_stats)
    length = encode_stream(stream)
    tracked, tracked_stats = _events(length, "length", chunk_size=chunk, symbols=symbols, track_orders=True)
    raw_tracked, raw_tracked_stats = _events(encode_stream(stream, "raw"), "raw", symbols=symbols, track_orders=True)
    assert tracked == raw_tracked
    _assert_same_counts(tracked_stats, raw_tracked_stats)
    assert all(getattr(e, "order_id", 0) < 2**63 and getattr(e, "new_order_id", 0) < 2**63 for e in fast + tracked)


def test_zero_shares_and_bad_side_are_malformed_and_skipped_or_raised() -> None:
    stream = [
        _directory(1, "AAA"),
        ItchAddOrder(1, 0, 5, 1, "B", 0, "AAA", 10),
        ItchAddOrder(1, 0, 5, 2, "X", 1, "AAA", 10),
    ]
    events, stats = _events(encode_stream(stream), "length")
    assert events == []
    assert stats.malformed == 2  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="byte offset 41: ITCH message cannot be an event"):
        list(ItchReader(encode_stream(stream), date=DAY, strict=True).events())


def test_order_message_for_an_unnamed_locate_is_counted_or_raised() -> None:
    data = encode_stream([ItchOrderDelete(9, 0, 5, 1)])
    events, stats = _events(data, "length")
    assert events == []
    assert stats.unknown_locate == 1  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="stock locate 9, which no stock directory"):
        list(ItchReader(data, date=DAY, strict=True).events())


def test_add_order_names_its_locate_when_the_directory_is_missing() -> None:
    data = encode_stream([ItchAddOrder(4, 0, 5, 1, "S", 10, "QQQ", 10), ItchOrderDelete(4, 0, 6, 1)])
    assert [e.symbol for e in read_itch_events(data, date=DAY, strict=True)] == ["QQQ", "QQQ"]  # type: ignore[attr-defined]


def test_symbol_filter_keeps_only_wanted_symbols_and_counts_the_rest() -> None:
    stream = [*_prefix, *(ItchAddOrder(loc, 0, 5, loc, "B", 1, "", 10) for loc in (1, 2, 3))]
    reader = ItchReader(encode_stream(stream), date=DAY, symbols={"BB"})
    assert [e.symbol for e in reader.events()] == ["BB"]  # type: ignore[attr-defined]
    assert reader.stats.filtered == 2


def test_truncated_tail_in_the_fast_path_is_reported() -> None:
    data = encode_stream([*_prefix, ItchOrderDelete(1, 0, 5, 1)])
    reader = ItchReader(data[:-3], date=DAY)
    with pytest.warns(UserWarning, match="ends inside a message"):
        assert list(reader.events()) == []
    assert reader.stats.truncated_bytes == 21 - 3


def test_long_unknown_message_across_chunks_is_skipped_in_the_fast_path() -> None:
    unknown = b"\x01\x00" + b"z" * 256
    data = encode_stream(_prefix) + unknown + encode_stream([ItchOrderDelete(1, 0, 5, 1)])
    reader = ItchReader(data, date=DAY, chunk_size=100)
    assert [type(e).__name__ for e in reader.events()] == ["OrderDeleted"]
    assert reader.stats.unknown_types == 1
    assert reader.stats.messages == 5


def test_generated_benchmark_file_parses_and_agrees_with_the_encoder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_itch", BENCHMARKS / "gen_itch.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path / "synthetic.itch"
    assert gen.generate(path, 3_000, symbols=20, seed=3) == 3_000
    reader = ItchReader(path, date=DAY, strict=True)
    messages = list(reader.messages())
    assert encode_stream(messages) == path.read_bytes()
    kinds = Counter(encode_message(m)[:1].decode() for m in messages)
    assert kinds["A"] > kinds["E"] > 0 and kinds["D"] > 0 and kinds["U"] > 0 and kinds["X"] > 0
    events = list(ItchReader(path, date=DAY, strict=True).events())
    assert len(events) == 3_000 - 2 - 20  # all but the two system events and the stock directory


def test_one_l3_book_per_symbol_and_the_filter_builds_the_same_book(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_itch", BENCHMARKS / "gen_itch.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path / "synthetic.itch"
    gen.generate(path, 20_000, symbols=12, seed=5)
    books = books_by_symbol(ItchReader(path, date=DAY, strict=True).events(), L3Book)
    assert len(books) == 12
    assert all(book.unknown_order_refs == 0 and len(book) > 0 for book in books.values())
    for symbol in sorted(books)[:3]:
        alone = books_by_symbol(ItchReader(path, date=DAY, symbols=[symbol]).events(), L3Book)
        assert list(alone) == [symbol]
        assert alone[symbol].snapshot(ts=0) == books[symbol].snapshot(ts=0)


def test_time_going_back_within_a_stock_is_counted_and_skipped_but_not_across_stocks() -> None:
    stream = [
        *_prefix,
        ItchAddOrder(1, 0, 500, 1, "B", 10, "AAA", 10),
        ItchAddOrder(2, 0, 100, 2, "B", 10, "BB", 10),  # earlier, but another stock: fine
        ItchAddOrder(1, 0, 499, 3, "B", 10, "AAA", 10),  # back within AAA: skipped
        ItchOrderDelete(1, 0, 500, 1),  # same time again: fine
    ]
    for framing in ("length", "raw"):
        events, stats = _events(encode_stream(stream, framing), framing)  # type: ignore[arg-type]
        assert [(e.symbol, e.order_id) for e in events] == [("AAA", 1), ("BB", 2), ("AAA", 1)]  # type: ignore[attr-defined]
        assert stats.out_of_order == 1  # type: ignore[attr-defined]
        at = len(encode_stream(stream[:5], framing))  # type: ignore[arg-type]
        assert f"byte offset {at}: time goes back within stock locate 1: 499 ns" in stats.first_problem  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="byte offset 199: time goes back within stock locate 1"):
        list(ItchReader(encode_stream(stream), date=DAY, strict=True).events())


def test_order_reference_past_int64_is_malformed_and_skipped_on_both_paths() -> None:
    stream = [*_prefix, ItchAddOrder(1, 0, 5, 2**63, "B", 10, "AAA", 10), ItchOrderDelete(1, 0, 6, 2**64 - 1)]
    for framing in ("length", "raw"):
        events, stats = _events(encode_stream(stream, framing), framing)  # type: ignore[arg-type]
        assert events == []
        assert stats.malformed == 2  # type: ignore[attr-defined]
        assert "order reference 9223372036854775808 does not fit int64" in stats.first_problem  # type: ignore[attr-defined]


def test_tracked_orders_count_a_live_reference_added_again_and_unknown_references() -> None:
    stream = [
        *_prefix,
        ItchAddOrder(1, 0, 5, 7, "B", 10, "AAA", 10),
        ItchAddOrder(1, 0, 6, 7, "S", 3, "AAA", 11),  # 7 is live: a duplicate, skipped
        ItchOrderExecuted(1, 0, 7, 7, 10, 1),  # fully executed: 7 is gone
        ItchOrderDelete(1, 0, 8, 7),  # not live: counted, passed on
        ItchOrderReplace(1, 0, 9, 8, 9, 5, 12),  # 8 never added: counted, 9 becomes live
        ItchOrderCancel(1, 0, 10, 9, 2),
    ]
    events, stats = _events(encode_stream(stream), "length", track_orders=True)
    assert [type(e).__name__ for e in events] == [
        "OrderAdded", "OrderExecuted", "OrderDeleted", "OrderReplaced", "OrderReduced",
    ]  # fmt: skip
    assert (stats.duplicates, stats.unknown_refs) == (1, 2)  # type: ignore[attr-defined]
    q = ItchReader(encode_stream(stream), date=DAY, track_orders=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(q.events())
    quality = q.quality()
    assert (quality.duplicates, quality.unknown_ids, quality.events, quality.rows) == (1, 2, 5, 9)
    assert quality.first_problem.startswith("<bytes>, byte offset 161: order reference 7 is added while")
    untracked, plain = _events(encode_stream(stream), "length")
    assert (plain.duplicates, plain.unknown_refs, len(untracked)) == (0, 0, 6)  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="byte offset 161: order reference 7 is added while an order"):
        list(ItchReader(encode_stream(stream), date=DAY, track_orders=True, strict=True).events())


def test_stats_taken_before_reading_show_the_counts_of_the_pass() -> None:
    reader = ItchReader(encode_stream([*_prefix, ItchOrderDelete(9, 0, 5, 1)]), date=DAY)
    stats = reader.stats
    assert list(reader.events()) == []
    assert (stats.messages, stats.unknown_locate) == (4, 1)
    list(reader.events())  # a second pass starts from zero, in the same object
    assert reader.stats is stats and (stats.messages, stats.unknown_locate) == (4, 1)
    assert reader.quality().unknown_ids == 1 and reader.quality().source == "<bytes>"
