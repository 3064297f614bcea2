"""Reading LOBSTER csv members fast: blocks of whole lines, message columns converted by ``pyarrow.csv``.

A day is 50k-160k rows of six small integers, and in CPython every ``bytes`` or ``int`` object a parser
creates costs about as much as the arithmetic it feeds. So a block of message lines goes to ``pyarrow.csv``,
which converts the five integer columns in C++; the decimal time is checked against the format (digits, at
most one dot, between digits: pyarrow's decimal parser would also take a sign, an exponent, spaces, ``.5``
and ``5.``) and converted as a ``decimal128`` with 12 decimals, whose integer storage is rounded half
up to nanoseconds: no float anywhere. Only the final ``tolist()`` creates Python ints. Anything pyarrow
refuses, or that could mean something else to the format than to pyarrow (a row count that differs from the
lines, a sign or a bare dot in a time, more than 12 decimals), sends the block to the checking, row-by-row
parser, which names the first bad row or, when the block is valid after all, parses it exactly.

The framing stays here, by hand, on purpose: ``LineReader`` bounds a line to 1 MiB and names the byte offset
where a longer one began, keeps a carriage return as data unless it ends a line, and hands the orderbook file
out row for row with the messages; pyarrow would accept a bare carriage return as a line end and could not
say which row of a block was the first bad one. The blocks it hands to pyarrow are bounded (1 MiB), so
parsing one with ``read_csv`` keeps memory bounded as ``open_csv`` would.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

from tapeflow.data.files import MAX_LINE, Readable, line_too_long, read_near_row
from tapeflow.data.nytime import seconds_column_to_ns
from tapeflow.model.errors import DataError

Columns = tuple[list[int], list[int], list[int], list[int], list[int], list[int]]
"""time (ns UTC), type, order id, size, price, direction."""

_COMMA = 44

I64 = npt.NDArray[np.int64]


_INT64: Final = 1 << 63
"""Integers must fit a signed 64-bit field: events are stored and compared as int64 downstream."""
_PAD: Final = 19
"""Width of the byte windows ``last_level_fields`` compares fields in."""

_NAMES: Final = ("time", "type", "order_id", "size", "price", "direction")
_TIME_DECIMALS: Final = 12
"""Decimals the fast path converts (the float noise in some files has 12: ``43002.632812672004``); a time with
more is rounded by the checking parser, as the format says."""
_TIME_TYPE: Final = pa.decimal128(18, _TIME_DECIMALS)
_READ: Final = pcsv.ReadOptions(column_names=list(_NAMES), use_threads=False, block_size=4 << 20)
_PARSE: Final = pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False)
_CONVERT: Final = pcsv.ConvertOptions(
    column_types={"time": pa.string(), **{name: pa.int64() for name in _NAMES[1:]}},
    null_values=[],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)
"""Strict: no quoting, no empty lines skipped, no empty field read as null; every column typed (no inference)."""
_INT64_MIN: Final = -(1 << 63)


def _windows(buf: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``w[e]`` is the ``_PAD`` bytes that end just before offset ``e`` of ``buf`` (zero-padded at the start):
    a field that ends at ``e`` is right-aligned in it. A view: gathering rows of it copies only n x width
    bytes."""
    padded = np.concatenate((np.zeros(_PAD, dtype=np.uint8), buf))
    return np.lib.stride_tricks.sliding_window_view(padded, _PAD)


def _int64s(array: pa.Array) -> I64:
    """The values of an int64 array without nulls, as a numpy view of its buffer (``to_numpy`` would import
    pandas on its first call: 150 ms)."""
    values: I64 = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array)]
    return values


def _time_ns(text: pa.Array, base: int) -> I64 | None:
    """``base`` + ns of each decimal-seconds text, rounded half up; None when one is not in the format."""
    digits = pc.replace_substring(text, ".", "", max_replacements=1)
    if not (
        pc.all(pc.ascii_is_decimal(digits)).as_py()
        and not pc.any(pc.starts_with(text, ".")).as_py()
        and not pc.any(pc.ends_with(text, ".")).as_py()
    ):
        return None  # a time must be digits with at most one dot between digits, as seconds_to_ns reads it
    scaled = pc.cast(text, _TIME_TYPE)
    # decimal128 stores value x 10**12 as a little-endian int128; below 10**18 its low int64 is the value
    raw = np.frombuffer(scaled.buffers()[1], dtype=np.int64)[2 * scaled.offset :: 2][: len(scaled)]
    ns: I64 = (raw + 500) // 1000  # half up on the tenth decimal, as seconds_to_ns rounds
    if base + int(ns.max()) >= _INT64:
        return None  # a day past 2262: int64 would wrap; Python ints on the checking path do not
    return ns + base


