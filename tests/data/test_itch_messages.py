"""ITCH 5.0 layouts and encoder: every type round-trips exactly; the encoder refuses what cannot fit."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.itch import ItchReader
from tapeflow.data.itch_encoder import encode_message, encode_stream, frame
from tapeflow.data.itch_messages import (
    LAYOUTS,
    LENGTH_BY_TYPE,
    SPEC_LENGTHS,
    TIMESTAMP_MAX,
    ItchAddOrder,
    ItchMessage,
    ItchStockDirectory,
    ItchSystemEvent,
    Layout,
)
from tapeflow.data.itch_parser import decode_message
from tapeflow.model.errors import DataError, ValueRangeError

DAY = dt.date(2019, 12, 30)

_CHAR = st.characters(min_codepoint=0, max_codepoint=255)
_MAX = {"H": 2**16 - 1, "I": 2**32 - 1, "Q": 2**64 - 1}


def _field(code: str) -> st.SearchStrategy[object]:
    if code in _MAX:
        return st.integers(0, _MAX[code])
    if code == "c":
        return _CHAR
    # The wire pads with spaces, so a value cannot end in one: the parser strips them.
    return st.text(_CHAR, max_size=int(code[:-1])).map(lambda text: text.rstrip(" "))


def message_of(layout: Layout) -> st.SearchStrategy[ItchMessage]:
    """Any message of ``layout``'s type, every field over its whole wire range."""
    header = [st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1), st.integers(0, TIMESTAMP_MAX)]
    body = [_field(code) for code in layout.codes]
    return st.tuples(*header, *body).map(lambda values: layout.cls(*values))


ALL_LAYOUTS = sorted(LAYOUTS.values(), key=lambda layout: layout.type_char)
any_message = st.one_of([message_of(layout) for layout in ALL_LAYOUTS])


def test_layouts_cover_every_itch50_message_type_with_spec_lengths() -> None:
    assert sorted(chr(code) for code in LAYOUTS) == sorted("SRHYLVWKJhAFECXDUPQBINO")
    assert {chr(code): layout.length for code, layout in LAYOUTS.items()} == SPEC_LENGTHS
    assert LENGTH_BY_TYPE[ord("A")] == 36
    assert LENGTH_BY_TYPE[ord("Z")] == 0


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.type_char)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_type_encode_then_parse_is_identity(layout: Layout, data: st.DataObject) -> None:
    message = data.draw(message_of(layout))
    body = encode_message(message)
    assert len(body) == layout.length
    assert body[0] == ord(layout.type_char)
    assert decode_message(layout, body, 0) == message
    assert msgspec.json.decode(msgspec.json.encode(message), type=layout.cls) == message


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.type_char)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_type_parse_then_encode_gives_back_any_bytes(layout: Layout, data: st.DataObject) -> None:
    body = data.draw(st.binary(min_size=layout.length - 1, max_size=layout.length - 1))
    raw = layout.type_char.encode() + body
    assert encode_message(decode_message(layout, raw, 0)) == raw


@settings(max_examples=60, deadline=None)
@given(messages=st.lists(any_message, max_size=40), framing=st.sampled_from(["length", "raw"]))
def test_mixed_stream_round_trips_through_the_reader(messages: list[ItchMessage], framing: str) -> None:
    data = encode_stream(messages, framing)  # type: ignore[arg-type]
    reader = ItchReader(data, date=DAY, framing=framing, strict=True)  # type: ignore[arg-type]
    if not messages:  # an empty input is a failed copy, never a quiet day
        with pytest.raises(DataError, match=r"<bytes>, byte offset 0: empty: no ITCH messages"):
            list(reader.messages())
        return
    assert list(reader.messages()) == messages
    assert reader.stats.messages == len(messages)
    assert reader.stats.bytes == len(data)


def test_frame_prefixes_the_big_endian_length() -> None:
    body = encode_message(ItchSystemEvent(0, 0, 5, "O"))
    assert frame(body) == b"\x00\x0c" + body
    assert frame(body, "raw") == body


def test_encoder_pads_alpha_fields_with_spaces() -> None:
    body = encode_message(ItchAddOrder(1, 2, 3, 4, "B", 100, "AA", 1_000_000))
    assert body[24:32] == b"AA      "


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (ItchAddOrder(1, 2, 3, 4, "B", 100, "TOOLONGSYM", 1), "does not fit the 8-character field"),
        (ItchAddOrder(1, 2, 3, 4, "", 100, "AA", 1), "does not fit the 1-character field"),
        (ItchAddOrder(1, 2, 3, 4, "B", -1, "AA", 1), "cannot be encoded"),
        (ItchAddOrder(1, 2, 2**48, 4, "B", 1, "AA", 1), "does not fit in 6 bytes"),
        (ItchAddOrder(1, 2, 3, 4, "B", 1, "\u20ac", 1), "is not 8-bit text"),
    ],
)
def test_encoder_refuses_values_the_wire_cannot_carry(message: ItchMessage, match: str) -> None:
    with pytest.raises(ValueRangeError, match=match):
        encode_message(message)


def test_stock_directory_fields_sit_at_spec_offsets() -> None:
    msg = ItchStockDirectory(7, 0, 1, "AAPL", "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N")
    body = encode_message(msg)
    assert body[1:3] == b"\x00\x07"
    assert body[11:19] == b"AAPL    "
    assert body[21:25] == (100).to_bytes(4, "big")  # round lot size at offset 21
    assert body[27:29] == b"Z "  # issue sub-type, 2 characters
