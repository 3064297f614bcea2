"""Daily bar rows (Yahoo, zipline) a block at a time through ``pyarrow.csv``, for blocks of good rows only.

pyarrow converts the price columns as ``decimal128`` with six decimals (no float) and the volume as int64;
numpy rounds the prices half-to-even to 1/10,000 dollar on the decimals' integer storage and counts the ones
it rounded, exactly as ``bars.parse_price`` does for up to six decimals. Dates go through the row reader's own
``_day``, so a date means the same on both paths.

A block is taken only when reading it row by row would keep every row with the same values: only digits,
dots, dashes (each date ``YYYY-MM-DD``, and no other dash), commas and newlines; no empty line, no price
starting with a dot; every row with the header's number of fields; at most six decimals; days strictly
increasing; high and low bracketing open and close. Anything else returns None and the block is read row by
row, which counts each bad row at its own line.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

_BYTES: Final = b"0123456789.-,\n"
_PRICE: Final = pa.decimal128(18, 6)
"""Six decimals (Yahoo writes 1.953125); 12 integer digits: 10**12 dollars is 10**16 units, within int64."""

BarRow = tuple[int, int, int, int, int, int]
"""ts (the day's close, ns UTC), open, high, low, close (1/10,000 dollar), volume."""


def _low_words(array: pa.Array) -> npt.NDArray[np.int64]:
    """The values x 10**6 of a decimal128 array below 10**18: the low int64 of each little-endian int128."""
    words: npt.NDArray[np.int64] = np.frombuffer(array.buffers()[1], dtype=np.int64)
    return words[2 * array.offset :: 2][: len(array)]


def parse_daily_rows(
    lines: list[bytes],
    width: int,
    volume_col: int,
    last_ts: int,
    day: Callable[[bytes], date],
    close_ns: Callable[[date], int],
) -> tuple[list[BarRow], int] | None:
    """Bars of a block of data lines (no header) with ``width`` fields (date, open, high, low, close first,
    volume at ``volume_col``) and how many prices were rounded; None unless every row is a good one."""
    block = b"\n".join(lines) + b"\n"
    if block.translate(None, _BYTES) or b"\n\n" in block or block.startswith(b"\n") or b",." in block:
        return None
    if block.count(b"-") != 2 * len(lines):
        return None  # a dash anywhere but in YYYY-MM-DD dates (checked below) would be a sign
    names = [f"c{i}" for i in range(width)]
    types = {name: pa.binary() for name in names}
    types.update({names[i]: _PRICE for i in range(1, 5)})
    types[names[volume_col]] = pa.int64()
    try:
        table = pcsv.read_csv(
            io.BytesIO(block),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=False, block_size=4 << 20),
            parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False),
        ).combine_chunks()
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(lines) or any(column.null_count for column in table.columns):
        return None
    dates = table.column(0).chunk(0).to_pylist()
    if any(len(d) != 10 for d in dates):
        return None
    try:
        ts = [close_ns(day(d)) for d in dates]
    except ValueError:
        return None
    if ts[0] <= last_ts or any(b <= a for a, b in pairwise(ts)):
        return None
    units: list[npt.NDArray[np.int64]] = []
    rounded = 0
    for col in range(1, 5):
        whole, rest = np.divmod(_low_words(table.column(col).chunk(0)), 100)
        up = (rest > 50) | ((rest == 50) & (whole % 2 == 1))
        units.append(whole + up)
        rounded += int(np.count_nonzero(rest))
    o, h, lo, c = units
    volume = table.column(volume_col).chunk(0)
    vol: npt.NDArray[np.int64] = np.frombuffer(volume.buffers()[1], dtype=np.int64)[
        volume.offset : volume.offset + len(volume)
    ]
    if vol.min() < 0 or lo.min() < 0 or np.any(lo > np.minimum(o, c)) or np.any(h < np.maximum(o, c)):
        return None
    rows = list(zip(ts, o.tolist(), h.tolist(), lo.tolist(), c.tolist(), vol.tolist(), strict=True))
    return rows, rounded
