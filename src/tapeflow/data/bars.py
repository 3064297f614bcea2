"""Bar files as ``Bar`` events stamped at the bar's close: Yahoo/backtrader and zipline CSVs, LEAN zips.

A bar cannot be known before it ends, so ``ts_event`` is its close: 16:00 New York for a daily bar (converted
with the day's own UTC offset), start + 1 s / 1 min for LEAN's second and minute bars (LEAN stamps the start).
LEAN quote bars become ``Quote`` events (venue ``"NBBO"``: LEAN builds them from the consolidated best quote)
with the closing bid, offer and their sizes, at the close too.

Prices: LEAN's are integers in 1/10,000 dollar already. The other CSVs hold dollars as decimal text, read
without floats; Yahoo's split-adjusted prices are binary fractions (1.953125) and some zipline fixtures carry
float noise (523.4200440000001), which 1/10,000 dollar cannot hold, so such values are rounded half-to-even to
the unit and counted (``stats.rounded``), never silently.

Supported layouts, recognised by header or member name:

- ``Date,Open,High,Low,Close,Adj Close,Volume`` (Yahoo, backtrader's samples): Adj Close is not read;
- ``date,open,high,low,close,volume[,dividend,split]`` and ``day,open,...`` (zipline csvdir, pipeline inputs);
- ``ticker,date,open,high,low,close,volume,...`` (Quandl WIKI, several symbols per file, each in date order:
  read as one stream per symbol over the same file and merged by time, so memory stays bounded);
- LEAN ``daily/<sym>.zip`` (``YYYYMMDD 00:00,o,h,l,c,v``) and ``minute|second/<sym>/YYYYMMDD_trade|quote.zip``.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Final

import msgspec

from tapeflow.data.bars_parse import parse_daily_rows
from tapeflow.data.files import iter_line_blocks, iter_lines, open_binary, single_member, sniff
from tapeflow.data.nytime import NS_PER_SECOND, ny_to_utc_ns
from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError
from tapeflow.model.market import Bar, Quote

DAY_CLOSE_NS: Final = 16 * 3600 * NS_PER_SECOND
SESSION_NS: Final = 23_400 * NS_PER_SECOND
"""A daily bar's ``interval_ns``: the regular session, 09:30-16:00."""
_LEAN_INTRADAY: Final = re.compile(
    r"(?P<day>\d{8})_(?P<sym>[A-Za-z0-9.\-]+)_(?P<res>minute|second)_(?P<kind>trade|quote)\.csv$"
)
_LEAN_DAILY: Final = re.compile(r"^(?P<sym>[A-Za-z0-9.\-]+)\.csv$")
_RES: Final = {"minute": 60 * NS_PER_SECOND, "second": NS_PER_SECOND}
_DAY_MS: Final = 24 * 3600 * 1000
_INT64: Final = 1 << 63


class BarStats(msgspec.Struct, kw_only=True):
    """Counts of the latest pass. One object per reader, reset in place when a pass starts, so that whoever
    holds it (``data info``, a run summary) reads the pass that ran, not a stale copy."""

    rows: int = 0
    """Non-blank data rows (the header not included): each is a bar, a quote, malformed or out of order."""
    bars: int = 0
    quotes: int = 0
    malformed: int = 0
    out_of_order: int = 0
    """Rows at or before the previous row's time, or (LEAN intraday) outside the day; skipped."""
    rounded: int = 0
    """Prices with more than four decimals, rounded half-to-even to 1/10,000 dollar."""
    first_problem: str = ""

    def reset(self) -> None:
        fresh = BarStats()
        for name in self.__struct_fields__:
            setattr(self, name, getattr(fresh, name))


def parse_price(text: bytes) -> tuple[int, bool]:
    """Decimal dollars to price units, rounded half-to-even beyond four decimals; (units, was it rounded)."""
    whole, dot, frac = text.strip().partition(b".")
    if not whole.isdigit() or (dot and frac and not frac.isdigit()):
        raise ValueError(f"not a price: {text!r}")
    if len(frac) <= 4:
        return int(whole) * 10_000 + int(frac.ljust(4, b"0")), False
    units = int(whole) * 10_000 + int(frac[:4])
    rest = frac[4:].rstrip(b"0")
    if not rest:
        return units, False
    half = b"5"
    if rest > half or (rest == half and units % 2 == 1):
        units += 1
    return units, True


