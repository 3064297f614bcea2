"""The data stream's wire format: exact prices and times in JSON and msgpack, frames, client frame decoding."""

from __future__ import annotations

import json
from decimal import Decimal

import msgpack
import pytest

from tapeflow.data.bars import SESSION_NS
from tapeflow.model.enums import MarketStatus
from tapeflow.model.errors import DataError, ValueRangeError
from tapeflow.model.events import TradingStatus
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.paper.data_wire import (
    WireFormat,
    channel_of,
    decode_client,
    encode_item,
    event_message,
    exchange_code,
    frame,
    rfc3339_ns,
    wire_format,
)

TS = 1_340_285_400_123_456_789  # 2012-06-21 13:30:00.123456789 UTC


def _trade(trade_id: str = "8047") -> Trade:
    return Trade(ts_event=TS, ts_init=TS, symbol="GOOG", price=5_801_200, size=100, venue="XNAS", trade_id=trade_id)


def test_rfc3339_keeps_all_nine_nanosecond_digits_in_utc() -> None:
    assert rfc3339_ns(TS) == "2012-06-21T13:30:00.123456789Z"
    assert rfc3339_ns(0) == "1970-01-01T00:00:00.000000000Z"


def test_wire_format_is_msgpack_only_when_the_content_type_names_it() -> None:
    assert wire_format("application/msgpack") is WireFormat.MSGPACK
    assert wire_format("Application/MsgPack; charset=binary") is WireFormat.MSGPACK
    assert wire_format("application/json") is WireFormat.JSON
    assert wire_format(None) is WireFormat.JSON


def test_exchange_code_maps_mics_and_passes_letters_and_unknown_names() -> None:
    assert exchange_code("XNAS") == "Q"
    assert exchange_code("IEXG") == "V"
    assert exchange_code("Z") == "Z"
    assert exchange_code("") == ""
    assert exchange_code("NBBO") == "NBBO"


def test_json_trade_has_alpaca_fields_with_exact_decimal_price_and_nanosecond_time() -> None:
    raw = encode_item(event_message(_trade(), WireFormat.JSON, "C"), WireFormat.JSON)
    assert b'"p":580.12,' in raw
    assert json.loads(raw) == {
        "T": "t",
        "S": "GOOG",
        "i": 8047,
        "x": "Q",
        "p": 580.12,
        "s": 100,
        "c": [],
        "t": "2012-06-21T13:30:00.123456789Z",
        "z": "C",
    }


def test_json_price_with_four_decimals_is_written_digit_for_digit() -> None:
    quote = Quote(
        ts_event=TS, ts_init=TS, symbol="X", bid_price=12_345, bid_size=1, ask_price=1_234_567_891, ask_size=2
    )
    raw = encode_item(event_message(quote, WireFormat.JSON), WireFormat.JSON)
    assert b'"bp":1.2345,' in raw and b'"ap":123456.7891,' in raw
    assert json.loads(raw, parse_float=Decimal)["ap"] == Decimal("123456.7891")


def test_non_numeric_trade_id_is_sent_as_zero() -> None:
    assert event_message(_trade("GOOG-7"), WireFormat.JSON)["i"] == 0


