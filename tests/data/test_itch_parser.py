"""Reading ITCH bytes: the real Nasdaq fixture, framings, gzip, truncation and irregular messages."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tapeflow.data.itch import ItchReader
from tapeflow.data.itch_encoder import encode_message, encode_stream, write_itch
from tapeflow.data.itch_messages import (
    ItchAddOrder,
    ItchMessage,
    ItchOrderDelete,
    ItchStockDirectory,
    ItchStockTradingAction,
    ItchSystemEvent,
)
from tapeflow.data.itch_parser import detect_framing
from tapeflow.model.errors import DataError

DAY = dt.date(2019, 12, 30)
FIXTURE = "nasdaq-itch50-head-fixture/sample.itch"


def _directory(locate: int, stock: str) -> ItchStockDirectory:
    return ItchStockDirectory(locate, 0, 10, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N")


SAMPLE: list[ItchMessage] = [
    ItchSystemEvent(0, 0, 1, "O"),
    _directory(1, "AAPL"),
    ItchStockTradingAction(1, 0, 11, "AAPL", "T", " ", ""),
    ItchAddOrder(1, 0, 12, 42, "B", 100, "AAPL", 1_234_500),
    ItchOrderDelete(1, 0, 13, 42),
]


def test_real_fixture_has_exactly_the_documented_messages(data_dir: Path) -> None:
    reader = ItchReader(data_dir / FIXTURE, date=DAY, strict=True)
    messages = list(reader.messages())
    assert len(messages) == 1000
    assert reader.stats.framing == "length"
    assert reader.stats.bytes == 40_874
    assert Counter(type(m).__name__ for m in messages) == {
        "ItchSystemEvent": 1,
        "ItchStockDirectory": 993,
        "ItchStockTradingAction": 3,
        "ItchRegShoRestriction": 3,
    }
    assert reader.stats.by_type == {"S": 1, "R": 993, "H": 3, "Y": 3}
    first, last = messages[0], messages[-1]
    assert isinstance(first, ItchSystemEvent)
    assert (first.event_code, first.stock_locate, first.timestamp) == ("O", 0, 11_072_057_543_747)
    assert isinstance(last, ItchStockDirectory)
    assert (last.stock_locate, last.stock, last.market_category, last.round_lot_size) == (
        993,
        "BPFH",
        "Q",
        100,
    )
    directories = [m for m in messages if isinstance(m, ItchStockDirectory)]
    assert [m.stock_locate for m in directories] == list(range(1, 994))
    assert [m.stock for m in directories[:6]] == ["A", "AA", "AAAU", "AACG", "AADR", "AAL"]


def test_real_fixture_reencodes_byte_for_byte(data_dir: Path) -> None:
    raw = (data_dir / FIXTURE).read_bytes()
    assert encode_stream(ItchReader(raw, date=DAY).messages()) == raw


def test_real_fixture_trading_actions_become_trading_status_events(data_dir: Path) -> None:
    reader = ItchReader(data_dir / FIXTURE, date=DAY, strict=True)
    events = list(reader.events())
    assert [(e.symbol, e.status.value) for e in events] == [
        ("A", "TRADING"),
        ("AA", "TRADING"),
        ("AAAU", "TRADING"),
    ]
    assert reader.stats.messages == 1000


def test_real_fixture_read_in_tiny_chunks_and_from_gzip_gives_the_same(data_dir: Path, tmp_path: Path) -> None:
    raw = (data_dir / FIXTURE).read_bytes()
    expected = list(ItchReader(raw, date=DAY).messages())
    assert list(ItchReader(raw, date=DAY, chunk_size=7).messages()) == expected
    gz = tmp_path / "sample.itch.gz"
    gz.write_bytes(gzip.compress(raw))
    assert list(ItchReader(gz, date=DAY, chunk_size=1000).messages()) == expected


@pytest.mark.parametrize("framing", ["length", "raw"])
@pytest.mark.parametrize("chunk_size", [1, 2, 5, 1 << 14])
def test_framing_is_detected_from_the_first_bytes_whatever_the_chunk_size(framing: str, chunk_size: int) -> None:
    data = encode_stream(SAMPLE, framing)  # type: ignore[arg-type]
    assert detect_framing(data) == framing
    reader = ItchReader(data, date=DAY, chunk_size=chunk_size)
    assert list(reader.messages()) == SAMPLE
    assert reader.stats.framing == framing
    assert len(list(ItchReader(data, date=DAY, chunk_size=chunk_size).events())) == 3  # H, A, D


def test_bytes_that_are_not_itch_are_refused_with_a_hint() -> None:
    with pytest.raises(DataError, match=r"neither length-prefixed nor back-to-back ITCH 5\.0"):
        list(ItchReader(b"\xff\xfe not itch at all", date=DAY).messages())


def test_gzip_of_several_members_and_file_objects_are_read(tmp_path: Path) -> None:
    data = encode_stream(SAMPLE)
    stream = io.BytesIO(gzip.compress(data[:40]) + gzip.compress(data[40:]))
    assert list(ItchReader(stream, date=DAY).messages()) == SAMPLE


def test_writer_gzips_by_suffix_and_reader_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "out.itch.gz"
    assert write_itch(path, SAMPLE) == len(SAMPLE)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert list(ItchReader(path, date=DAY).messages()) == SAMPLE


def test_truncated_last_message_is_counted_and_warned() -> None:
    data = encode_stream(SAMPLE)[:-5]
    reader = ItchReader(data, date=DAY, chunk_size=16)
    with pytest.warns(UserWarning, match="ends inside a message"):
        messages = list(reader.messages())
    assert messages == SAMPLE[:-1]
    assert reader.stats.truncated_bytes == 21 - 5
    assert reader.stats.truncated_offset == len(data) - 16


@pytest.mark.parametrize("events", [False, True])
def test_truncated_last_message_raises_with_its_offset_in_strict_mode(events: bool) -> None:
    data = encode_stream(SAMPLE)[:-5]
    reader = ItchReader(data, date=DAY, strict=True)
    with pytest.raises(DataError, match=rf"byte offset {len(data) - 16}: the input ends inside a message"):
        list(reader.events() if events else reader.messages())


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    packed = gzip.compress(encode_stream(SAMPLE * 50))
    path = tmp_path / "cut.itch.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(ItchReader(path, date=DAY).messages())
    texts = [str(w.message) for w in caught]
    assert any("gzip stream ends early" in text for text in texts)
    assert any("ends inside a message" in text for text in texts)
    with pytest.raises(DataError, match="gzip stream ends early"):
        list(ItchReader(path, date=DAY, strict=True).messages())


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(encode_stream(SAMPLE * 50)))
    packed[20:40] = b"\x00" * 20
    with pytest.raises(DataError, match="corrupt gzip data"):
        list(ItchReader(bytes(packed), date=DAY).messages())


def test_unknown_type_is_skipped_by_its_length_prefix_and_counted() -> None:
    data = encode_stream(SAMPLE[:2]) + b"\x00\x05Zabcd" + encode_stream(SAMPLE[2:])
    reader = ItchReader(data, date=DAY)
    assert list(reader.messages()) == SAMPLE
    assert reader.stats.unknown_types == 1
    assert reader.stats.messages == len(SAMPLE) + 1
    with pytest.raises(DataError, match=r"byte offset 55: unknown ITCH message type byte 0x5a"):
        list(ItchReader(data, date=DAY, strict=True).messages())


def test_unknown_type_without_length_prefixes_stops_with_its_offset() -> None:
    data = encode_stream(SAMPLE[:2], "raw") + b"Zabcd" + encode_stream(SAMPLE[2:], "raw")
    with pytest.raises(DataError, match=r"byte offset 51: unknown ITCH message type byte 0x5a"):
        list(ItchReader(data, date=DAY, framing="raw").messages())


def test_short_message_is_malformed_and_a_long_one_is_read_to_spec_length() -> None:
    delete = encode_message(SAMPLE[4])
    short = len(delete[:-1]).to_bytes(2, "big") + delete[:-1]
    long = (len(delete) + 3).to_bytes(2, "big") + delete + b"new"
    data = encode_stream(SAMPLE[:4]) + short + long
    reader = ItchReader(data, date=DAY)
    assert list(reader.messages()) == SAMPLE
    assert (reader.stats.malformed, reader.stats.oversized) == (1, 1)
    with pytest.raises(DataError, match="ITCH D message is 18 bytes, the specification says 19"):
        list(ItchReader(data, date=DAY, strict=True).messages())


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot open ITCH file"):
        list(ItchReader(tmp_path / "nope.itch", date=DAY).messages())


def test_symbol_filter_drops_other_stocks_messages_but_keeps_system_events() -> None:
    data = encode_stream([*SAMPLE, _directory(2, "MSFT"), ItchAddOrder(2, 0, 20, 43, "S", 5, "MSFT", 10)])
    reader = ItchReader(data, date=DAY, symbols=["MSFT"])
    kept = list(reader.messages())
    assert [type(m).__name__ for m in kept] == ["ItchSystemEvent", "ItchStockDirectory", "ItchAddOrder"]
    assert reader.directory == {1: "AAPL", 2: "MSFT"}
