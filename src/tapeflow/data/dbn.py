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

Bad input is a ``DataError`` with the file and byte offset, or a count in ``stats`` (and ``quality()``) with
the first problem's place: the framing is ``dbn_stream``'s; here, values past int64 and negative prices,
time going back per instrument, and MBO adds of a live order id (ids an R clear made free again are not).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import databento_dbn
import msgspec

from tapeflow.data.dbn_stream import Framing, frame_records, inflate, open_dbn
from tapeflow.data.quality import SourceQuality
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
INT64_MAX: Final = 2**63 - 1
_SCALE: Final = 100_000
_OHLCV_NS: Final = {"OHLCV_1S": 10**9, "OHLCV_1M": 60 * 10**9, "OHLCV_1H": 3600 * 10**9, "OHLCV_1D": 86400 * 10**9}
_SIDE: Final = {"B": Side.BUY, "A": Side.SELL}
_AGGRESSOR: Final = {"B": Aggressor.BUY, "A": Aggressor.SELL}
_PRICED: Final = ("price", "open", "high", "low", "close")


class DbnStats(msgspec.Struct, kw_only=True):
    """What the reader saw; reset in place at each pass, so an object held before reading shows the pass."""

    dataset: str = ""
    schema: str = ""
    version: int = 0
    records: int = 0
    """Records the decoder returned (metadata not counted)."""
    events: int = 0
    other: int = 0
    """Records that make no event (definitions, imbalance, status, an MBO clear, a zero size)."""
    rounded: int = 0
    by_record: dict[str, int] = {}
    bytes: int = 0
    """Decompressed bytes consumed."""
    malformed: int = 0
    """Records skipped: unknown type or wrong length (by the framing), a timestamp or order id past int64,
    a negative price; plus 1 for a cut last record and 1 for a cut zstd stream."""
    out_of_order: int = 0
    """Records whose ts_recv (ts_event when it has none) is earlier than the last of the same instrument."""
    duplicates: int = 0
    """MBO adds of an order id that is live; skipped."""
    unknown_ids: int = 0
    """MBO cancels, modifies and fills of an order id that is not live; passed on."""
    first_problem: str = ""

    def reset(self) -> None:
        fresh = DbnStats()
        for field in self.__struct_fields__:
            setattr(self, field, getattr(fresh, field))

    def note(self, name: str, offset: int, what: str) -> None:
        if not self.first_problem:
            self.first_problem = f"{name}, byte offset {offset}: {what}"


