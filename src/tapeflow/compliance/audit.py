"""The audit trail component: every order's life with its cause, handed to the writer thread.

It subscribes to the event types a regulator asks about (order commands and reports, risk decisions and kill-switch
changes, signals, model updates and predictions, self-trade decisions, large pulled orders, venue connection
changes) and to nothing else, so that a run without it pays nothing and a run with it pays a list append per record
(the event itself: its time, kind, order, strategy and symbol are read back from it, so nothing is built per record;
the frequent handlers are written out rather than sharing a helper, a Python call being a measurable part of that
cost), plus one msgspec encode per batch in ``AuditWriter.submit`` (about 0.3 us a record); hashing and storage run
in the writer process. For every order command it also records the cause, as the loop saw it when the command was
dispatched:

- the last ``Signal`` the strategy emitted for that symbol (reason text and feature values),
- the version and content hash of every model announced by ``ModelUpdated`` so far,
- the book: best bid and ask with sizes, and whether the book was stale (a feed gap not yet repaired).

Record timestamps are event times (``ts_init``, the dispatch time), never the wall clock: two runs of the same tape
write the same records and the same chain. Records are handed to the writer in batches, when a batch is full or
when event time has moved ``flush_interval_ns`` past the last hand-over, and always on stop and on a kill switch;
in a real-time live run also at every ``Kernel.upkeep`` (every 0.2 s of the wall clock), so that a lone record
reaches the writer then rather than whenever the next record comes.

At stop, a trail that owns its writer ends the run: the writer appends the run's head to the head file beside the
database, and the trail prints it (``announce``, stderr by default) for the user to keep somewhere else: ``tapeflow
audit verify --expect-head SEQ:HEX`` then detects a trail cut short or rewritten together with its head file.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.compliance.audit_writer import AuditWriter
from tapeflow.compliance.thread_writer import ThreadAuditWriter
from tapeflow.model.book_events import LargeOrderPulled
from tapeflow.model.codec import event_types, from_msgpack
from tapeflow.model.compliance_events import CloseWindowVolume, SelfTradePrevented
from tapeflow.model.events import Event, ModelTrainingFailed, ModelUpdated, Prediction, Signal
from tapeflow.model.market import Trade
from tapeflow.model.orders import OrderCommand, OrderReport, RiskRejected
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.sessions import ExchangeCalendar, SessionCalendar
from tapeflow.model.venue_events import VenueStatus

if TYPE_CHECKING:
    from pathlib import Path

    from tapeflow.compliance.chain import Row
    from tapeflow.compliance.head import Head
    from tapeflow.engine.kernel import Kernel

NEW_YORK = ZoneInfo("America/New_York")
NS = 1_000_000_000
COMMANDS: tuple[type[Event], ...] = (OrderCommand,)
ORDER_REPORTS: tuple[type[Event], ...] = (OrderReport, RiskRejected, SelfTradePrevented)
"""Every venue report (through their base), and the decisions that stopped an order before any venue."""
KILL_SWITCH = "KillSwitchChanged"


class OrderCause(msgspec.Struct, frozen=True, kw_only=True):
    """Why an order command was sent, and what the market looked like when it was."""

    strategy_id: str
    signal: Signal | None = None
    models: dict[str, int] = {}
    book: bool = False
    """Whether a book existed for the symbol; the fields below are meaningful only when it did."""
    bid_price: int = NO_PRICE
    bid_size: int = 0
    ask_price: int = NO_PRICE
    ask_size: int = 0
    book_stale: bool = False
    model_hashes: dict[str, str] = {}
    """The content hash of each model in ``models`` (``ModelUpdated.model_hash``): the exact bytes that decided."""


_cause_decoder = msgspec.msgpack.Decoder(OrderCause)


def decode_row(row: Row) -> tuple[Event, OrderCause | None]:
    """The event and (for order commands) the cause a stored record holds."""
    return from_msgpack(row.body), (_cause_decoder.decode(row.cause) if row.cause else None)


class BookSource(Protocol):
    def book(self, symbol: str) -> Any: ...


def risk_event_types() -> tuple[type[Event], ...]:
    """Events of the risk package's model module (kill switch, limit changes), found without importing it."""
    return tuple(t for t in event_types() if t.__module__ == "tapeflow.model.risk_events")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class AuditTrail:
    """A kernel component writing to an ``AuditWriter``. ``books`` (a ``BookKeeper``) gives the market state.

    ``announce`` receives the line naming the run's head at stop (when the trail owns its writer); None is silent.

    ``close_window_ns`` > 0 also sums market prints in that window before each day's close
    (the session's close from ``sessions``, 13:00 on half days, or ``close_time_ns`` after New York midnight when
    given), written as ``CloseWindowVolume`` records for surveillance.
    """

    def __init__(
        self,
        writer: AuditWriter | ThreadAuditWriter,
        *,
        books: BookSource | None = None,
        batch_size: int = 512,
        flush_interval_ns: int = NS,
        close_window_ns: int = 10 * 60 * NS,
        close_time_ns: int | None = None,
        sessions: SessionCalendar | None = None,
        owns_writer: bool = False,
        announce: Callable[[str], None] | None = _to_stderr,
    ) -> None:
        self.writer = writer
        self.books = books
        self.batch_size = batch_size
        self.flush_interval_ns = flush_interval_ns
        self.close_window_ns = close_window_ns
        self.close_time_ns = close_time_ns
        self.sessions = sessions if sessions is not None else ExchangeCalendar("XNYS")
        self.owns_writer = owns_writer
        self.announce = announce
        self._handed = 0
        self._buf: list[Event] = []
        self._causes: list[tuple[int, OrderCause]] = []
        self._due = flush_interval_ns
        """Event time at which the next record is handed over whatever the batch's size: ``flush_interval_ns``
        after the last hand-over (compared, not subtracted: no int is made per record)."""
        self._signals: dict[str, dict[str, Signal]] = {}
        """Last signal per strategy, then symbol (two lookups; a tuple key would be built and hashed per signal)."""
        self._models: dict[str, int] = {}
        """Replaced, never changed in place: every cause since the last ``ModelUpdated`` shares it, uncopied."""
        self._model_hashes: dict[str, str] = {}
        """Like ``_models``: replaced on each ``ModelUpdated``, shared by the causes in between."""
        self._day_end = -1
        self._window_start = 0
        self._close = 0
        self._session = ""
        self._window: dict[str, list[int]] = {}  # symbol -> [reference, volume, trades, last]

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        key: bytes | None = None,
        writer: Literal["process", "thread", "auto"] = "process",
        **kwargs: Any,
    ) -> AuditTrail:
        """A trail writing to the SQLite file ``path`` (created if needed, continued if it holds a trail).

        ``writer``: the writer process (the default: it commits what it received even if this process dies), a
        thread of this process (``thread_writer``: cheaper where no core is free for a process), or ``auto``:
        the thread on a one-core machine, else the process (a backtest's choice; ``writer.mode`` says which runs).
        On a quiet two-core machine the process costs the demo backtest +7% wall against the thread's +15%: its
        work runs on the other core (docs/PERFORMANCE.md, "Audit writer")."""
        store = SqliteAuditStore(path)
        if writer == "auto":
            writer = "thread" if (os.cpu_count() or 1) <= 1 else "process"
        if writer == "thread":
            return cls(ThreadAuditWriter(store, key=key), owns_writer=True, **kwargs)
        return cls(AuditWriter(store, key=key), owns_writer=True, **kwargs)

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        subscribe = kernel.subscribe
        for t in COMMANDS:
            subscribe(t, self._on_command)
        for t in ORDER_REPORTS:
            subscribe(t, self._on_report)
        subscribe(Signal, self._on_signal)
        subscribe(ModelUpdated, self._on_model)
        subscribe(ModelTrainingFailed, self._on_other)  # the model in force stayed: why, on the record
        subscribe(Prediction, self._on_other)  # a decision's input, like a Signal: what the model said, and which
        subscribe(LargeOrderPulled, self._on_other)
        subscribe(VenueStatus, self._on_other)  # why orders to a venue stopped or were refused: the link was down
        for t in risk_event_types():
            subscribe(t, self._on_risk)
        if self.close_window_ns > 0:
            subscribe(Trade, self._on_trade)

    def on_start(self) -> None:
        self.writer.start()

    def on_upkeep(self) -> None:
        """A live driver's periodic call: hand over what is waiting, however little (no disk wait: only a pipe)."""
        self._handover()

    def on_stop(self) -> None:
        self._close_day()
        if not self.owns_writer:
            self.flush()  # the run is the owner's to end
            return
        self._handover()
        # close ends the run (every record committed, the head line written) before it returns; the writer
        # process's exit is reaped later (next trail, interpreter exit), so the end of a run does not wait for it
        self.writer.close(wait=False)
        head = self.writer.head
        if head is not None and head.seq > 0 and self.announce is not None:
            self.announce(self.head_line(head))

    def head_line(self, head: Head) -> str:
        """What the user is told to keep: where the trail is, and its head as ``--expect-head`` takes it."""
        where = getattr(self.writer.store, "path", "the audit trail")
        return (
            f"audit trail {where}: run {head.run} ended at record {head.seq}; keep its head {head.seq}:"
            f"{head.hash.hex()} (check with `tapeflow audit verify {where} --expect-head {head.seq}:{head.hash.hex()}`)"
        )

    @property
    def records(self) -> int:
        """Records taken so far (handed to the writer or still in this component's batch)."""
        return self._handed + len(self._buf)

    def flush(self) -> int:
        """Hand over what is buffered and wait until it is committed; the last committed sequence number."""
        self._handover()
        return self.writer.flush()

    # -- handlers -----------------------------------------------------------------------------------------------

    def _push(self, event: Event) -> None:
        buf = self._buf
        buf.append(event)
        if len(buf) >= self.batch_size or event.ts_init >= self._due:
            self._due = event.ts_init + self.flush_interval_ns
            self._handover()

    def _handover(self) -> None:
        if self._buf:
            self._handed += len(self._buf)
            self.writer.submit(self._buf, self._causes)
            self._buf = []
            self._causes = []

    def _on_command(self, cmd: Any) -> None:
        # The cause built here, in one call: ``_cause`` and ``_push`` inlined, and the book's top read with one
        # ``top()`` rather than ``best_bid``, ``best_ask`` and two ``size_at`` (each hashing a ``Side`` enum member in
        # Python); ~1 us of the ~2.5 us a command cost. The record's bytes are the same (``OrderCause``'s fields).
        strategy_id = cmd.strategy_id
        symbol = cmd.symbol
        signals = self._signals.get(strategy_id)
        signal = signals.get(symbol) if signals is not None else None
        books = self.books
        book = books.book(symbol) if books is not None else None
        buf = self._buf
        if book is None:
            cause = OrderCause(
                strategy_id=strategy_id, signal=signal, models=self._models, model_hashes=self._model_hashes
            )
        else:
            top = book.top()
            cause = OrderCause(
                strategy_id=strategy_id,
                signal=signal,
                models=self._models,
                book=True,
                bid_price=top.bid_price,
                bid_size=top.bid_size,
                ask_price=top.ask_price,
                ask_size=top.ask_size,
                book_stale=bool(book.stale),
                model_hashes=self._model_hashes,
            )
        self._causes.append((len(buf), cause))
        buf.append(cmd)
        if len(buf) >= self.batch_size or cmd.ts_init >= self._due:
            self._due = cmd.ts_init + self.flush_interval_ns
            self._handover()

    def _on_report(self, event: Any) -> None:
        buf = self._buf
        buf.append(event)
        if len(buf) >= self.batch_size or event.ts_init >= self._due:
            self._due = event.ts_init + self.flush_interval_ns
            self._handover()

    def _on_signal(self, sig: Signal) -> None:
        signals = self._signals.get(sig.strategy_id)
        if signals is None:
            signals = self._signals[sig.strategy_id] = {}
        signals[sig.symbol] = sig
        buf = self._buf
        buf.append(sig)
        if len(buf) >= self.batch_size or sig.ts_init >= self._due:
            self._due = sig.ts_init + self.flush_interval_ns
            self._handover()

    def _on_model(self, event: ModelUpdated) -> None:
        self._models = {**self._models, event.model_id: event.version}
        self._model_hashes = {**self._model_hashes, event.model_id: event.model_hash}
        self._push(event)

    def _on_other(self, event: Any) -> None:
        self._push(event)

    def _on_risk(self, event: Any) -> None:
        self._on_other(event)
        if type(event).__name__ == KILL_SWITCH:
            self.flush()  # what led to the kill switch must be on disk before anyone acts on it

    # -- market prints before the close -------------------------------------------------------------------------

    def _on_trade(self, trade: Trade) -> None:
        ts = trade.ts_event
        if ts >= self._day_end:
            self._roll_day(ts)
        if ts < self._window_start:
            state = self._window.get(trade.symbol)
            if state is None:
                self._window[trade.symbol] = [trade.price, 0, 0, NO_PRICE]
            else:
                state[0] = trade.price
        elif ts <= self._close:
            state = self._window.get(trade.symbol)
            if state is None:
                state = self._window[trade.symbol] = [NO_PRICE, 0, 0, NO_PRICE]
            state[1] += trade.size
            state[2] += 1
            state[3] = trade.price

    def _roll_day(self, ts: int) -> None:
        self._close_day()
        day = dt.datetime.fromtimestamp(ts // NS, NEW_YORK).date()
        midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp()) * NS
        nxt = day + dt.timedelta(days=1)
        self._day_end = int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=NEW_YORK).timestamp()) * NS
        session = self.sessions.session(day) if self.close_time_ns is None else None
        if self.close_time_ns is not None:
            self._close = midnight + self.close_time_ns
            self._window_start = self._close - self.close_window_ns
        elif session is not None:
            self._close = session.close
            self._window_start = self._close - self.close_window_ns
        else:  # no session (holiday, closure): no window, prints only update the reference price
            self._close = self._window_start = self._day_end
        self._session = day.isoformat()

    def _close_day(self) -> None:
        for symbol in sorted(self._window):
            ref, volume, trades, last = self._window[symbol]
            if trades == 0:
                continue
            record = CloseWindowVolume(
                ts_event=self._close,
                ts_init=self._close,
                symbol=symbol,
                session_date=self._session,
                window_start=self._window_start,
                close=self._close,
                volume=volume,
                trades=trades,
                reference_price=ref,
                last_price=last,
            )
            self._push(record)
        self._window.clear()