def parse_volume(text: bytes) -> int:
    """Shares: an integer, or a decimal with nothing after the point (Quandl writes ``12345.0``)."""
    whole, _, frac = text.strip().partition(b".")
    if not whole.isdigit() or frac.strip(b"0"):
        raise ValueError(f"not a whole number of shares: {text!r}")
    return int(whole)


def daily_close_ns(day: date) -> int:
    return ny_to_utc_ns(day, DAY_CLOSE_NS)


def _day(text: bytes) -> date:
    """``YYYY-MM-DD`` or ``YYYYMMDD``, nothing else: a stray byte in a date is a bad row, not another day."""
    t = text.strip()
    if len(t) == 10 and t[4:5] == t[7:8] == b"-" and (t[:4] + t[5:7] + t[8:]).isdigit():
        return date(int(t[:4]), int(t[5:7]), int(t[8:10]))
    if len(t) == 8 and t.isdigit():
        return date(int(t[:4]), int(t[4:6]), int(t[6:8]))
    raise ValueError(f"not a date (YYYY-MM-DD or YYYYMMDD): {text[:20]!r}")


def symbol_from_name(path: Path) -> str:
    """``nvda-1999-2014.txt.gz`` -> NVDA, ``csvdir_daily_AAPL.csv.gz`` -> AAPL, ``pipeline_inputs_BRK-A`` -> BRK-A."""
    name = path.name.split(".")[0]
    for prefix in ("csvdir_daily_", "pipeline_inputs_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = re.sub(r"(-\d{4})+$", "", name)
    return name.upper()


class BarReader:
    """Bars (and LEAN quote bars) of one file, in time order. ``events()`` may be called more than once."""

    def __init__(self, path: str | Path, *, symbol: str | None = None, strict: bool = False) -> None:
        self.path = Path(path)
        self.strict = strict
        self.stats = BarStats()
        self.member: str | None = None
        self.layout = ""
        self.interval_ns = SESSION_NS
        self.day: date | None = None
        self.width = 0
        """Fields per row of a CSV with a header: the header's; a row with another count is malformed."""
        self.symbol = symbol or symbol_from_name(self.path)
        if sniff(self.path, 4).startswith(b"PK\x03\x04"):
            self.member = single_member(self.path)
            m = _LEAN_INTRADAY.search(self.member)
            d = _LEAN_DAILY.search(self.member)
            if m is not None:
                self.layout = f"lean-{m['res']}-{m['kind']}"
                self.interval_ns = _RES[m["res"]]
                try:
                    self.day = _day(m["day"].encode())
                except ValueError:
                    raise DataError(
                        f"{self.member!r}: {m['day']!r} in the name is not a calendar date (YYYYMMDD); LEAN "
                        "intraday times are read relative to it",
                        path=self.path,
                    ) from None
                self.symbol = symbol or m["sym"].upper()
            elif d is not None and d["sym"].upper() != "QUANDL_SAMPLE_TABLE":
                self.layout = "lean-daily"
                self.symbol = symbol or d["sym"].upper()
        if not self.layout:
            self.layout = self._header_layout()

    def _header_layout(self) -> str:
        with open_binary(self.path, self.member) as fh:
            first = next(iter_lines(fh, self.where), b"").strip().lower()
        if not first:
            raise DataError("the file is empty (no header line); a bar file starts with its header", path=self.where)
        cols = first.split(b",")
        self.width = len(cols)
        if cols[:7] == [b"date", b"open", b"high", b"low", b"close", b"adj close", b"volume"]:
            return "yahoo"
        if cols[:6] in (
            [b"date", b"open", b"high", b"low", b"close", b"volume"],
            [b"day", b"open", b"high", b"low", b"close", b"volume"],
        ):
            return "zipline"
        if cols[:7] == [b"ticker", b"date", b"open", b"high", b"low", b"close", b"volume"]:
            return "quandl"
        raise DataError(f"not a bar file this reader knows (header {first[:80]!r})", path=self.path, line=1)

    @property
    def where(self) -> str:
        """The file, and the zip member when there is one, as errors and counts name it."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    def quality(self) -> SourceQuality:
        """The counts of the latest pass of ``events()`` (complete once it is exhausted), in the shared shape."""
        st = self.stats
        return SourceQuality(
            source=self.where,
            format="bars",
            rows=st.rows,
            events=st.bars + st.quotes,
            malformed=st.malformed,
            out_of_order=st.out_of_order,
            first_problem=st.first_problem,
        )

    def _bad(self, line: int, why: str, out_of_order: bool = False) -> None:
        """Count a skipped row (``strict``: raise instead): one bad day of thousands does not spoil the rest."""
        if self.strict:
            raise DataError(why, path=self.where, line=line)
        if out_of_order:
            self.stats.out_of_order += 1
        else:
            self.stats.malformed += 1
        if not self.stats.first_problem:
            self.stats.first_problem = f"{self.where}, line {line}: {why}"

    def _blocks(self) -> Iterator[tuple[int, list[bytes]]]:
        """(number of the first line, the lines) per block read."""
        with open_binary(self.path, self.member) as fh:
            n = 1
            for lines in iter_line_blocks(fh, self.where):
                yield n, lines
                n += len(lines)

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        for first, lines in self._blocks():
            for n, line in enumerate(lines, first):
                if line.strip():
                    yield n, line

    def symbols(self) -> list[str]:
        if self.layout != "quandl":
            return [self.symbol]
        seen: dict[str, None] = {}
        for n, line in self._lines():
            if n > 1:
                seen.setdefault(line.split(b",", 1)[0].decode("ascii", "replace").upper(), None)
        return list(seen)

    def __iter__(self) -> Iterator[Bar | Quote]:
        return self.events()

    def events(self) -> Iterator[Bar | Quote]:
        self.stats.reset()
        if self.layout == "quandl":
            streams = [self._text_bars(only=s) for s in self.symbols()]
            yield from heapq.merge(*streams, key=lambda b: b.ts_init)
        elif self.layout.startswith("lean"):
            yield from self._lean()
        else:
            yield from self._text_bars()
        if not self.stats.rows:
            raise DataError("the file has no data rows; a bar file holds at least one bar", path=self.where)

    def _prices(self, fields: list[bytes]) -> tuple[int, int, int, int]:
        o, r1 = parse_price(fields[0])
        h, r2 = parse_price(fields[1])
        lo, r3 = parse_price(fields[2])
        c, r4 = parse_price(fields[3])
        self.stats.rounded += r1 + r2 + r3 + r4
        return o, h, lo, c

    def _text_bars(self, only: str | None = None) -> Iterator[Bar]:
        """Bars of a text layout. Yahoo and zipline blocks whose rows are all good are converted by pyarrow
        (``bars_parse``); any other block, and Quandl's files (one pass per symbol), are read row by row."""
        last = -1
        if self.layout == "quandl":
            for n, line in self._lines():
                bar, last = self._text_row(n, line, only, last)
                if bar is not None:
                    yield bar
            return
        vol_col = 6 if self.layout == "yahoo" else 5
        st = self.stats
        for first, lines in self._blocks():
            data = lines[1:] if first == 1 else lines  # line 1 is the header
            typed = parse_daily_rows(data, self.width, vol_col, last, _day, daily_close_ns) if data else None
            if typed is not None:
                rows, rounded = typed
                st.rows += len(rows)
                st.bars += len(rows)
                st.rounded += rounded
                symbol = self.symbol
                for ts, o, h, lo, c, volume in rows:
                    yield Bar(
                        ts_event=ts, ts_init=ts, symbol=symbol, open=o, high=h, low=lo, close=c, volume=volume,
                        interval_ns=SESSION_NS,
                    )  # fmt: skip
                last = rows[-1][0]
                continue
            for n, line in enumerate(lines, first):
                if line.strip():
                    bar, last = self._text_row(n, line, only, last)
                    if bar is not None:
                        yield bar

    def _text_row(self, n: int, line: bytes, only: str | None, last: int) -> tuple[Bar | None, int]:
        """The bar of line ``n`` (None when it is the header, another Quandl symbol's or counted) and the time
        of the last bar kept."""
        if n == 1:
            return None, last
        quandl = self.layout == "quandl"
        first = 2 if quandl else 1
        vol_col = 6 if quandl else (6 if self.layout == "yahoo" else 5)
        f = line.split(b",")
        symbol = self.symbol
        if quandl:
            if len(f) != self.width and f[0].decode("ascii", "replace").upper() == only:
                self.stats.rows += 1
                self._bad(n, f"expected {self.width} fields as in the header, found {len(f)}: {line[:80]!r}")
                return None, last
            symbol = f[0].decode("ascii", "replace").upper()
            if symbol != only:
                return None, last
        self.stats.rows += 1
        if len(f) != self.width:
            self._bad(n, f"expected {self.width} fields as in the header, found {len(f)}: {line[:80]!r}")
            return None, last
        try:
            day = _day(f[first - 1])
            o, h, lo, c = self._prices(f[first : first + 4])
            volume = parse_volume(f[vol_col])
        except (ValueError, IndexError) as exc:
            self._bad(n, f"unreadable bar row ({exc}): {line[:80]!r}")
            return None, last
        ts = daily_close_ns(day)
        if max(o, h, lo, c, volume) >= _INT64:
            self._bad(n, f"a price or volume does not fit a 64-bit integer: {line[:80]!r}")
            return None, last
        if ts <= last:
            self._bad(n, f"bar at or before the previous bar's date: {line[:80]!r}", out_of_order=True)
            return None, last
        if not (lo <= min(o, c) and h >= max(o, c)):
            self._bad(n, f"high/low do not bracket open/close: {line[:80]!r}")
            return None, last
        self.stats.bars += 1
        bar = Bar(
            ts_event=ts, ts_init=ts, symbol=symbol, open=o, high=h, low=lo, close=c, volume=volume,
            interval_ns=SESSION_NS,
        )  # fmt: skip
        return bar, ts

    def _lean(self) -> Iterator[Bar | Quote]:
        quote = self.layout.endswith("quote")
        width = 11 if quote else 6
        last = -1
        for n, line in self._lines():
            f = line.split(b",")
            self.stats.rows += 1
            if len(f) != width:
                self._bad(n, f"expected {width} fields, found {len(f)}")
                continue
            try:
                if self.day is None:
                    if f[0][8:] != b" 00:00":
                        raise ValueError(f"not a LEAN daily time (YYYYMMDD 00:00): {f[0][:20]!r}")
                    close = daily_close_ns(_day(f[0][:8]))
                else:
                    ms = int(f[0])
                    if not 0 <= ms < _DAY_MS:
                        self._bad(n, f"time {ms} ms is outside the day: {line[:80]!r}", out_of_order=True)
                        continue
                    if ms % (self.interval_ns // 1_000_000):
                        raise ValueError(f"a bar starts on a whole {self.layout.split('-')[1]}, not at {ms} ms")
                    close = ny_to_utc_ns(self.day, ms * 1_000_000 + self.interval_ns)
                v = [int(x) if x.strip() or not quote else 0 for x in f[1:]]  # a quote bar's empty side: 0
            except ValueError as exc:
                self._bad(n, f"unreadable LEAN row ({exc}): {line[:80]!r}")
                continue
            if min(v) < 0 or max(v) >= _INT64:
                self._bad(n, f"a negative value or one that does not fit a 64-bit integer: {line[:80]!r}")
                continue
            if close <= last:  # LEAN writes one bar per period: a second one at the same time is a duplicate
                self._bad(n, f"row at or before the previous row's time: {line[:80]!r}", out_of_order=True)
                continue
            last = close
            if quote:
                self.stats.quotes += 1
                yield Quote(
                    ts_event=close, ts_init=close, symbol=self.symbol, bid_price=v[3], bid_size=v[4],
                    ask_price=v[8], ask_size=v[9], venue="NBBO",
                )  # fmt: skip
                continue
            o, h, lo, c, vol = v
            if not (lo <= min(o, c) and h >= max(o, c)):
                self._bad(n, f"high/low do not bracket open/close: {line[:80]!r}")
                continue
            self.stats.bars += 1
            yield Bar(
                ts_event=close, ts_init=close, symbol=self.symbol, open=o, high=h, low=lo, close=c, volume=vol,
                interval_ns=self.interval_ns if self.day is not None else SESSION_NS,
            )  # fmt: skip


def read_bars(path: str | Path, **kwargs: object) -> Iterator[Bar | Quote]:
    return BarReader(path, **kwargs).events()  # type: ignore[arg-type]
