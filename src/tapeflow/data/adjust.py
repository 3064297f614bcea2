"""Split and dividend adjustment of daily bars from a factor table; off unless asked for.

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

from tapeflow.data.detect import iter_lines, open_binary
from tapeflow.data.nytime import NEW_YORK
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import Bar


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
        if not isinstance(ev, Bar):
            yield ev
            continue
        d = datetime.fromtimestamp(ev.ts_event // 1_000_000_000, NEW_YORK).date()
        pf, sf = table.factors(d)
        k = pf * sf
        if k == 1:
            yield ev
            continue
        yield msgspec.structs.replace(
            ev,
            open=_round(ev.open * k),
            high=_round(ev.high * k),
            low=_round(ev.low * k),
            close=_round(ev.close * k),
            volume=_round(ev.volume / sf),
        )