class DbnReader:
    """One DBN file; ``events()`` reads it again from the start each time."""

    def __init__(self, path: str | Path, *, venue: str | None = None) -> None:
        self.path = Path(path)
        self.venue = venue
        self.stats = DbnStats()
        self.symbols: dict[int, str] = {}
        self._last: dict[int, int] = {}
        self._live: dict[int, dict[int, int]] = {}
        self._offset = 0

    def quality(self) -> SourceQuality:
        """The counts of the last pass in the shape every reader shares (see ``tapeflow.data.quality``)."""
        st = self.stats
        return SourceQuality(
            source=str(self.path), format="dbn", rows=st.records, events=st.events, malformed=st.malformed,
            out_of_order=st.out_of_order, duplicates=st.duplicates, unknown_ids=st.unknown_ids,
            first_problem=st.first_problem,
        )  # fmt: skip

    def _price(self, raw: int) -> int:
        if raw == UNDEF_PRICE or raw <= 0:
            return 0
        q, r = divmod(raw, _SCALE)
        if r:
            self.stats.rounded += 1
            if 2 * r > _SCALE or (2 * r == _SCALE and q % 2):  # half to even, in integers
                q += 1
        return q

    def _records(self) -> Iterator[tuple[Any, int]]:
        """(record, its byte offset in the decompressed stream); the metadata comes first with offset 0."""
        framing = Framing()
        name = str(self.path)
        if not self.path.is_file():
            raise DataError("no such file", path=self.path)
        decoder = databento_dbn.DBNDecoder()
        pending: deque[int] = deque()
        meta = b""
        try:
            with open_dbn(self.path) as fh:
                for block, offsets in frame_records(inflate(fh, name, framing), name, framing):
                    pending.extend(offsets)
                    if framing.first_problem and not self.stats.first_problem:
                        self.stats.first_problem = framing.first_problem
                    meta = meta or block  # the header and metadata come first, alone
                    for rec in _decode(decoder, block, name, offsets, meta):
                        yield rec, (pending.popleft() if pending and type(rec).__name__ != "Metadata" else 0)
        except OSError as exc:
            raise DataError(f"cannot read DBN file: {exc}", path=self.path, offset=framing.bytes) from exc
        st = self.stats
        st.version = framing.version
        st.bytes = framing.bytes
        st.malformed += framing.skipped + bool(framing.truncated_bytes) + framing.cut_compressed
        st.first_problem = st.first_problem or framing.first_problem

    def events(self) -> Iterator[Event]:
        self.stats.reset()
        self._last = {}
        self._live = {}
        for rec, offset in self._records():
            name = type(rec).__name__
            if name == "Metadata":
                self._metadata(rec)
                continue
            st = self.stats
            st.records += 1
            st.by_record[name] = st.by_record.get(name, 0) + 1
            self._offset = offset
            if not self._sane(rec):
                continue
            if name == "MBOMsg" and str(rec.action) == "R":  # the book is cleared: no order is live any more
                self._live.pop(rec.instrument_id, None)
            out = self._convert(name, rec)
            if not out:
                st.other += 1
                continue
            ts = out[0].ts_init
            if not self._in_order(rec.instrument_id, ts) or not self._track(name, rec):
                continue
            self._last[rec.instrument_id] = ts
            st.events += len(out)
            yield from out

    def _problem(self, what: str) -> bool:
        self.stats.note(str(self.path), self._offset, what)
        return False

    def _sane(self, r: Any) -> bool:
        """False (counted) for a record with a value tapeflow cannot hold exactly."""
        ts_event, ts_recv = r.ts_event, getattr(r, "ts_recv", 0)
        big = [v for v in (ts_recv, getattr(r, "order_id", 0)) if v > INT64_MAX]
        if ts_event != UNDEF_TS and ts_event > INT64_MAX:
            big.append(ts_event)
        neg = [getattr(r, f) for f in _PRICED if getattr(r, f, 0) < 0]
        neg += [px for lv in getattr(r, "levels", ()) for px in (lv.bid_px, lv.ask_px) if px < 0]
        if not big and not neg:
            return True
        self.stats.malformed += 1
        what = f"value {big[0]} does not fit int64" if big else f"negative price {neg[0]}"
        return self._problem(f"DBN {type(r).__name__}: {what}; the record is skipped")

    def _in_order(self, instrument: int, ts: int) -> bool:
        last = self._last.get(instrument, 0)
        if ts >= last:
            return True
        self.stats.out_of_order += 1
        return self._problem(
            f"time goes back for instrument {instrument}: ts {ts} after {last} (by {last - ts} ns); "
            "the record is skipped"
        )

    def _track(self, name: str, r: Any) -> bool:
        """Keep the live MBO orders; False (counted) for an add of a live id, unknown ids counted."""
        if name != "MBOMsg":
            return True
        action = str(r.action)
        live = self._live.setdefault(r.instrument_id, {})
        oid = r.order_id
        if action == "A":
            if oid in live:
                self.stats.duplicates += 1
                return self._problem(f"MBO add of order id {oid}, which is live; the record is skipped")
            live[oid] = r.size
        elif action in ("C", "M", "F"):
            if oid not in live:
                self.stats.unknown_ids += 1
                self._problem(f"MBO {action} of order id {oid}, which is not live (never added, or gone)")
            elif action == "M":
                live[oid] = r.size
            elif live[oid] <= r.size:
                del live[oid]
            else:
                live[oid] -= r.size
        return True

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


def _decode(decoder: Any, block: bytes, name: str, offsets: list[int], meta: bytes) -> list[Any]:
    """What ``decoder`` makes of ``block``; its errors, a Rust panic included, become a ``DataError`` at the
    offset of the record it refused (found again record by record: a block holds thousands of records, and an
    offset naming the block's first one sends whoever reads the error to the wrong place)."""
    try:
        decoder.write(block)
        return list(decoder.decode())
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        offset = _refused_at(block, offsets, meta) if offsets else 0
        raise DataError(f"the DBN decoder refused the data: {exc}", path=name, offset=offset) from exc


def _refused_at(block: bytes, offsets: list[int], meta: bytes) -> int:
    """The offset of the first record of ``block`` that a fresh decoder, given the same metadata, refuses
    (``block`` is whole records, framed and size-checked, one per offset); the block's first when none is."""
    pieces, pos = [meta], 0
    for _ in offsets:
        pieces.append(block[pos : pos + block[pos] * 4])
        pos += len(pieces[-1])
    decoder = databento_dbn.DBNDecoder()
    for offset, piece in zip([offsets[0], *offsets], pieces, strict=True):
        try:
            decoder.write(piece)
            list(decoder.decode())
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except BaseException:
            return offset
    return offsets[0]
