"""AlgoSeek TAQ as LEAN ships it: a day's consolidated trades and per-exchange quotes, merged into one stream.

A LEAN tick day is two zips, ``YYYYMMDD_trade.zip`` and ``YYYYMMDD_quote.zip``, each holding one headerless CSV
(``YYYYMMDD_<sym>_Trade_Tick.csv`` / ``..._Quote_Tick.csv``), times in ms after midnight New York time, prices
in 1/10,000 dollar (tapeflow's unit: no conversion). Quote rows carry one exchange's bid *or* offer; the NBBO is
not in the data, so it is rebuilt (``nbbo.NbboBuilder``) and trades are signed against it (``lee_ready``).

Order: both files are read as streams and merged by time; within a millisecond the trades come before the
quotes, because a quote stamped in the trade's millisecond is usually its consequence, and the classifier must
see the NBBO that was in force before the trade (the same order a strategy then sees). Within a file, file
order is kept.

What the reader emits: every trade (``Trade``: venue = exchange letter, ``conditions`` = AlgoSeek's sale
condition bits by name, plus ``SUSPICIOUS`` for prints AlgoSeek flags), every applied exchange quote (``Quote``
with that exchange's letter and both its sides as they now stand) and every NBBO change (``Quote``, venue
``"NBBO"``, sizes summed over the exchanges at the best price). ``exclude=`` drops trades carrying any of the
given conditions from the output after they were signed (they still drive the tick test).

File names and AlgoSeek's condition codes are ``taq_format``; the block parser is ``taq_parse``.

Why this module is long: it is one reader. Reading rows (and counting each bad one), merging the two files,
pairing bid and ask rows, applying quotes to the NBBO and signing trades all update the same counts, books and
classifier of one pass; split apart, each part would reach into the others' state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final, cast

import msgspec

from tapeflow.data.files import iter_line_blocks, open_binary
from tapeflow.data.lee_ready import LeeReady, LeeReadyStats
from tapeflow.data.nbbo import NbboBuilder, NbboStats
from tapeflow.data.nytime import day_base_ns, ny_to_utc_ns
from tapeflow.data.quality import SourceQuality
from tapeflow.data.taq_format import (
    NOT_FIRM,
    SUSPICIOUS,
    TRADE_FLAGS,
    TaqFile,
    condition_names,
    open_taq,
    sibling,
)
from tapeflow.data.taq_parse import QuoteFields, TradeFields, parse_rows
from tapeflow.model.errors import DataError
from tapeflow.model.market import Quote, Trade

NS_PER_MS: Final = 1_000_000
_EARLY_MS: Final = 3 * 3600 * 1000
_DAY_MS: Final = 24 * 3600 * 1000


class TaqStats(msgspec.Struct, kw_only=True):
    rows: int = 0
    """Non-empty lines of both files: each is exactly one of a trade (kept or ``filtered``), an applied quote
    (``quotes_applied``), a suspicious or empty quote, ``malformed`` or ``out_of_order``."""
    trade_rows: int = 0
    quote_rows: int = 0
    trades: int = 0
    exchange_quotes: int = 0
    nbbo_quotes: int = 0
    filtered: int = 0
    suspicious_trades: int = 0
    suspicious_quotes: int = 0
    """Not applied to the books (AlgoSeek marks them likely erroneous)."""
    not_firm_quotes: int = 0
    quotes_applied: int = 0
    """Quote rows applied to an exchange's book (not-firm ones included, their sides emptied)."""
    empty_quotes: int = 0
    malformed: int = 0
    out_of_order: int = 0
    """Rows whose time went backwards or fell outside the day (0-24 h after midnight); skipped."""
    first_problem: str = ""
    nbbo: NbboStats = msgspec.field(default_factory=NbboStats)
    lee_ready: LeeReadyStats = msgspec.field(default_factory=LeeReadyStats)


_FLAG: Final = {b"0": False, b"1": True}
"""AlgoSeek's suspicious-record flag: anything else is a malformed row, not a silent "not suspicious"."""


_EXCHANGES: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
"""AlgoSeek's exchange codes: one capital letter."""


