"""Intraday walk-forward: windows in minutes inside a session, so one recorded day can be walk-forwarded.

``[sweep.walk_forward]`` with durations (``train = "60min"``, ``test = "30min"``, ``step = "30min"``) cuts each
symbol-day into blocks of the greatest common length (here 30 min, 09:30-16:00 by default: 13 blocks). A block is
a slice and a period (``AAPL/2012-06-21T10:00``), so everything else is the day-based walk-forward unchanged:
the grid runs on every block, fold ``i`` trains on blocks ``[i*step, i*step + train)`` and tests on the blocks
after, the same results give the same folds whatever the number of workers, and ``--resume`` skips finished
blocks. A window's metric adds its blocks up as a day-based one adds its days: each block is its own run
starting flat, so a 60-minute train window is two 30-minute runs, not one.

A block's task decodes only its slice: ``cut_lobster`` copies the message rows of the block and their
orderbook rows (the book after each message) into a small LOBSTER zip named for the block's window, and the
run reads that. The reader's book then starts exactly as it does at the start of a file: the orderbook row of
the block's first message with that message undone, the levels in view, and orders from before the block
discovered when a message first names them. Rows before the block are scanned for their time only, and the
scan stops at the block's end. Recorded data other than LOBSTER has no such per-message book: it is refused.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

from tapeflow.data.lobster_file import open_lobster
from tapeflow.model.errors import ConfigError, DataError

MS_PER_MINUTE = 60_000
_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hr)?\s*$")
_UNIT_MS = {"s": 1_000, "sec": 1_000, "m": MS_PER_MINUTE, "min": MS_PER_MINUTE, "h": 3_600_000, "hr": 3_600_000}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_NS_PER_MS = 1_000_000


def duration_ms(value: int | str, field: str) -> int:
    """``"60min"``, ``"1h"``, ``"90s"`` or a bare number of minutes (``"30"``), in ms; positive."""
    if isinstance(value, int):
        return value * MS_PER_MINUTE
    m = _DURATION.match(value)
    if m is None or int(m[1]) <= 0:
        raise ConfigError(f'{value!r} is not a duration; write e.g. "60min", "1h" or "90s"', field=field)
    return int(m[1]) * _UNIT_MS[m[2] or "min"]


def clock_ms(value: str, field: str) -> int:
    """``"09:30"`` as ms after midnight (New York time, LOBSTER's own clock)."""
    m = _CLOCK.match(value)
    if m is None or int(m[1]) > 24 or int(m[2]) > 59:
        raise ConfigError(f'{value!r} is not a time of day; write HH:MM, e.g. "09:30"', field=field)
    return (int(m[1]) * 60 + int(m[2])) * MS_PER_MINUTE


def is_intraday(train: int | str, test: int | str, step: int | str | None) -> bool:
    """Durations (text) mean intraday windows; plain integers count periods. Mixing both is refused."""
    kinds = {isinstance(v, str) for v in (train, test, step) if v is not None}
    if len(kinds) > 1:
        raise ConfigError(
            'give train, test and step all as durations ("60min") or all as period counts (2)',
            field="sweep.walk_forward",
        )
    return kinds == {True}


class Blocks:
    """The session cut into equal blocks, and the windows counted in blocks."""

    def __init__(self, train: str, test: str, step: str | None, session: tuple[str, str]) -> None:
        where = "sweep.walk_forward"
        train_ms = duration_ms(train, f"{where}.train")
        test_ms = duration_ms(test, f"{where}.test")
        step_ms = duration_ms(step, f"{where}.step") if step is not None else test_ms
        self.size_ms = math.gcd(train_ms, test_ms, step_ms)
        self.open_ms = clock_ms(session[0], f"{where}.session")
        self.close_ms = clock_ms(session[1], f"{where}.session")
        if self.close_ms <= self.open_ms:
            raise ConfigError(f"the session {session[0]}-{session[1]} ends before it starts", field=f"{where}.session")
        self.train = train_ms // self.size_ms
        self.test = test_ms // self.size_ms
        self.step = step_ms // self.size_ms
        self.starts = list(range(self.open_ms, self.close_ms - self.size_ms + 1, self.size_ms))
        if self.train + self.test > len(self.starts):
            raise ConfigError(
                f"train {train} + test {test} do not fit in the session {session[0]}-{session[1]}",
                field=where,
            )

    def windows(self) -> list[tuple[str, int, int]]:
        """(label ``HH:MM``, start ms, end ms after midnight) per block, in time order."""
        return [(_label(s), s, s + self.size_ms) for s in self.starts]


def _label(ms: int) -> str:
    minutes, seconds = divmod(ms // 1_000, 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return text if not seconds else f"{text}:{seconds:02d}"


def _time_ns(line: bytes) -> int:
    """A message row's time (seconds after midnight, up to 9 decimals) in ns, exactly (no float)."""
    field = line.split(b",", 1)[0]
    whole, _, frac = field.partition(b".")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, b"0")[:9] or b"0")


def cut_lobster(path: str | Path, start_ms: int, end_ms: int, folder: Path) -> Path:
    """A LOBSTER zip holding only the messages in ``[start_ms, end_ms)`` after midnight and their orderbook
    rows, named for that window (the reader checks every time lies in it); stored, not compressed (it is read
    once, at once)."""
    f = open_lobster(path)
    start, end = start_ms * _NS_PER_MS, end_ms * _NS_PER_MS
    messages: list[bytes] = []
    books: list[bytes] = []
    with zipfile.ZipFile(f.path) as zf, zf.open(f.message_member) as mf, zf.open(f.orderbook_member) as bf:
        for message, book in zip(mf, bf, strict=False):
            ts = _time_ns(message)
            if ts < start:
                continue
            if ts >= end:
                break
            messages.append(message)
            books.append(book)
    if not messages:
        raise DataError(f"no message between {_label(start_ms)} and {_label(end_ms)}", path=f.path)
    stem = f"{f.symbol}_{f.day.isoformat()}_{start_ms}_{end_ms}"
    out = folder / f"{stem}_{f.levels}.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zout:
        zout.writestr(f"{stem}_message_{f.levels}.csv", b"".join(messages))
        zout.writestr(f"{stem}_orderbook_{f.levels}.csv", b"".join(books))
    return out
