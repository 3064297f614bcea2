"""The client side of Alpaca's data stream wire: what the paper venue's encoder writes decodes back exactly, prices
off the 1/10,000 grid and broken items are counted and skipped, and nothing a socket sends can crash the decoder."""

from __future__ import annotations

import struct
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster_events import iter_events
from tapeflow.live.market_wire import (
    StreamError,
    Subscription,
    Success,
    WireStats,
    decode_frame,
    decode_rest_items,
    rfc3339_to_ns,
    wire_time,
)
from tapeflow.model.enums import Aggressor, MarketStatus
from tapeflow.model.errors import ValueRangeError
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.node import NodeConfig
from tapeflow.paper.data_wire import WireFormat, encode_item, event_message, exchange_code, frame, msgpack_timestamp
from tapeflow.paper.venue import PaperVenue

MINUTE = 60_000_000_000
ARRIVAL = 42


def _frame(events: list[Event], fmt: WireFormat) -> bytes | str:
    data = frame([encode_item(event_message(e, fmt), fmt) for e in events], fmt)  # type: ignore[arg-type]
    return data.decode() if fmt is WireFormat.JSON else data


def _as_received(event: Event) -> Event:
    """What the wire keeps of an event: our arrival stamp, no aggressor (the feed infers it), and the venue as
    Alpaca's one-letter exchange code (the decoder does not guess which MIC a letter was)."""
    event = msgspec.structs.replace(event, ts_init=ARRIVAL)
    if isinstance(event, Trade):
        event = msgspec.structs.replace(event, aggressor=Aggressor.UNKNOWN, venue=exchange_code(event.venue))
    if isinstance(event, Quote):
        event = msgspec.structs.replace(event, venue=exchange_code(event.venue))
    return event


def _minute_bars(trades: list[Trade]) -> list[Bar]:
    bars: dict[int, list[Trade]] = {}
    for t in trades:
        bars.setdefault(t.ts_event // MINUTE, []).append(t)
    return [
        Bar(
            ts_event=(minute + 1) * MINUTE,
            ts_init=0,
            symbol="AAPL",
            open=ts[0].price,
            high=max(t.price for t in ts),
            low=min(t.price for t in ts),
            close=ts[-1].price,
            volume=sum(t.size for t in ts),
        )
        for minute, ts in bars.items()
    ]


@pytest.fixture(scope="module")
def lobster_day(data_dir: Path) -> list[Event]:
    """Every trade and quote the node dispatches on the real AAPL LOBSTER day, and minute bars of its trades."""
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    venue = PaperVenue(iter_events(path), config=NodeConfig(level="L3"))
    seen: list[Event] = []
    venue.kernel.subscribe(Trade, seen.append)
    venue.kernel.subscribe(Quote, seen.append)
    venue.step_events(10**9)
    return seen + _minute_bars([e for e in seen if isinstance(e, Trade)])


@pytest.mark.parametrize("fmt", list(WireFormat))
def test_every_trade_quote_and_bar_of_the_lobster_day_decodes_back_equal(
    lobster_day: list[Event], fmt: WireFormat
) -> None:
    stats = WireStats()
    got: list[object] = []
    for i in range(0, len(lobster_day), 1_000):
        got.extend(decode_frame(_frame(lobster_day[i : i + 1_000], fmt), ARRIVAL, stats))
    assert stats.malformed_total == 0 and not stats.ignored
    assert len(got) == len(lobster_day) > 150_000
    assert {type(e) for e in got} == {Trade, Quote, Bar}
    assert got == [_as_received(e) for e in lobster_day]


prices = st.integers(min_value=1, max_value=10**12)
times = st.integers(min_value=0, max_value=4_102_444_800 * 10**9)
symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=8)
trades = st.builds(
    Trade,
    ts_event=times,
    ts_init=st.just(0),
    symbol=symbols,
    price=prices,
    size=st.integers(min_value=1, max_value=10**9),
    trade_id=st.integers(min_value=0, max_value=2**63 - 1).map(lambda i: str(i) if i else ""),
    venue=st.sampled_from(["", "V", "Q", "N"]),
    conditions=st.lists(st.sampled_from(["@", "F", "I", "T"]), max_size=3).map(tuple),
)
quotes = st.builds(
    Quote,
    ts_event=times,
    ts_init=st.just(0),
    symbol=symbols,
    bid_price=st.integers(min_value=0, max_value=10**12),
    bid_size=st.integers(min_value=0, max_value=10**9),
    ask_price=st.integers(min_value=0, max_value=10**12),
    ask_size=st.integers(min_value=0, max_value=10**9),
    venue=st.sampled_from(["", "V", "Q"]),
)
bars = st.builds(
    lambda start, o, h, low, c, v, symbol: Bar(
        ts_event=start * MINUTE + MINUTE, ts_init=0, symbol=symbol, open=o, high=h, low=low, close=c, volume=v
    ),
    st.integers(min_value=0, max_value=68_000_000),
    prices,
    prices,
    prices,
    prices,
    st.integers(min_value=0, max_value=10**12),
    symbols,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(trades, quotes, bars), min_size=1, max_size=20), st.sampled_from(list(WireFormat)))