_Row = tuple[int, int, list[bytes] | TradeFields | QuoteFields]
"""(time in ms after midnight, line number, fields): the split bytes of a row read on its own, or the typed
values (same positions) of a row of a block ``taq_parse`` converted whole."""
_ZERO: Final = (b"0", 0)
"""A zero field, as text or as a typed value (``taq_parse`` takes no block that writes a zero otherwise)."""


class TaqReader:
    """One symbol-day of TAQ: trades, quotes or both, iterable (``events()``) as often as needed.

    Each pass starts from an empty NBBO and fresh counts (``stats`` is reset in place, so whoever holds it reads
    the latest pass), and ``quality()`` describes that pass.
    """

    def __init__(
        self,
        trades: str | Path | None = None,
        quotes: str | Path | None = None,
        *,
        exchange_quotes: bool = True,
        quotes_are: str = "top",
        exclude: Iterable[str] = (),
        strict: bool = False,
    ) -> None:
        if trades is None and quotes is None:
            raise ValueError("give a trade file, a quote file or both")
        self.trade_file = open_taq(trades) if trades is not None else None
        self.quote_file = open_taq(quotes) if quotes is not None else None
        files = [f for f in (self.trade_file, self.quote_file) if f is not None]
        if len({(f.symbol, f.day) for f in files}) != 1:
            raise DataError(f"trade and quote files are of different days or symbols: {[f.member for f in files]}")
        self.symbol = files[0].symbol
        self.day = files[0].day
        self.exchange_quotes = exchange_quotes
        if quotes_are not in ("top", "exchange"):
            raise ValueError(f"quotes_are must be 'top' or 'exchange', not {quotes_are!r}")
        self.quotes_are = quotes_are
        self.exclude = frozenset(exclude)
        self.strict = strict
        self.stats = TaqStats()
        self.nbbo = NbboBuilder()
        self.classifier = LeeReady()
        self.stats.nbbo = self.nbbo.stats
        self.stats.lee_ready = self.classifier.stats
        self._started = False
        self._base = day_base_ns(self.day)

    @classmethod
    def for_day(cls, path: str | Path, **kwargs: object) -> TaqReader:
        """The reader of the day ``path`` belongs to, with its sibling file when there is one."""
        f = open_taq(path)
        other = sibling(path)
        trades, quotes = (path, other) if f.kind == "trade" else (other, path)
        return cls(trades, quotes, **kwargs)  # type: ignore[arg-type]

    def ts(self, ms: int) -> int:
        if ms >= _EARLY_MS:
            return self._base + ms * NS_PER_MS
        return ny_to_utc_ns(self.day, ms * NS_PER_MS)

    def quality(self) -> SourceQuality:
        """The counts of both files so far (complete once ``events()`` is exhausted), in the shared shape."""
        st = self.stats
        files = [f"{f.path}!{f.member}" for f in (self.trade_file, self.quote_file) if f is not None]
        return SourceQuality(
            source=" + ".join(files),
            format="taq",
            rows=st.rows,
            events=st.trades + st.exchange_quotes + st.nbbo_quotes,
            malformed=st.malformed,
            out_of_order=st.out_of_order,
            first_problem=st.first_problem,
        )

    def _bad(self, f: TaqFile, line: int, why: str, out_of_order: bool = False) -> None:
        """Count a skipped row (``strict``: raise instead), remembering the first one's place."""
        if self.strict:
            raise DataError(why, path=f"{f.path}!{f.member}", line=line)
        if out_of_order:
            self.stats.out_of_order += 1
        else:
            self.stats.malformed += 1
        if not self.stats.first_problem:
            self.stats.first_problem = f"{f.path}!{f.member}, line {line}: {why}"

    def _rows(self, f: TaqFile | None, width: int) -> Iterator[_Row]:
        """Each well-formed row in file order; malformed and out-of-order rows are counted and skipped.

        A row is skipped rather than the day refused: one bad line of half a million says nothing about the
        others, and the count (with the first one's line) says it happened. A file with no row at all is not a
        day of TAQ and is refused.
        """
        if f is None:
            return
        last = 0
        st = self.stats
        before = st.rows
        day_ms = _DAY_MS
        n = 0
        with open_binary(Path(f.path), f.member) as fh:
            for lines in iter_line_blocks(fh, f"{f.path}!{f.member}"):
                typed = parse_rows(lines, width, last, n + 1) if lines else None
                if typed is not None:  # every row of the block is a good one, converted by pyarrow
                    rows, last = typed
                    st.rows += len(rows)
                    n += len(rows)
                    yield from rows
                    continue
                for line in lines:
                    n += 1
                    if not line:  # an empty line (the end of the file); one of spaces is a malformed row
                        continue
                    st.rows += 1
                    fields = line.split(b",")
                    if len(fields) != width:
                        self._bad(f, n, f"expected {width} fields, found {len(fields)}: {line[:80]!r}")
                        continue
                    try:
                        ms = int(fields[0])
                    except ValueError:
                        self._bad(f, n, f"time {fields[0][:20]!r} is not an integer of ms")
                        continue
                    if ms < last or ms >= day_ms:
                        if 0 <= ms < day_ms:
                            self._bad(f, n, f"time {ms} ms is before the previous row's {last} ms", True)
                        else:
                            why = f"time {ms} ms is outside the day (0-{_DAY_MS} ms after midnight)"
                            self._bad(f, n, why, True)
                        continue
                    last = ms
                    yield ms, n, fields
        if st.rows == before:
            raise DataError("the file has no rows; a LEAN tick file holds at least one", path=f"{f.path}!{f.member}")

    def __iter__(self) -> Iterator[Trade | Quote]:
        return self.events()

    def _new_pass(self) -> None:
        """Fresh NBBO, classifier and counts for a second pass; the stats object itself stays the same."""
        self.nbbo = NbboBuilder()
        self.classifier = LeeReady()
        fresh = TaqStats(nbbo=self.nbbo.stats, lee_ready=self.classifier.stats)
        for name in self.stats.__struct_fields__:
            setattr(self.stats, name, getattr(fresh, name))

    def events(self) -> Iterator[Trade | Quote]:
        if self._started:
            self._new_pass()
        self._started = True
        trades = self._rows(self.trade_file, 6)
        quotes = _paired(self._rows(self.quote_file, 8))
        t = next(trades, None)
        q = next(quotes, None)
        last_ms = 0
        while t is not None or q is not None:
            if q is None or (t is not None and t[0] <= q[0]):
                assert t is not None
                last_ms = t[0]
                trade = self._trade(t)
                if trade is not None:
                    yield trade
                t = next(trades, None)
            else:
                last_ms = q[0]
                yield from self._quote(q)
                q = next(quotes, None)
        self.nbbo.finish(self.ts(last_ms))

    def _trade(self, row: _Row) -> Trade | None:
        ms, n, fields = row
        st = self.stats
        st.trade_rows += 1
        f = self.trade_file
        assert f is not None
        if isinstance(fields, tuple):  # checked by taq_parse
            _, price, size, venue, flags, suspicious = cast(TradeFields, fields)
        else:
            try:
                price = int(fields[1])
                size = int(fields[2])
                flags = int(fields[4], 16)
                suspicious = _FLAG[fields[5].strip()]
                venue = fields[3].decode("ascii").strip()
            except (ValueError, UnicodeDecodeError, KeyError):
                self._bad(f, n, f"unreadable trade row {b','.join(fields)[:80]!r}")
                return None
            if price <= 0 or size <= 0 or flags < 0 or (price | size | flags) >> 63 or venue not in _EXCHANGES:
                self._bad(f, n, f"price, size, conditions or exchange out of range: {b','.join(fields)[:80]!r}")
                return None
        nb = self.nbbo
        aggressor = self.classifier.classify(price, nb.bid_price, nb.ask_price, update_tick=not suspicious)
        conditions = condition_names(flags, suspicious)
        if suspicious:
            st.suspicious_trades += 1
        if self.exclude and not self.exclude.isdisjoint(conditions):
            st.filtered += 1
            return None
        st.trades += 1
        ts = self.ts(ms)
        return Trade(
            ts_event=ts,
            ts_init=ts,
            symbol=self.symbol,
            price=price,
            size=size,
            aggressor=aggressor,
            venue=venue,
            conditions=conditions,
        )

    def _side(self, row: _Row) -> tuple[str, int, int, int, int] | None:
        """(exchange, bid, bid size, ask, ask size) of a usable quote row, after counting what is not."""
        _, n, fields = row
        st = self.stats
        f = self.quote_file
        assert f is not None
        if isinstance(fields, tuple):  # checked by taq_parse
            _, bp, bs, ap, az, venue, cond, suspicious = cast(QuoteFields, fields)
        else:
            try:
                bp, bs, ap, az = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])
                venue = fields[5].decode("ascii").strip()
                cond = int(fields[6], 16)
                suspicious = _FLAG[fields[7].strip()]
            except (ValueError, UnicodeDecodeError, KeyError):
                self._bad(f, n, f"unreadable quote row {b','.join(fields)[:80]!r}")
                return None
            if min(bp, bs, ap, az, cond) < 0 or (bp | bs | ap | az | cond) >> 63 or venue not in _EXCHANGES:
                self._bad(f, n, f"price, size or exchange out of range: {b','.join(fields)[:80]!r}")
                return None
        if suspicious:
            st.suspicious_quotes += 1
            return None
        if not (bp or bs or ap or az):
            st.empty_quotes += 1
            return None
        st.quotes_applied += 1
        if cond & NOT_FIRM:
            st.not_firm_quotes += 1
            bp = bs = 0 if bp or bs else -1
            ap = az = 0 if ap or az else -1
        else:
            bp = bp if bp or bs else -1
            ap = ap if ap or az else -1
        return venue, bp, bs, ap, az

    def _quote(self, row: _Pair) -> Iterator[Quote]:
        """Apply a quote row, or a bid row and the ask row of the same millisecond together."""
        ms, first, second = row
        st = self.stats
        nb = self.nbbo
        top = self.quotes_are == "top"
        changed = False
        venues: list[str] = []
        for quote_row in (first, second):
            if quote_row is None:
                continue
            st.quote_rows += 1
            side = self._side(quote_row)
            if side is None:
                continue
            venue, bp, bs, ap, az = side
            if bp >= 0:
                changed = (nb.set_top_bid(venue, bp, bs) if top else nb.set_bid(venue, bp, bs)) or changed
            if ap >= 0:
                changed = (nb.set_top_ask(venue, ap, az) if top else nb.set_ask(venue, ap, az)) or changed
            if venue not in venues:
                venues.append(venue)
        ts = self.ts(ms)
        if self.exchange_quotes:
            for venue in venues:
                xb, xbs, xa, xas = nb.exchange_quote(venue)
                st.exchange_quotes += 1
                yield Quote(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=self.symbol,
                    bid_price=xb,
                    bid_size=xbs,
                    ask_price=xa,
                    ask_size=xas,
                    venue=venue,
                )
        if changed:
            nb.record(ts)
            st.nbbo_quotes += 1
            yield Quote(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                bid_price=nb.bid_price,
                bid_size=nb.bid_size,
                ask_price=nb.ask_price,
                ask_size=nb.ask_size,
                venue="NBBO",
            )