def parse_block_fast(block: bytes, rows: int, base: int) -> Columns | None:
    """Columns of ``rows`` message lines (each ending in a newline); None when anything is unusual."""
    try:
        table = pcsv.read_csv(io.BytesIO(block), read_options=_READ, parse_options=_PARSE, convert_options=_CONVERT)
        if table.num_rows != rows:
            return None  # a bare carriage return, which pyarrow takes for a line end
        if any(column.null_count for column in table.columns):
            return None  # none with these options; a view of the buffer would read a null as a number
        batch = table.combine_chunks()
        ns = _time_ns(batch.column(0).chunk(0), base)
    except (pa.ArrowException, ValueError):
        return None
    if ns is None:
        return None
    cols = [_int64s(batch.column(c).chunk(0)) for c in range(1, 6)]
    if any(int(c.min()) == _INT64_MIN for c in cols):
        return None  # fits int64, but not the symmetric range the checking parser allows
    kinds, ids, sizes, prices, dirs = (c.tolist() for c in cols)
    return ns.tolist(), kinds, ids, sizes, prices, dirs


class LineReader:
    """Whole lines from a zip member, read in blocks.

    Only an unfinished last line is carried from one read to the next, and it may not grow past ``max_line``
    bytes: a member without newlines fails after a bounded read instead of being gathered into memory whole.
    """

    def __init__(self, stream: Readable, where: str, block: int, max_line: int = MAX_LINE) -> None:
        self._stream = stream
        self._where = where
        self._block = block
        self._max_line = max_line
        self._read = 0
        self._lines: list[bytes] = []
        self._pos = 0
        self._tail = b""
        self.eof = False

    def _fill(self, row: int) -> bool:
        data = read_near_row(self._stream.read, self._block, self._where, row)
        self._read += len(data)
        if not data:
            self.eof = True
            if self._tail.strip():
                self._lines = [*self._lines[self._pos :], self._tail.removesuffix(b"\r")]
                self._pos = 0
                self._tail = b""
                return True
            return False
        data = self._tail + data
        cut = data.rfind(b"\n") + 1
        self._tail = data[cut:]
        self._check_tail()
        data = data[:cut]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        self._lines = self._lines[self._pos :] + data[:-1].split(b"\n") if cut else self._lines[self._pos :]
        self._pos = 0
        return True

    def block(self, row: int) -> list[bytes]:
        """The next block of lines (empty at the end); ``row`` is the number of rows read so far, for
        errors."""
        while self._pos >= len(self._lines):
            if self.eof or not self._fill(row):
                return []
        out = self._lines[self._pos :] if self._pos else self._lines
        self._lines = []
        self._pos = 0
        return out

    def raw_block(self, row: int) -> tuple[bytes, int]:
        """Whole lines as one bytes object ending in a newline, and how many (``b"", 0`` at the end)."""
        while True:
            data = read_near_row(self._stream.read, self._block, self._where, row)
            self._read += len(data)
            if data:
                cut = data.rfind(b"\n") + 1
                if not cut:
                    self._tail += data
                    self._check_tail()
                    continue
                data = self._tail + data
                cut += len(self._tail)
                self._tail = data[cut:]
                data = data[:cut]
            else:
                data, self._tail = self._tail, b""
                if not data.strip():
                    return b"", 0
                data += b"\n"
            if b"\r" in data:  # a carriage return ends a line only before its newline; elsewhere it is bad data
                data = data.replace(b"\r\n", b"\n")
            return data, data.count(b"\n")

    def _check_tail(self) -> None:
        if len(self._tail) > self._max_line:
            raise line_too_long(self._where, self._read - len(self._tail), self._max_line)

    def take(self, n: int, row: int) -> list[bytes]:
        while len(self._lines) - self._pos < n:
            if self.eof or not self._fill(row):
                last = row + len(self._lines) - self._pos
                raise DataError(
                    f"orderbook file ends at row {last} but the message file goes on; the two files must "
                    "have one row per message",
                    path=self._where,
                    line=last + 1,
                )
        out = self._lines[self._pos : self._pos + n]
        self._pos += n
        return out


def _bad_row(lines: list[bytes], where: str, first_row: int) -> DataError:
    """Find the first malformed row of a block (the fast parse only knows that one is)."""
    for i, line in enumerate(lines):
        fields = line.split(b",")
        problem = ""
        if len(fields) != 6:
            problem = f"has {len(fields)} fields, expected 6 (time,type,order id,size,price,direction)"
        else:
            try:
                seconds_column_to_ns([fields[0]])
                kind, _, size, _, direction = (int(f) for f in fields[1:])
            except ValueError:
                problem = "has a field that is not a number"
            else:
                if not 1 <= kind <= 7:
                    problem = f"has event type {kind}, expected 1-7"
                elif direction not in (1, -1):
                    problem = f"has direction {direction}, expected 1 or -1"
                elif size < 0:
                    problem = f"has a negative size {size}"
                elif any(abs(int(f)) >= _INT64 for f in fields[1:]):
                    problem = "has a value that does not fit a 64-bit integer"
        if problem:
            text = line[:120].decode("utf-8", "replace")
            return DataError(f"malformed message row {text!r}: it {problem}", path=where, line=first_row + i)
    return DataError("malformed block (no single bad row found)", path=where, line=first_row)