def test_any_trade_quote_or_bar_round_trips_exactly_in_both_formats(events: list[Event], fmt: WireFormat) -> None:
    stats = WireStats()
    assert decode_frame(_frame(events, fmt), ARRIVAL, stats) == [_as_received(e) for e in events]
    assert stats.malformed_total == 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=10**8),
    st.integers(min_value=1, max_value=9),
    st.sampled_from(["json", "msgpack"]),
)
def test_a_price_off_the_ten_thousandth_grid_is_malformed_never_rounded(units: int, extra: int, fmt: str) -> None:
    text = f"{units // 10_000}.{units % 10_000:04d}{extra}"  # a fifth decimal: not a 1/10,000-dollar price
    good = {"T": "t", "S": "AAPL", "p": 1.5, "s": 1, "t": "2012-06-21T13:30:00Z"}
    if fmt == "json":
        data: bytes | str = f'[{{"T":"t","S":"AAPL","p":{text},"s":1,"t":"2012-06-21T13:30:00Z"}},' + (
            msgspec.json.encode(good).decode() + "]"
        )
    else:
        data = msgspec.msgpack.encode([{**good, "p": float(text)}, good])
    stats = WireStats()
    got = decode_frame(data, ARRIVAL, stats)
    if fmt == "msgpack" and float(text) == float(f"{units // 10_000}.{units % 10_000:04d}"):
        pytest.skip("the float cannot tell the fifth decimal apart")  # pragma: no cover
    assert [e.price for e in got if isinstance(e, Trade)] == [15_000]  # the good item still decodes
    assert stats.malformed_total == 1 and "decimals" in stats.first_problem


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_truncated_or_corrupted_frame_never_raises_and_counts_what_it_skips(data: st.DataObject) -> None:
    events = data.draw(st.lists(st.one_of(trades, quotes), min_size=1, max_size=5))
    fmt = data.draw(st.sampled_from(list(WireFormat)))
    raw = _frame(events, fmt)
    blob = raw.encode() if isinstance(raw, str) else raw
    cut = data.draw(st.integers(min_value=0, max_value=len(blob)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, max(0, len(blob) - 1)), st.integers(0, 255)), max_size=3))
    mutated = bytearray(blob[:cut])
    for pos, value in flips:
        if pos < len(mutated):
            mutated[pos] = value
    stats = WireStats()
    try:
        frame_in: bytes | str = mutated.decode() if fmt is WireFormat.JSON else bytes(mutated)
    except UnicodeDecodeError:
        frame_in = bytes(mutated)
    got = decode_frame(frame_in, ARRIVAL, stats)
    assert all(isinstance(e, Trade | Quote | Bar | TradingStatus | Success | StreamError | Subscription) for e in got)
    assert len(got) + stats.malformed_total + sum(stats.ignored.values()) == stats.items
    if cut < len(blob) and not flips:
        assert stats.malformed_total >= 1 or len(got) < len(events)


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_garbage_is_one_malformed_item_or_none_never_an_exception(data: bytes | str) -> None:
    stats = WireStats()
    decode_frame(data, ARRIVAL, stats)
    assert stats.items >= stats.malformed_total