_Pair = tuple[int, _Row, _Row | None]


def _paired(rows: Iterator[_Row]) -> Iterator[_Pair]:
    """Join a bid-only row and the ask-only row that follows it in the same millisecond into one update.

    AlgoSeek writes a best bid and offer as two rows (one side each, same time); applying them as one update
    gives one NBBO change instead of a half-updated, often crossed, intermediate state.
    """
    pending: _Row | None = None
    for row in rows:
        if pending is not None:
            f = row[2]
            if row[0] == pending[0] and f[1] in _ZERO and f[2] in _ZERO:
                yield pending[0], pending, row
                pending = None
                continue
            yield pending[0], pending, None
            pending = None
        f = row[2]
        if f[3] in _ZERO and f[4] in _ZERO and f[1] not in _ZERO:
            pending = row
        else:
            yield row[0], row, None
    if pending is not None:
        yield pending[0], pending, None


def read_taq(path: str | Path, **kwargs: object) -> Iterator[Trade | Quote]:
    """Events of the TAQ day ``path`` belongs to (trades and quotes when both files are there)."""
    return TaqReader.for_day(path, **kwargs).events()


def keep_trade(event: object, exclude: frozenset[str]) -> bool:
    """False for a ``Trade`` with any condition in ``exclude`` (e.g. ``{"SUSPICIOUS", "ODD_LOT"}``)."""
    return not (isinstance(event, Trade) and not exclude.isdisjoint(event.conditions))


__all__ = ["SUSPICIOUS", "TRADE_FLAGS", "TaqFile", "TaqReader", "TaqStats", "keep_trade", "open_taq"]
