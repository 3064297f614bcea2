"""Databento DBN files (zstd or plain) through the ``databento-dbn`` decoder, as tapeflow events.

The file is fed to ``DBNDecoder`` in blocks, so memory stays flat. DBN prices are int64 in 1e-9 dollar: they
become 1/10,000 dollar by an exact division when the price is on the 1/10,000 grid (every US equity price is)
and are rounded half-to-even and counted otherwise; ``INT64_MAX`` (undefined) becomes ``NO_PRICE``.

| schema | tapeflow event |
|---|---|
| mbo | A ``OrderAdded``, C ``OrderReduced`` (the cancelled size), M ``OrderReplaced`` (same id), |
|     | T ``Trade``, F ``OrderExecuted``; R (clear) counted |
| trades | ``Trade``, aggressor from DBN's side (B buyer, A seller initiated) |
| mbp-1, tbbo, bbo-* | ``Quote`` of the top level (tbbo: the quote before the trade, then the ``Trade``) |
| mbp-10 | ``BookSnapshot`` of the ten levels |
| ohlcv-* | ``Bar`` stamped at its close (DBN stamps the open) |
| definition, imbalance, status, ... | counted in ``stats.other`` |

``ts_init`` is DBN's ``ts_recv`` where the record has one (when Databento saw it), else ``ts_event``; a record
with an undefined ``ts_event`` (bbo-1s/1m) takes ``ts_recv`` for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from tapeflow.data.detect import ZSTD_MAGIC, sniff
from tapeflow.model.enums import Aggressor, Side
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import (
    Bar,
    BookLevel,
    BookSnapshot,
    OrderAdded,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)

UNDEF_PRICE: Final = 2**63 - 1
UNDEF_TS: Final = 2**64 - 1
_SCALE: Final = 100_000
_BLOCK: Final = 1 << 16
_OHLCV_NS: Final = {"OHLCV_1S": 10**9, "OHLCV_1M": 60 * 10**9, "OHLCV_1H": 3600 * 10**9, "OHLCV_1D": 86400 * 10**9}
_SIDE: Final = {"B": Side.BUY, "A": Side.SELL}
_AGGRESSOR: Final = {"B": Aggressor.BUY, "A": Aggressor.SELL}


class DbnStats(msgspec.Struct, kw_only=True):
    dataset: str = ""
    schema: str = ""
    records: int = 0
    events: int = 0
    other: int = 0
    rounded: int = 0
    by_record: dict[str, int] = {}


class DbnReader:
    """One DBN file; ``events()`` reads it again from the start each time."""

    def __init__(self, path: str | Path, *, venue: str | None = None) -> None:
        self.path = Path(path)
        self.venue = venue
        self.stats = DbnStats()
        self.symbols: dict[int, str] = {}

    def _price(self, raw: int) -> int:
        if raw == UNDEF_PRICE or raw <= 0:
            return 0
        q, r = divmod(raw, _SCALE)
        if r:
            self.stats.rounded += 1
            q = round(raw / _SCALE) if raw < 2**52 else q
        return q

    def _records(self) -> Iterator[Any]:
        import databento_dbn

        head = sniff(self.path, 4)
        try:
            with self.path.open("rb") as fh:
                if head.startswith(ZSTD_MAGIC):
                    import zstandard

                    stream: Any = zstandard.ZstdDecompressor().stream_reader(fh)
                else:
                    stream = fh
                decoder = databento_dbn.DBNDecoder()
                while True:
                    block = stream.read(_BLOCK)
                    if not block:
                        break
                    decoder.write(block)
                    yield from decoder.decode()
                yield from decoder.decode()
        except (ValueError, OSError, RuntimeError) as exc:
            raise DataError(f"not a readable DBN file: {exc}", path=self.path, offset=0) from exc

    def events(self) -> Iterator[Event]:
        self.stats = DbnStats()
        for rec in self._records():
            name = type(rec).__name__
            if name == "Metadata":
                self._metadata(rec)
                continue
            st = self.stats
            st.records += 1
            st.by_record[name] = st.by_record.get(name, 0) + 1
            out = self._convert(name, rec)
            if not out:
                st.other += 1
            st.events += len(out)
            yield from out

    def _metadata(self, meta: Any) -> None:
        self.stats.dataset = str(meta.dataset)
        self.stats.schema = str(meta.schema) if meta.schema is not None else ""
        self.venue = self.venue or str(meta.dataset)
        for raw_symbol, intervals in dict(meta.mappings).items():
            for interval in intervals:
                try:
                    self.symbols[int(interval["symbol"])] = str(raw_symbol)
                except (ValueError, KeyError, TypeError):
                    continue
        self._default_symbol = str(meta.symbols[0]) if meta.symbols else ""

    def _convert(self, name: str, r: Any) -> list[Event]:
        symbol = self.symbols.get(r.instrument_id) or getattr(self, "_default_symbol", "") or str(r.instrument_id)
        ts_event = r.ts_event
        ts_init = getattr(r, "ts_recv", ts_event)
        if ts_event == UNDEF_TS:
            ts_event = ts_init
        venue = self.venue or ""
        if name == "MBOMsg":
            return self._mbo(r, symbol, ts_event, ts_init, venue)
        if name == "TradeMsg":
            return [self._trade(r, symbol, ts_event, ts_init, venue)]
        if name in ("MBP1Msg", "BBOMsg", "CMBP1Msg", "CBBOMsg"):
            lv = r.levels[0]
            q = Quote(
                ts_event=ts_event, ts_init=ts_init, symbol=symbol, bid_price=self._price(lv.bid_px),
                bid_size=lv.bid_sz, ask_price=self._price(lv.ask_px), ask_size=lv.ask_sz, venue=venue,
            )  # fmt: skip
            if getattr(r, "action", "") == "T" and r.size > 0:
                return [q, self._trade(r, symbol, ts_event, ts_init, venue)]
            return [q]
        if name == "MBP10Msg":
            bids = tuple(BookLevel(self._price(v.bid_px), v.bid_sz, v.bid_ct) for v in r.levels if v.bid_sz > 0)
            asks = tuple(BookLevel(self._price(v.ask_px), v.ask_sz, v.ask_ct) for v in r.levels if v.ask_sz > 0)
            return [
                BookSnapshot(
                    ts_event=ts_event, ts_init=ts_init, symbol=symbol, bids=bids, asks=asks,
                    sequence=r.sequence, venue=venue,
                )
            ]  # fmt: skip
        if name == "OHLCVMsg":
            interval = _OHLCV_NS.get(str(getattr(r.rtype, "name", "")), 0)
            close = ts_event + interval
            return [
                Bar(
                    ts_event=close, ts_init=close, symbol=symbol, open=self._price(r.open),
                    high=self._price(r.high), low=self._price(r.low), close=self._price(r.close),
                    volume=r.volume, interval_ns=interval,
                )
            ]  # fmt: skip
        return []

    def _trade(self, r: Any, symbol: str, ts_event: int, ts_init: int, venue: str) -> Trade:
        return Trade(
            ts_event=ts_event, ts_init=ts_init, symbol=symbol, price=self._price(r.price), size=r.size,
            aggressor=_AGGRESSOR.get(str(r.side), Aggressor.UNKNOWN), venue=venue,
            trade_id=str(getattr(r, "sequence", "")),
        )  # fmt: skip

    def _mbo(self, r: Any, symbol: str, ts_event: int, ts_init: int, venue: str) -> list[Event]:
        action = str(r.action)
        seq = r.sequence
        if action == "A" and str(r.side) in _SIDE and r.size > 0:
            return [
                OrderAdded(
                    ts_event=ts_event, ts_init=ts_init, symbol=symbol, order_id=r.order_id, side=_SIDE[str(r.side)],
                    price=self._price(r.price), size=r.size, sequence=seq,
                )
            ]  # fmt: skip
        if action == "C" and r.size > 0:
            return [
                OrderReduced(
                    ts_event=ts_event, ts_init=ts_init, symbol=symbol, order_id=r.order_id, size=r.size, sequence=seq
                )
            ]
        if action == "M" and r.size > 0:
            return [
                OrderReplaced(
                    ts_event=ts_event, ts_init=ts_init, symbol=symbol, order_id=r.order_id, new_order_id=r.order_id,
                    price=self._price(r.price), size=r.size, sequence=seq,
                )
            ]  # fmt: skip
        if action == "F" and r.size > 0:
            return [
                OrderExecuted(
                    ts_event=ts_event, ts_init=ts_init, symbol=symbol, order_id=r.order_id, size=r.size,
                    price=self._price(r.price), sequence=seq,
                )
            ]  # fmt: skip
        if action == "T" and r.size > 0:
            return [self._trade(r, symbol, ts_event, ts_init, venue)]
        return []
