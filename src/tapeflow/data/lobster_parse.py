"""Reading LOBSTER csv members fast: blocks of whole lines, and message columns parsed without per-field
objects.

A day is 50k-160k rows of six small integers, and in CPython every ``bytes`` or ``int`` object a parser
creates costs about as much as the arithmetic it feeds. So the message block is parsed by numpy straight from
its bytes: separator positions give each field's span, digits are gathered right-aligned into a small matrix
and weighted by powers of ten, the decimal time is split at its dot and padded to nanoseconds, all without a
float. Only the final ``tolist()`` creates Python ints. Any byte that does not fit the format sends the block
to the checking, row-by-row parser, which names the first bad row.
"""

from __future__ import annotations

import zipfile
import zlib
from typing import IO, Final

import numpy as np
import numpy.typing as npt

from tapeflow.data.detect import MAX_LINE, line_too_long
from tapeflow.data.nytime import NS_PER_SECOND, seconds_column_to_ns
from tapeflow.model.errors import DataError

Columns = tuple[list[int], list[int], list[int], list[int], list[int], list[int]]
"""time (ns UTC), type, order id, size, price, direction."""

_POW10: Final = 10 ** np.arange(19, dtype=np.int64)
_ALLOWED: Final = np.zeros(256, dtype=bool)
_ALLOWED[list(b"0123456789,.-\n")] = True
_COMMA, _NL, _DOT, _MINUS, _ZERO = 44, 10, 46, 45, 48

I64 = npt.NDArray[np.int64]


_INT64: Final = 1 << 63
"""Integers must fit a signed 64-bit field: events are stored and compared as int64 downstream."""
_PAD: Final = 19
"""Widest integer field parsed (digits): what fits an int64."""


def _windows(buf: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``w[e]`` is the ``_PAD`` bytes that end just before offset ``e`` of ``buf`` (zero-padded at the start):
    a field that ends at ``e`` is right-aligned in it. A view: gathering rows of it copies only n x width
    bytes."""
    padded = np.concatenate((np.zeros(_PAD, dtype=np.uint8), buf))
    return np.lib.stride_tricks.sliding_window_view(padded, _PAD)


def _ints(win: npt.NDArray[np.uint8], buf: npt.NDArray[np.uint8], start: I64, end: I64, signed: bool) -> I64 | None:
    """Integers in ``buf[start:end]`` per row; None when a field is empty, too long or not a number."""
    neg = buf[start] == _MINUS if signed else np.zeros(len(start), dtype=bool)
    width = end - start - neg
    if not len(width) or width.min() < 1 or width.max() > 18:
        return None
    w = int(width.max())
    digits = win[end][:, _PAD - w :].astype(np.int64) - _ZERO
    digits[np.arange(w)[None, :] < (w - width)[:, None]] = 0
    if digits.min() < 0 or digits.max() > 9:
        return None
    values: I64 = digits @ _POW10[w - 1 :: -1]
    if signed:
        values[neg] = -values[neg]
    return values


def parse_block_fast(block: bytes, rows: int, base: int) -> Columns | None:
    """Columns of ``rows`` message lines (each ending in a newline); None when anything is unusual."""
    buf = np.frombuffer(block, dtype=np.uint8)
    if not _ALLOWED[buf].all():
        return None
    seps = np.flatnonzero((buf == _COMMA) | (buf == _NL)).astype(np.int64)
    if len(seps) != 6 * rows or not np.array_equal(buf[seps[5::6]], np.full(rows, _NL, dtype=np.uint8)):
        return None
    starts = np.empty_like(seps)
    starts[0] = 0
    starts[1:] = seps[:-1] + 1
    win = _windows(buf)
    cols: list[I64] = []
    for c in range(1, 6):
        values = _ints(win, buf, starts[c::6], seps[c::6], signed=True)
        if values is None:
            return None
        cols.append(values)
    t_start, t_end = starts[0::6], seps[0::6]
    dots = np.flatnonzero(buf == _DOT).astype(np.int64)
    row_of = np.searchsorted(t_start, dots, side="right") - 1
    if len(dots) and (np.any(dots >= t_end[row_of]) or np.any(np.diff(row_of) == 0)):
        return None  # a dot outside the time field, or two in one
    dot = t_end.copy()
    dot[row_of] = dots
    whole = _ints(win, buf, t_start, dot, signed=False)
    if whole is None:
        return None
    frac_width = np.maximum(t_end - dot - 1, 0)
    ns = whole * NS_PER_SECOND
    has_frac = frac_width > 0
    if has_frac.any():
        idx = np.flatnonzero(has_frac)
        width = np.minimum(frac_width[idx], 9)
        frac = _ints(win, buf, dot[idx] + 1, dot[idx] + 1 + width, signed=False)
        if frac is None:
            return None
        ns[idx] += frac * _POW10[9 - width]
        for i in np.flatnonzero(frac_width > 9).tolist():  # float noise (43002.632812672004): round half up
            rest = bytes(buf[dot[i] + 10 : t_end[i]])
            if not rest.isdigit():
                return None
            ns[i] += rest[0] >= 0x35
    ns += base
    kinds, ids, sizes, prices, dirs = (c.tolist() for c in cols)
    return ns.tolist(), kinds, ids, sizes, prices, dirs


class LineReader:
    """Whole lines from a zip member, read in blocks.

    Only an unfinished last line is carried from one read to the next, and it may not grow past ``max_line``
    bytes: a member without newlines fails after a bounded read instead of being gathered into memory whole.
    """

    def __init__(self, stream: IO[bytes], where: str, block: int, max_line: int = MAX_LINE) -> None:
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
        try:
            data = self._stream.read(self._block)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise DataError(f"truncated or corrupt near row {row}: {exc}", path=self._where, line=row) from exc
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
            try:
                data = self._stream.read(self._block)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise DataError(f"truncated or corrupt near row {row}: {exc}", path=self._where, line=row) from exc
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