def test_msgpack_quote_has_timestamp_extension_with_exact_nanoseconds_and_float_prices() -> None:
    quote = Quote(
        ts_event=TS,
        ts_init=TS,
        symbol="GOOG",
        bid_price=5_801_100,
        bid_size=200,
        ask_price=5_801_300,
        ask_size=100,
        venue="XNAS",
    )
    decoded = msgpack.unpackb(encode_item(event_message(quote, WireFormat.MSGPACK), WireFormat.MSGPACK))
    stamp = decoded.pop("t")
    assert (stamp.seconds, stamp.nanoseconds) == (TS // 10**9, TS % 10**9)
    assert decoded == {
        "T": "q",
        "S": "GOOG",
        "bx": "Q",
        "bp": 580.11,
        "bs": 200,
        "ax": "Q",
        "ap": 580.13,
        "as": 100,
        "c": [],
        "z": "",
    }


def test_bar_time_is_its_start_and_unknown_count_and_vwap_are_null() -> None:
    bar = Bar(
        ts_event=TS,
        ts_init=TS,
        symbol="GOOG",
        open=5_800_000,
        high=5_810_000,
        low=5_790_000,
        close=5_805_000,
        volume=1_000,
        interval_ns=60_000_000_000,
    )
    message = json.loads(encode_item(event_message(bar, WireFormat.JSON), WireFormat.JSON))
    assert message == {
        "T": "b",
        "S": "GOOG",
        "o": 580.0,
        "h": 581.0,
        "l": 579.0,
        "c": 580.5,
        "v": 1_000,
        "t": "2012-06-21T13:29:00.123456789Z",
        "n": None,
        "vw": None,
    }


def test_daily_bar_is_a_d_message_stamped_new_york_midnight_of_its_day() -> None:
    close = 1_340_308_800_000_000_000  # 2012-06-21 16:00 New York (EDT)
    bar = Bar(
        ts_event=close, ts_init=close, symbol="GOOG", open=1, high=1, low=1, close=1, volume=9, interval_ns=SESSION_NS
    )
    assert channel_of(bar) == "dailyBars"
    message = json.loads(encode_item(event_message(bar, WireFormat.JSON), WireFormat.JSON))
    assert (message["T"], message["t"], message["v"]) == ("d", "2012-06-21T04:00:00.000000000Z", 9)


def test_bar_of_neither_a_minute_nor_a_day_has_no_channel() -> None:
    bar = Bar(ts_event=TS, ts_init=TS, symbol="GOOG", open=1, high=1, low=1, close=1, volume=1, interval_ns=300 * 10**9)
    with pytest.raises(ValueRangeError, match="minute and daily"):
        channel_of(bar)


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (MarketStatus.HALTED, "H", "Trading Halt"),
        (MarketStatus.QUOTING, "Q", "Quotation Resumption"),
        (MarketStatus.TRADING, "T", "Trading Resumption"),
    ],
)
def test_trading_status_is_an_s_message_with_utp_codes(status: MarketStatus, code: str, text: str) -> None:
    event = TradingStatus(ts_event=TS, ts_init=TS, symbol="GOOG", status=status, reason="T1")
    assert channel_of(event) == "statuses"
    message = json.loads(encode_item(event_message(event, WireFormat.JSON, "C"), WireFormat.JSON))
    assert message == {
        "T": "s",
        "S": "GOOG",
        "sc": code,
        "sm": text,
        "rc": "T1",
        "rm": "",
        "t": "2012-06-21T13:30:00.123456789Z",
        "z": "C",
    }


@pytest.mark.parametrize("count", [0, 1, 15, 16, 70_000])
def test_msgpack_frame_is_an_array_of_its_items_whatever_its_length(count: int) -> None:
    items = [encode_item({"n": i}, WireFormat.MSGPACK) for i in range(count)]
    assert msgpack.unpackb(frame(items, WireFormat.MSGPACK)) == [{"n": i} for i in range(count)]


def test_json_frame_is_an_array_of_its_items() -> None:
    items = [encode_item({"n": i}, WireFormat.JSON) for i in range(3)]
    assert json.loads(frame(items, WireFormat.JSON)) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_decode_client_reads_text_as_json_and_binary_in_the_connection_format() -> None:
    auth = {"action": "auth", "key": "PKTEST", "secret": "SKTEST"}
    assert decode_client(json.dumps(auth), WireFormat.MSGPACK) == auth
    assert decode_client(msgpack.packb(auth), WireFormat.MSGPACK) == auth
    assert decode_client(json.dumps(auth).encode(), WireFormat.JSON) == auth


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '{"key": "x"}', '{"action": 3}', b"\xc1"])
def test_decode_client_refuses_anything_but_an_object_with_a_string_action(data: str | bytes) -> None:
    with pytest.raises(DataError):
        decode_client(data, WireFormat.MSGPACK)
