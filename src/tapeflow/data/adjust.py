"""Split and dividend adjustment of daily bars: from a factor table, or from the actions a bar file carries.

LEAN's daily prices are as traded (AAPL's 7:1 split shows as a drop from 645.57 to 93.70 on 2014-06-09): right
for simulating fills, wrong for a return series that spans the split. A factor table in LEAN's layout
(``YYYYMMDD,price_factor,split_factor`` rows in date order, the last one usually ``20501231,1,1``) says, for
each bar, by how much to scale: the factors of the first row dated on or after the bar's date apply. Prices are
multiplied by ``price_factor * split_factor`` and volume divided by ``split_factor``, with exact fractions and
one half-to-even rounding to the integer unit at the end.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import msgspec

from tapeflow.data.files import iter_lines, open_binary
from tapeflow.data.nytime import NEW_YORK
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Dividend


class FactorRow(msgspec.Struct, frozen=True):
    day: date
    price_factor: Fraction
    split_factor: Fraction


class FactorTable:
    """Factors by date; ``factors(day)`` is what applies to a bar of that day."""

    def __init__(self, rows: Iterable[FactorRow]) -> None:
        self.rows = sorted(rows, key=lambda r: r.day)
        self._days = [r.day for r in self.rows]

    @classmethod
    def read(cls, path: str | Path) -> FactorTable:
        p = Path(path)
        rows = []
        with open_binary(p) as fh:
            for n, line in enumerate(iter_lines(fh, p), 1):
                if not line.strip():
                    continue
                f = line.decode("ascii", "replace").split(",")
                try:
                    d = f[0].strip()
                    rows.append(
                        FactorRow(
                            date(int(d[:4]), int(d[4:6]), int(d[6:8])), Fraction(f[1].strip()), Fraction(f[2].strip())
                        )
                    )
                except (ValueError, IndexError, ZeroDivisionError) as exc:
                    raise DataError(f"not a factor row (YYYYMMDD,price,split): {line[:60]!r}", path=p, line=n) from exc
        return cls(rows)

    def factors(self, day: date) -> tuple[Fraction, Fraction]:
        i = bisect.bisect_left(self._days, day)
        if i == len(self.rows):
            return Fraction(1), Fraction(1)
        r = self.rows[i]
        return r.price_factor, r.split_factor


def _round(x: Fraction) -> int:
    return round(x)  # Fraction rounds half to even


def adjust_bars(events: Iterable[Event], table: FactorTable | None) -> Iterator[Event]:
    """Bars scaled by the table (other events untouched); ``table=None`` passes everything through as is."""
    if table is None:
        yield from events
        return
    for ev in events:
        yield _scaled(ev, table) if isinstance(ev, Bar) else ev


def adjust_by_symbol(events: Iterable[Event], tables: dict[str, FactorTable]) -> Iterator[Event]:
    """Bars of each symbol scaled by its own table (a Quandl file holds several); other symbols pass as they are."""
    for ev in events:
        if isinstance(ev, Bar) and (table := tables.get(ev.symbol)) is not None:
            yield _scaled(ev, table)
        else:
            yield ev


def _scaled(ev: Bar, table: FactorTable) -> Bar:
    d = datetime.fromtimestamp(ev.ts_event // 1_000_000_000, NEW_YORK).date()
    pf, sf = table.factors(d)
    k = pf * sf
    if k == 1:
        return ev
    return msgspec.structs.replace(
        ev,
        open=_round(ev.open * k),
        high=_round(ev.high * k),
        low=_round(ev.low * k),
        close=_round(ev.close * k),
        volume=_round(ev.volume / sf),
    )


class Action(msgspec.Struct, frozen=True):
    """A corporate action on its ex-date, as a bar file states it."""

    day: date
    split: Fraction
    """New shares per old (7 for AAPL's 7:1 of 2014-06-09); 1 when none."""
    dividend: Fraction
    """Dollars per share, in the file's prices of that day; 0 when none."""
    gap: Fraction | None = None
    """The ex-date's open over the previous row's close, as the file has them (None: no previous row): tells
    whether the file's prices still hold the split (about ``1 / split``) or are adjusted already (about 1)."""


ACTION_COLUMNS: dict[str, tuple[str, str]] = {
    "quandl": ("ex-dividend", "split_ratio"),
    "zipline": ("dividend", "split"),
}
"""Layouts (``BarReader.layout``) whose files may carry corporate actions, and the header names of the columns."""


def read_actions(path: str | Path, member: str | None, layout: str, symbol: str) -> dict[str, list[Action]] | None:
    """Splits and dividends by symbol from a bar file's own columns; None when the file has no such columns.

    ``symbol`` names the actions of a one-symbol file (Quandl's rows name their own). One pass over the file
    (the bars are read again by the reader): the adjustment of a bar depends on splits that come after it. A
    row whose action fields cannot be read is a ``DataError``: a split silently missed would change every price
    before it.
    """
    names = ACTION_COLUMNS.get(layout)
    if names is None:
        return None
    p = Path(path)
    where = f"{p}!{member}" if member else str(p)
    found: dict[str, list[Action]] = {}
    with open_binary(p, member) as fh:
        lines = iter_lines(fh, where)
        header = [c.strip().lower() for c in next(lines, b"").decode("ascii", "replace").split(",")]
        if names[0] not in header or names[1] not in header:
            return None
        di, si, ti = header.index(names[0]), header.index(names[1]), header.index("date")
        oi, ci = header.index("open"), header.index("close")
        closes: dict[str, Fraction] = {}
        for n, line in enumerate(lines, 2):
            f = line.decode("ascii", "replace").split(",")
            if len(f) != len(header):
                continue  # the bar reader counts a row of the wrong width as malformed and skips its bar too
            owner = f[0].strip().upper() if layout == "quandl" else symbol
            try:
                dividend, split = Fraction(f[di].strip() or "0"), Fraction(f[si].strip() or "1")
                if dividend < 0 or split <= 0:
                    raise ValueError("negative dividend or split ratio not above 0")
                previous = closes.get(owner)
                try:
                    closes[owner] = Fraction(f[ci].strip())
                except (ValueError, ZeroDivisionError):
                    closes.pop(owner, None)  # a bad price: the bar reader counts the row; no gap across it
                if dividend == 0 and split == 1:
                    continue
                day = date.fromisoformat(f[ti].strip())
                gap = Fraction(f[oi].strip()) / previous if previous else None
            except (ValueError, ZeroDivisionError) as exc:
                raise DataError(f"unreadable dividend or split ({exc}): {line[:80]!r}", path=where, line=n) from exc
            found.setdefault(owner, []).append(Action(day, split, dividend, gap))
    return found


def splits_in_prices(actions: Iterable[Action]) -> bool | None:
    """Whether a file's prices still hold its splits (True), are adjusted for them already (False), or cannot
    tell (None: no split, or the gaps at the ex-dates agree with neither, or with both, or disagree).

    zipline's csvdir samples list AAPL's 7:1 split in their ``split`` column on prices that are adjusted
    already, while Quandl's WIKI rows are as traded: applying a listed split blindly would divide the earlier
    prices by 49. The file's own prices decide, and where they do not, the run is refused.
    """
    verdicts = set()
    for a in actions:
        if a.split == 1 or a.gap is None:
            continue
        as_traded = abs(a.gap * a.split - 1) <= Fraction(1, 4)
        adjusted = abs(a.gap - 1) <= Fraction(1, 4)
        verdicts.add(as_traded if as_traded != adjusted else None)
    return verdicts.pop() if len(verdicts) == 1 else None


def split_table(actions: Iterable[Action]) -> FactorTable:
    """The factor table of a file's splits: a bar before an ex-date is divided by that split and every later one.

    Rows are dated the day before each ex-date (LEAN's convention: a row covers bars up to its date).
    """
    splits = sorted((a for a in actions if a.split != 1), key=lambda a: a.day)
    rows = []
    factor = Fraction(1)
    for a in reversed(splits):
        factor /= a.split
        rows.append(FactorRow(date.fromordinal(a.day.toordinal() - 1), Fraction(1), factor))
    return FactorTable(rows)


def with_dividends(
    events: Iterable[Event], dividends: dict[str, list[Action]], tables: dict[str, FactorTable]
) -> Iterator[Event]:
    """Bars with a ``Dividend`` before the first bar of each symbol on or after its ex-date.

    The amount is in the run's split-adjusted prices (the file's amount times the splits after the ex-date),
    rounded half-to-even to 1/10,000 dollar. A dividend going ex after the last bar is not paid.
    """
    pending = {s: sorted((a for a in acts if a.dividend), key=lambda a: a.day) for s, acts in dividends.items()}
    nxt = dict.fromkeys(pending, 0)
    for ev in events:
        if isinstance(ev, Bar) and (queue := pending.get(ev.symbol)):
            key = ev.symbol
            d = datetime.fromtimestamp(ev.ts_event // 1_000_000_000, NEW_YORK).date()
            i = nxt[key]
            while i < len(queue) and queue[i].day <= d:
                table = tables.get(key)
                sf = table.factors(queue[i].day)[1] if table is not None else Fraction(1)
                amount = _round(queue[i].dividend * 10_000 * sf)
                if amount > 0:
                    yield Dividend(ts_event=ev.ts_event, ts_init=ev.ts_init, symbol=ev.symbol, amount=amount)
                i += 1
            nxt[key] = i
        yield ev
