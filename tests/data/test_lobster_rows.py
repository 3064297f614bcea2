"""``RowReader`` (the compiled path's orderbook rows, one buffer per block) frames rows as ``LineReader`` does.

Same rows for any bytes (carriage returns, blank rows, a last row without a newline, any block size), the same
error when the rows run out, the same bounded read of a line without a newline; ``row_ends`` against a split.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster import COMPILED_AVAILABLE
from tapeflow.data.lobster_parse import LineReader
from tapeflow.data.lobster_rows import RowReader
from tapeflow.model.errors import DataError
from tests.data.test_detect_lines import Endless

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")

if COMPILED_AVAILABLE:
    from tapeflow.data._lobster_core import row_ends

_TEXT = st.lists(st.sampled_from([b"1", b"-2", b",", b"\r", b"\n", b"\r\n", b" ", b"99"]), max_size=80).map(b"".join)


@given(_TEXT)
@settings(max_examples=300, deadline=None)
def test_row_ends_are_minus_one_then_every_newline(data: bytes) -> None:
    assert row_ends(data).tolist() == [-1, *(i for i, c in enumerate(data) if c == 10)]


def _take_all(reader: LineReader | RowReader, sizes: list[int]) -> tuple[list[list[bytes]], str, bool | None]:
    taken: list[list[bytes]] = []
    row = 0
    try:
        for n in sizes:
            got = reader.take(n, row)
            taken.append(got if isinstance(got, list) else got.lines())
            row += n
    except DataError as exc:
        return taken, str(exc), None
    more = reader.more(row) if isinstance(reader, RowReader) else bool(reader.block(row))
    return taken, "", more


@given(_TEXT, st.lists(st.integers(0, 6), max_size=12), st.integers(1, 9))
@settings(max_examples=400, deadline=None)
def test_row_reader_takes_the_rows_line_reader_takes(data: bytes, sizes: list[int], block: int) -> None:
    lines = _take_all(LineReader(io.BytesIO(data), "b.csv", block), sizes)
    rows = _take_all(RowReader(io.BytesIO(data), "b.csv", block, row_ends), sizes)
    assert rows == lines


def test_row_block_gives_each_row_and_the_list_of_them() -> None:
    block = RowReader(io.BytesIO(b"a,1\r\nb,2\n\nc,3"), "b.csv", 4, row_ends).take(4, 0)
    assert block.n == 4
    assert [block.line(i) for i in range(4)] == block.lines() == [b"a,1", b"b,2", b"", b"c,3"]


def test_row_reader_without_newline_fails_after_a_bounded_read() -> None:
    stream = Endless()
    reader = RowReader(stream, "b.csv", 1 << 16, row_ends, max_line=1 << 18)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"b\.csv, byte offset 0: line longer than 262144 bytes"):
        reader.take(1, 0)
    assert stream.read_bytes <= (1 << 18) + 2 * (1 << 16)


def test_row_reader_long_line_between_short_ones_is_refused_at_its_offset() -> None:
    reader = RowReader(io.BytesIO(b"ok\n" + b"x" * 50 + b"\nok\n"), "f", 8, row_ends, max_line=20)
    with pytest.raises(DataError, match="byte offset 3: line longer than 20 bytes"):
        reader.take(3, 0)