def test_wrong_types_skip_that_item_and_the_rest_of_the_frame_still_decodes() -> None:
    frame_text = (
        '[{"T":"t","S":"AAPL","p":true,"s":1,"t":"2012-06-21T13:30:00Z"},'
        '{"T":"q","S":"AAPL","bp":58.5,"bs":-1,"ap":58.6,"as":1,"t":"2012-06-21T13:30:00Z"},'
        '{"T":"t","S":"","p":58.5,"s":1,"t":"2012-06-21T13:30:00Z"},'
        '{"T":"t","S":"AAPL","p":58.5,"s":1,"t":"2012-06-31T13:30:00Z"},'
        '{"T":"t","S":"AAPL","p":0,"s":1,"t":"2012-06-21T13:30:00Z"},'
        '{"T":"u","S":"AAPL"},{"T":"s","S":"AAPL","sc":"H","t":"2012-06-21T13:30:00Z","rc":"T1"},'
        '{"T":"t","S":"AAPL","p":58.5,"s":1,"t":"2012-06-21T13:30:00.5-04:00"}]'
    )
    stats = WireStats()
    got = decode_frame(frame_text, ARRIVAL, stats)
    assert stats.malformed_total == 5 and stats.ignored == {"u": 1}
    status, trade = got
    assert isinstance(status, TradingStatus) and status.status is MarketStatus.HALTED and status.reason == "T1"
    assert isinstance(trade, Trade) and trade.price == 585_000
    assert trade.ts_event == rfc3339_to_ns("2012-06-21T17:30:00.5Z")


def test_control_messages_become_small_typed_values() -> None:
    got = decode_frame(
        '[{"T":"success","msg":"connected"},{"T":"error","code":402,"msg":"auth failed"},'
        '{"T":"subscription","trades":["AAPL"],"quotes":["AAPL","MSFT"],"corrections":["AAPL"]}]',
        ARRIVAL,
        WireStats(),
    )
    assert got[0] == Success("connected") and got[1] == StreamError(402, "auth failed")
    assert isinstance(got[2], Subscription)
    assert got[2].channels["quotes"] == ("AAPL", "MSFT") and got[2].channels["bars"] == ()


def test_msgpack_timestamps_of_every_size_and_rfc3339_decode_to_exact_nanoseconds() -> None:
    ts = 1_340_285_400_275_016_159
    assert wire_time(msgpack_timestamp(ts)) == ts
    assert wire_time(msgspec.msgpack.Ext(-1, struct.pack(">I", 1_340_285_400))) == 1_340_285_400 * 10**9
    packed = (275_016_159 << 34) | 1_340_285_400
    assert wire_time(msgspec.msgpack.Ext(-1, struct.pack(">Q", packed))) == ts
    assert rfc3339_to_ns("2012-06-21T13:30:00.275016159Z") == ts
    assert rfc3339_to_ns("2012-06-21T09:30:00.275016159-04:00") == ts
    assert rfc3339_to_ns("2012-06-21T13:30:00.2Z") == ts - 75_016_159
    for bad in ("2012-06-21", "2012-06-21T13:30:00", "2012-13-01T00:00:00Z", "2012-06-21T13:30:00.1234567891Z"):
        with pytest.raises(ValueRangeError):
            rfc3339_to_ns(bad)
    with pytest.raises(ValueRangeError):
        wire_time(msgspec.msgpack.Ext(5, b"\x00" * 8))


def test_rest_items_decode_like_stream_items_with_the_symbol_of_their_page() -> None:
    stats = WireStats()
    raws = [
        msgspec.Raw(b'{"t":"2012-06-21T13:30:00.000000001Z","x":"V","p":58.5741,"s":100,"c":["@"],"i":7,"z":"C"}'),
        msgspec.Raw(b'{"t":"2012-06-21T13:30:00Z","p":58.57415,"s":100}'),
    ]
    (trade,) = decode_rest_items("trades", "AAPL", raws, ARRIVAL, stats)
    assert trade == Trade(
        ts_event=1_340_285_400_000_000_001,
        ts_init=ARRIVAL,
        symbol="AAPL",
        price=585_741,
        size=100,
        venue="V",
        trade_id="7",
        conditions=("@",),
    )
    assert stats.malformed_total == 1