def _parse_block(lines: list[bytes], where: str, first_row: int, base: int) -> tuple[list[int], ...]:
    """Columns of a block of message rows: seconds (as ns after midnight), type, id, size, price,
    direction."""
    n = len(lines)
    fields = b",".join(lines).split(b",")
    if len(fields) != 6 * n:
        raise _bad_row(lines, where, first_row)
    try:
        kinds = list(map(int, fields[1::6]))
        ids = list(map(int, fields[2::6]))
        sizes = list(map(int, fields[3::6]))
        prices = list(map(int, fields[4::6]))
        dirs = list(map(int, fields[5::6]))
        secs = seconds_column_to_ns(fields[0::6], base)
    except ValueError:
        raise _bad_row(lines, where, first_row) from None
    if dirs.count(1) + dirs.count(-1) != n or min(kinds) < 1 or max(kinds) > 7 or min(sizes) < 0:
        raise _bad_row(lines, where, first_row)
    if max(map(abs, ids)) >= _INT64 or max(sizes) >= _INT64 or max(map(abs, prices)) >= _INT64:
        raise _bad_row(lines, where, first_row)
    return secs, kinds, ids, sizes, prices, dirs


def parse_block(block: bytes, rows: int, where: str, first_row: int, base: int) -> Columns:
    """The fast parse, else the checking one (which raises ``DataError`` naming the first bad row)."""
    fast = parse_block_fast(block, rows, base)
    if fast is not None and min(fast[1]) >= 1 and max(fast[1]) <= 7:
        kinds, sizes, dirs = fast[1], fast[3], fast[5]
        if dirs.count(1) + dirs.count(-1) == rows and min(sizes) >= 0 and min(kinds) >= 1:
            return fast
    lines = block.split(b"\n")[:rows]
    secs, kinds, ids, sizes, prices, dirs = _parse_block(lines, where, first_row, base)
    return secs, kinds, ids, sizes, prices, dirs


_FIELD: Final = 12
"""Widest orderbook price field compared (the empty-bid sentinel -9999999999 has 11 characters)."""


def _right_aligned(win: npt.NDArray[np.uint8], start: I64, end: I64) -> npt.NDArray[np.uint8] | None:
    width = end - start
    if not len(width) or width.min() < 1 or width.max() > _FIELD:
        return None
    out = win[end][:, _PAD - _FIELD :].copy()
    out[np.arange(_FIELD)[None, :] < (_FIELD - width)[:, None]] = 0
    return out


def last_level_fields(lines: list[bytes], levels: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]] | None:
    """The ask and bid price fields of level ``levels`` (the deepest shown) of each orderbook row, as bytes
    right-aligned in rows of a matrix; None when a row does not have ``4 x levels`` fields.

    The decoder only needs to know whether that price changed from one row to the next (and whether it is the
    empty-level sentinel), so the fields are compared as bytes: no ``split``, no ``int`` per row.
    """
    n = len(lines)
    blob = b"\n".join(lines)
    buf = np.frombuffer(blob, dtype=np.uint8)
    per = 4 * levels - 1
    commas = np.flatnonzero(buf == _COMMA)
    if len(commas) != per * n:
        return None
    c = commas.reshape(n, per)
    lens = np.fromiter(map(len, lines), dtype=np.int64, count=n)
    line_end = np.cumsum(lens + 1) - 1
    line_start = line_end - lens
    if np.any(c[:, 0] <= line_start) or np.any(c[:, -1] >= line_end - 1):
        return None  # commas are in the wrong rows, or a field is empty
    ask_start = line_start if levels == 1 else c[:, per - 4] + 1
    win = _windows(buf)
    ask = _right_aligned(win, ask_start, c[:, per - 3])
    bid = _right_aligned(win, c[:, per - 2] + 1, c[:, per - 1])
    if ask is None or bid is None:
        return None
    return ask, bid


def field_pattern(text: bytes) -> npt.NDArray[np.uint8]:
    """``text`` right-aligned like ``last_level_fields`` rows, to compare with them."""
    row = np.zeros(_FIELD, dtype=np.uint8)
    row[_FIELD - len(text) :] = np.frombuffer(text, dtype=np.uint8)
    return row


def bad_book_row(lines: list[bytes], levels: int, where: str, first_row: int) -> DataError:
    """The first orderbook row that is not 4 x levels integers."""
    for i, line in enumerate(lines):
        fields = line.split(b",")
        if len(fields) != 4 * levels or not all(f.lstrip(b"-").isdigit() for f in fields):
            text = line[:120].decode("utf-8", "replace")
            return DataError(
                f"malformed orderbook row {text!r}: expected {4 * levels} integers (price,size per side and level)",
                path=where,
                line=first_row + i,
            )
    return DataError("malformed orderbook block (no single bad row found)", path=where, line=first_row)
