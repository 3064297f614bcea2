"""TAQ rows a block at a time through ``pyarrow.csv``, for blocks in which every row is a good one.

A LEAN tick day is 100k-1.5M rows, and splitting each line and calling ``int`` on each field was a quarter of
the reader's time. pyarrow converts a block's integer columns in C++; the few distinct exchange letters,
condition hex strings and suspicious flags are converted once per block, each distinct value by the same
Python expression the row-by-row reader uses. The result is typed rows with the fields at the positions the
split bytes had, so the merge, the pairing and the classification downstream see no difference.

The block path takes a block only when it can prove that reading it row by row would have kept every row and
read every value the same: only the bytes the format uses (no sign, space, quote or stray carriage return,
which pyarrow and ``int`` would read differently or pyarrow would take for a line end), no empty line, no
zero written as ``00`` (the pairing of bid and ask rows compares the text with ``0``), every value in range,
every time in the day and in order. Anything else returns None and the block is read row by row, which counts
each bad row at its own line as before; the framing (bounded lines, carriage returns, the last line) is
``files.iter_line_blocks``, shared with the row-by-row reader.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

_DAY_MS: Final = 24 * 3600 * 1000
_BYTES: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef,\n"
"""Every byte a clean row of either file has: digits, exchange letters, hex digits, commas."""
_EXCHANGES: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_FLAG: Final = {b"0": False, b"1": True}

TradeFields = tuple[int, int, int, str, int, bool]
"""ms, price, size, exchange, condition bits, suspicious: the positions of the split trade line."""
QuoteFields = tuple[int, int, int, int, int, str, int, bool]
"""ms, bid, bid size, ask, ask size, exchange, condition bits, suspicious."""
TypedRow = tuple[int, int, TradeFields | QuoteFields]
"""(time in ms after midnight, line number, typed fields)."""

_TEXT: Final = {"trade": (3, 4, 5), "quote": (5, 6, 7)}
"""Columns read as bytes (exchange, condition hex, suspicious flag); the others are int64."""


def _options(width: int, text: Sequence[int]) -> tuple[object, object, object]:
    names = [f"c{i}" for i in range(width)]
    types = {name: (pa.binary() if i in text else pa.int64()) for i, name in enumerate(names)}
    return (
        pcsv.ReadOptions(column_names=names, use_threads=False, block_size=4 << 20),
        pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
        pcsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False),
    )


_OPTIONS: Final = {6: _options(6, _TEXT["trade"]), 8: _options(8, _TEXT["quote"])}


def _int64s(array: pa.Array) -> npt.NDArray[np.int64]:
    """An int64 column without nulls as a numpy view of its buffer (``to_numpy`` imports pandas: 150 ms)."""
    values: npt.NDArray[np.int64] = np.frombuffer(array.buffers()[1], dtype=np.int64)
    return values[array.offset : array.offset + len(array)]


def _mapped(values: list[bytes], convert: Callable[[bytes], object]) -> list[object] | None:
    """``convert`` of each value, computed once per distinct value; None when one does not convert."""
    table: dict[bytes, object] = {}
    for value in set(values):
        try:
            table[value] = convert(value)
        except (ValueError, KeyError, UnicodeDecodeError):
            return None
    return list(map(table.__getitem__, values))


def _exchange(text: bytes) -> str:
    venue = text.decode("ascii").strip()
    if venue not in _EXCHANGES:
        raise ValueError(venue)
    return venue


def _hex(text: bytes) -> int:
    value = int(text, 16)
    if value < 0 or value >> 63:
        raise ValueError(text)
    return value


def parse_rows(lines: list[bytes], width: int, last_ms: int, first_line: int) -> tuple[list[TypedRow], int] | None:
    """Typed rows of a block of lines of a trade (``width`` 6) or quote (8) file and the last row's time; None
    unless every row is one the row-by-row reader would keep with the same values (see the module doc)."""
    block = b"\n".join(lines) + b"\n"
    if block.translate(None, _BYTES) or b"\n\n" in block or block.startswith(b"\n") or b",00" in block:
        return None
    read, parse, convert = _OPTIONS[width]
    try:
        table = pcsv.read_csv(io.BytesIO(block), read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(lines) or any(column.null_count for column in table.columns):
        return None
    batch = table.combine_chunks()
    text = _TEXT["trade" if width == 6 else "quote"]
    ints = {i: _int64s(batch.column(i).chunk(0)) for i in range(width) if i not in text}
    ms = ints[0]
    if ms[0] < last_ms or ms[-1] >= _DAY_MS or (len(ms) > 1 and np.diff(ms).min() < 0):
        return None
    amounts = [ints[i] for i in range(1, width) if i not in text]
    if width == 6 and min(int(amounts[0].min()), int(amounts[1].min())) <= 0:
        return None  # a trade's price and size are positive
    if min(int(a.min()) for a in amounts) < 0:
        return None
    venue = _mapped(batch.column(text[0]).chunk(0).to_pylist(), _exchange)
    flags = _mapped(batch.column(text[1]).chunk(0).to_pylist(), _hex)
    suspicious = _mapped(batch.column(text[2]).chunk(0).to_pylist(), _FLAG.__getitem__)
    if venue is None or flags is None or suspicious is None:
        return None
    times = ms.tolist()
    columns = [times, *(a.tolist() for a in amounts), venue, flags, suspicious]
    fields = cast("list[TradeFields | QuoteFields]", list(zip(*columns, strict=True)))
    rows = list(zip(times, range(first_line, first_line + len(lines)), fields, strict=True))
    return rows, times[-1]
