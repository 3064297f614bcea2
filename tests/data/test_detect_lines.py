"""``iter_lines`` and the LOBSTER ``LineReader``: whole lines in blocks, linear, with a bounded line length."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.files import BLOCK, MAX_LINE, iter_lines
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_parse import LineReader
from tapeflow.data.taq import TaqReader
from tapeflow.model.errors import DataError


class Endless(io.RawIOBase):
    """A stream of one byte repeated forever, counting what was read: the worst member a reader can meet."""

    def __init__(self, byte: bytes = b"a") -> None:
        self.byte = byte
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = BLOCK if size < 0 else size
        self.read_bytes += n
        return self.byte * n


def test_line_without_newline_fails_after_a_bounded_read() -> None:
    stream = Endless()
    with pytest.raises(DataError, match=rf"s\.csv, byte offset 0: line longer than {MAX_LINE} bytes without a newline"):
        list(iter_lines(stream, "s.csv"))  # type: ignore[arg-type]
    assert stream.read_bytes <= MAX_LINE + 2 * BLOCK


def test_lobster_line_reader_without_newline_fails_after_a_bounded_read() -> None:
    stream = Endless()
    reader = LineReader(stream, "m.csv", 1 << 20)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=rf"m\.csv, byte offset 0: line longer than {MAX_LINE} bytes"):
        reader.raw_block(0)
    assert stream.read_bytes <= MAX_LINE + 2 * (1 << 20)
    books = LineReader(Endless(), "b.csv", 3 << 20)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"b\.csv, byte offset 0: line longer than"):
        books.take(1, 0)


def test_long_line_between_short_ones_is_refused_at_its_offset() -> None:
    data = b"ok\n" + b"x" * 50 + b"\nok\n"
    with pytest.raises(DataError, match="byte offset 3: line longer than 20 bytes"):
        list(iter_lines(io.BytesIO(data), "f", block=8, max_line=20))
    with pytest.raises(DataError, match="byte offset 3: line longer than 20 bytes"):
        list(iter_lines(io.BytesIO(data), "f", block=1000, max_line=20))


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")), max_size=30),
    block=st.integers(1, 40),
    crlf=st.booleans(),
    last_newline=st.booleans(),
)
def test_any_blocking_yields_the_same_lines(lines: list[bytes], block: int, crlf: bool, last_newline: bool) -> None:
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if last_newline and lines else b"")
    expected = list(lines)
    if expected and not last_newline and not expected[-1].strip():
        expected.pop()  # a blank last line without its newline is not a line
    assert list(iter_lines(io.BytesIO(data), "f", block=block)) == expected


def test_carriage_return_inside_a_line_is_kept_as_data() -> None:
    assert list(iter_lines(io.BytesIO(b"a\r\nb\rc\nd\r"), "f", block=3)) == [b"a", b"b\rc", b"d"]


def test_50_mb_member_without_newline_fails_fast_in_the_taq_and_lobster_readers(tmp_path: Path) -> None:
    blob = b"7" * (50 << 20)
    taq = tmp_path / "20131007_trade.zip"
    lobster = tmp_path / "lob.zip"
    stem = "TEST_2012-06-21_34200000_57600000"
    with zipfile.ZipFile(taq, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("20131007_abc_Trade_Tick.csv", blob)
    with zipfile.ZipFile(lobster, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{stem}_message_1.csv", blob)
        zf.writestr(f"{stem}_orderbook_1.csv", blob)
    del blob
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"20131007_abc_Trade_Tick\.csv, byte offset 0: line longer than"):
        list(TaqReader(taq).events())
    with pytest.raises(DataError, match=r"message_1\.csv, byte offset 0: line longer than"):
        list(iter_events(lobster))
    assert time.perf_counter() - start < 5, "a hang guard only: both fail after reading about 2 MB"
