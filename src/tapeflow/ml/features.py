"""The feature recorder: a kernel component that samples one feature vector per symbol at a fixed event-time cadence.

It reads what every feed gives: ``Quote`` and ``Trade`` events. An L1 feed (a live node) carries them; on L2/L3
data the ``BookKeeper`` with signals on emits them from the book (a ``Quote`` on each change of the best bid or
offer, a ``Trade`` with its aggressor for each execution), and the synthetic market emits both. Once a symbol has
an NBBO quote, other venues' quotes are ignored, as the L1 book does.

Per quote: on L1 nothing of the recorder's own. The node hands it its ``BookKeeper`` (``use_books``), whose quote
books then keep each symbol's raw last quote and cumulative order flow imbalance (``book.quote_book.QuoteFlow``:
``book.signals.ofi`` on the raw prices, summed; a step that moves no price only changes bid size - ask size, so
only the ~7% of quotes that move a price pay for it); a recorder handler per quote was about 29% of the quote
backtest. Without such a keeper (L2/L3, where the books emit the quotes; a bare kernel) ``on_quote`` keeps the same
``QuoteFlow`` itself. A trade adds its signed size.
Everything else is computed at sampling time (every ``interval_ns``, timers aligned to multiples of it, or on
demand through ``sample()``), from the state before any event at that instant:

- ``imbalance``: (bid size - ask size) / (bid size + ask size) at the touch;
- ``ofi``: order flow imbalance summed over the interval (shares);
- ``microprice_minus_mid``: ``book.signals.microprice`` minus the mid (price units);
- ``spread``: ask - bid (price units);
- ``realized_vol``: sqrt of the sum of squared log returns of the sampled mid over the last ``vol_samples``
  samples, this one included;
- ``signed_volume``: buyer- minus seller-initiated shares traded over the interval;
- ``time_of_day``: seconds since 09:30 New York on the sample's day.

A symbol without a two-sided quote is not sampled (its interval sums restart). Each sample gets its label
(``ml.labels``) at sample time + horizon: when the horizon is a multiple (2 or more) of the interval, the timer's
tick at that time sets the labels of the timer's samples (no kernel call per sample); otherwise, and for samples
taken on demand, a kernel call per sample does. ``training_set`` hands out the purged window (``ml.window``).

Why this module is long: the sample runs on the loop every interval, so the ring append and the labels' maturing
are written out in ``_take`` instead of called (each call was a measurable share of the quote backtest); the
references they write out stay in ``ml.window`` and ``ml.labels``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.book.keeper import BookKeeper
from tapeflow.book.quote_book import FlowQuoteBook, QuoteFlow, ofi_base_after
from tapeflow.config import compiled_core_chosen
from tapeflow.engine.kernel import Impl, Kernel
from tapeflow.ml.labels import ForwardReturnLabels
from tapeflow.ml.window import F64, SampleRing, SquaresSum, TrainingSet, training_set
from tapeflow.model.enums import Aggressor
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Quote, Trade

try:  # the compiled sample step (setup.py builds it); without it the Python reference runs
    from tapeflow.ml._sample_core import Sampler

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

FEATURES: tuple[str, ...] = (
    "imbalance",
    "ofi",
    "microprice_minus_mid",
    "spread",
    "realized_vol",
    "signed_volume",
    "time_of_day",
)
NS = 1_000_000_000
_NEW_YORK = ZoneInfo("America/New_York")
_BUY, _SELL = Aggressor.BUY, Aggressor.SELL
_NAN = float("nan")
_EXACT = 2**53
"""bid + ask below this is an exact double, so a label's float division equals the int one of ``ml.labels``."""


class RecorderConfig(msgspec.Struct, frozen=True, kw_only=True):
    interval_ns: int = NS
    """Sampling cadence in event time; 0 samples only on demand (``sample()``)."""
    horizon_ns: int = 10 * NS
    """Label horizon H: the forward mid return from t to t + H."""
    window_ns: int = 3600 * NS
    """Default training window (the last 60 minutes)."""
    vol_samples: int = 30
    """Samples (this one included) over which the realized volatility of the mid is taken."""
    capacity: int = 0
    """Samples kept per symbol; 0: enough for the window plus the horizon at the cadence."""
    symbols: tuple[str, ...] = ()
    """Symbols to record; empty: every symbol quoted."""

    def ring_capacity(self) -> int:
        if self.capacity:
            return self.capacity
        interval = self.interval_ns or NS
        return -(-(self.window_ns + self.horizon_ns) // interval) + 1


class _Symbol:
    __slots__ = ("core", "flow", "last_mid", "nbbo", "ofi_mark", "returns2", "ring", "signed")

    def __init__(self, ring: SampleRing, vol_samples: int, flow: QuoteFlow | FlowQuoteBook) -> None:
        self.returns2 = SquaresSum(vol_samples - 1)
        """Squared log returns between the last ``vol_samples`` sampled mids, and sqrt of their exact sum (``vol``:
        the realized volatility of the last sample)."""
        self.last_mid = 0.0
        self.flow = flow
        """The last quote and the cumulative order flow imbalance: the keeper's ``FlowQuoteBook`` on L1 (it keeps
        them as it applies each quote), else the recorder's own, kept by ``on_quote``."""
        self.ofi_mark = 0
        """The cumulative order flow imbalance at the last sample: the interval's sum is the difference."""
        self.signed = 0
        """Buyer- minus seller-initiated shares since the last sample."""
        self.nbbo = False
        self.ring = ring
        self.core: object = None
        """The compiled sample step's typed views of the ring's arrays (``ml._sample_core``), made on its first
        sample."""


def _ny_midnight_ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=_NEW_YORK).timestamp()) * NS


def ny_open_ns(day: date) -> int:
    """UTC ns of 09:30 New York on ``day``."""
    opening = datetime(day.year, day.month, day.day, 9, 30, tzinfo=_NEW_YORK)
    return calendar.timegm(opening.astimezone(UTC).timetuple()) * NS


class FeatureRecorder:
    """Kernel component; add it after the ``BookKeeper`` so that book-derived quotes reach it.

    Slotted: the compiled sample step reads ``samples`` and ``after_sample`` through their slots' offsets."""

    __slots__ = (
        "_capacity",
        "_day_hi",
        "_day_lo",
        "_day_open",
        "_defer",
        "_kernel",
        "_only",
        "_opens",
        "_order",
        "_symbols",
        "_tick",
        "_timer_pending",
        "after_sample",
        "config",
        "impl",
        "labels",
        "sampler",
        "samples",
        "tracked",
    )

    def __init__(
        self, config: RecorderConfig | None = None, *, labels_on_ticks: bool = True, impl: Impl = "auto"
    ) -> None:
        """``impl``: "python" takes each sample with ``_take``, the reference; "compiled" with
        ``ml._sample_core.Sampler`` (``ConfigError`` when it was not built); "auto" the compiled one when built,
        unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``. ``impl`` says which was chosen."""
        compiled = compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled sample step")
        cfg = self.config = config or RecorderConfig()
        for name in ("horizon_ns", "window_ns", "vol_samples"):
            if getattr(cfg, name) <= 0:
                raise ConfigError(f"must be positive, got {getattr(cfg, name)}", field=f"ml.{name}")
        if cfg.interval_ns < 0 or cfg.capacity < 0:
            raise ConfigError("interval_ns and capacity must not be negative (0: on demand / derived)", field="ml")
        self._capacity = cfg.ring_capacity()
        self._symbols: dict[str, _Symbol] = {}
        self._only = frozenset(cfg.symbols)
        self._kernel: Kernel | None = None
        self._opens: dict[date, int] = {}
        self._day_lo = self._day_hi = self._day_open = 0
        """The New York day ``_open`` last answered for: [lo, hi) in UTC ns and its 09:30."""
        self._order: list[tuple[str, _Symbol]] = []
        """The recorded symbols with their state, sorted (the order samples are taken in)."""
        self.labels = ForwardReturnLabels(cfg.horizon_ns, self.mid2, self.quoted_at)
        interval, horizon = cfg.interval_ns, cfg.horizon_ns
        self._defer = labels_on_ticks and interval > 0 and horizon % interval == 0 and horizon // interval >= 2
        """The timer's samples are labelled at its own later tick (``ForwardReturnLabels.defer``); False (or
        ``labels_on_ticks=False``): a kernel call per sample."""
        self.samples = 0
        self._timer_pending = False
        self.after_sample: list[Callable[[int], None]] = []
        """Called with the sample time after each ``sample()`` (a predictor predicts on the fresh vectors)."""
        self.tracked = False
        """The node's L1 keeper keeps the quote flow (``use_books``): no handler of the recorder's per quote."""
        self.impl = "compiled" if compiled else "python"
        self.sampler = Sampler(self, _Symbol, self._defer) if compiled else None
        """The compiled sample step (None: the Python ``_take`` runs); its ``fallbacks`` counts the samplings it
        handed to ``_take`` whole."""
        self._tick: Callable[[int], None] = self._on_tick if self.sampler is None else self.sampler.tick
        """What the sampling timer calls: ``_on_tick``, or the compiled step's ``tick`` (the same steps)."""
        if self.sampler is not None:  # the labels' backstop call, the same steps compiled
            self.labels.backstop = self.sampler.backstop

    def use_books(self, books: BookKeeper) -> None:
        """The node offers its keeper before attaching it (``node.assembly``): on L1 it keeps each symbol's last
        quote and order flow for this recorder as it applies the quote (``BookKeeper.track_flow``), which cost this
        recorder's own handler ~200 ns a quote; on L2/L3 the recorder reads the quotes the books emit, as before."""
        self.tracked = books.track_flow(self._on_book)

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self.labels.bind(kernel)
        if not self.tracked:
            kernel.subscribe(Quote, self.on_quote)
        kernel.subscribe(Trade, self.on_trade)

    def on_start(self) -> None:
        assert self._kernel is not None
        if self.config.interval_ns and self._kernel.now:
            self._start_timer()
        self._timer_pending = not self._kernel.now  # a kernel started without a time: wait for the first quote

    def _start_timer(self) -> None:
        assert self._kernel is not None
        interval = self.config.interval_ns
        if interval:
            first = -(-self._kernel.now // interval) * interval  # multiples: live and backtest sample alike
            self._kernel.set_timer("ml.features", at=first, interval=interval, tick=self._tick)

    def on_stop(self) -> None:
        return None

    # -- per event: a few attribute updates ---------------------------------------------------------------------

    def on_quote(self, quote: Quote) -> None:
        """A quote when no keeper keeps the flow (L2/L3: the book's emitted quotes; a bare kernel): what
        ``BookKeeper.on_quote_flow`` does for an L1 node, on the recorder's own ``QuoteFlow``."""
        state = self._symbols.get(quote.symbol)
        if state is None:
            state = self._new_symbol(quote.symbol, QuoteFlow())
            if state is None:
                return
        if state.nbbo:  # once a symbol has an NBBO quote, other venues' quotes are not its touch
            if quote.venue != "NBBO":
                return
        elif quote.venue == "NBBO":
            state.nbbo = True
        flow = state.flow
        prev = flow.quote
        flow.quote = quote
        if prev is None or quote.bid_price != prev.bid_price or quote.ask_price != prev.ask_price:
            flow.ofi_base = ofi_base_after(flow.ofi_base, prev, quote)

    def _on_book(self, book: FlowQuoteBook) -> None:
        self._new_symbol(book.symbol, book)

    def _new_symbol(self, symbol: str, flow: QuoteFlow | FlowQuoteBook) -> _Symbol | None:
        if self._only and symbol not in self._only:
            return None
        ring = SampleRing(self._capacity, len(FEATURES))
        state = self._symbols[symbol] = _Symbol(ring, self.config.vol_samples, flow)
        self._order = sorted(self._symbols.items(), key=lambda item: item[0])
        self.labels.rings = [(name, st.ring) for name, st in self._order]
        if self.sampler is not None:
            self.sampler.order = self._order
        if self._timer_pending:
            self._timer_pending = False
            self._start_timer()
        return state

    def on_trade(self, trade: Trade) -> None:
        state = self._symbols.get(trade.symbol)
        if state is not None:
            aggressor = trade.aggressor
            if aggressor is _BUY:
                state.signed += trade.size
            elif aggressor is _SELL:
                state.signed -= trade.size

    # -- sampling -----------------------------------------------------------------------------------------------

    def _on_tick(self, now: int) -> None:
        """The sampling timer is callback-only: no ``TimerFired`` is built or dispatched for it (no one else reads
        it), at the same place in the kernel's order; about 0.5 us a sample."""
        if self._defer and self.labels.queued:
            self.labels.mature_due(now)  # before sampling, as the labels' own calls would have run
        self._take(self._defer)

    def mid2(self, symbol: str) -> int | None:
        """bid + ask of the symbol's last quote (twice the mid, exact), None when a side is empty."""
        state = self._symbols.get(symbol)
        quote = state.flow.quote if state is not None else None
        if quote is None or not (quote.bid_size and quote.ask_size and quote.bid_price and quote.ask_price):
            return None
        return quote.bid_price + quote.ask_price

    def quoted_at(self, symbol: str) -> int:
        """``ts_init`` of the symbol's quote in force now; -1 when it has none."""
        state = self._symbols.get(symbol)
        quote = state.flow.quote if state is not None else None
        return -1 if quote is None else quote.ts_init

    def _open(self, ts: int) -> int:
        """09:30 New York (UTC ns) on the New York day of ``ts``; the day's bounds are kept, so a sample pays two
        comparisons instead of a time-zone conversion (about 1 us) until the day changes."""
        if self._day_lo <= ts < self._day_hi:
            return self._day_open
        day = datetime.fromtimestamp(ts // NS, tz=_NEW_YORK).date()
        base = self._opens.get(day)
        if base is None:
            base = self._opens[day] = ny_open_ns(day)
        self._day_lo, self._day_hi = _ny_midnight_ns(day), _ny_midnight_ns(day + timedelta(days=1))
        self._day_open = base
        return base

    def sample(self) -> int:
        """Takes one sample per recorded symbol now; returns how many were taken."""
        assert self._kernel is not None, "attach the recorder to a kernel first"
        if self.sampler is not None:
            return self.sampler.take(self._kernel.now, False)
        return self._take(False)

    def _take(self, defer: bool) -> int:
        """``sample()``; ``defer``: the sampling timer's tick, whose later tick sets the labels.

        It runs on the loop at every interval, so the book values are read once into locals and the microprice
        (``book.signals.microprice``, the same expression) is inlined; test_features compares every value with an
        independent numpy recomputation."""
        assert self._kernel is not None, "attach the recorder to a kernel first"
        ts = self._kernel.now
        taken = 0
        labels = self.labels
        label_end = ts + labels.horizon_ns
        deferred = 0
        opening = self._day_open if self._day_lo <= ts < self._day_hi else self._open(ts)
        time_of_day = (ts - opening) / NS
        for symbol, state in self._order:
            book = state.flow
            quote, flow = book.quote, state.signed
            state.signed = 0
            if quote is None:
                continue
            bid, bid_size, ask, ask_size = quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size
            ofi = book.ofi_base + bid_size - ask_size if bid and ask else book.ofi_base
            ofi_sum = ofi - state.ofi_mark
            state.ofi_mark = ofi
            two_sided = bid_size and ask_size and bid and ask
            mid2 = bid + ask
            ring = state.ring
            if defer and ring.deferred_from < ring.appended:
                # the labels due now (``ForwardReturnLabels.mature_rings`` written out: the same check, value
                # and counters as ``mature_due``; ``_set``'s int division made float, which is the same double
                # while bid + ask is below 2**53, as every sample the ring path takes)
                seq, capacity, ends, on_call = ring.deferred_from, ring.capacity, ring.ends_view, ring.on_call
                while seq < ring.appended:
                    slot = seq % capacity
                    end = ends[slot]
                    if end > ts:
                        break
                    seq += 1
                    if on_call and seq - 1 in on_call:
                        on_call.discard(seq - 1)
                        continue
                    labels.ring_pending -= 1
                    if quote.ts_init >= end:
                        labels.ambiguous += 1
                    elif not two_sided:
                        labels.unlabelled += 1
                    elif mid2 < _EXACT:
                        start = ring.mids_view[slot] * 2.0
                        ring.y_view[slot] = (mid2 - start) / start
                        labels.matured += 1
                    else:  # past 2**53 only the int division is exact
                        labels.set_label(symbol, ring, seq - 1, int(ring.mids_view[slot] * 2.0))
                ring.deferred_from = seq
            if not two_sided:  # one-sided: no mid (as ``mid2``)
                continue
            mid = mid2 / 2
            size = bid_size + ask_size
            mp = (bid * ask_size + ask * bid_size) / size  # book.signals.microprice; both prices are set here
            last = state.last_mid
            # a return once there is a last mid (an unchanged mid: mid / last is exactly 1.0 and log(1.0) exactly
            # 0.0, so skip both), into the exact running sum (``SquaresSum``: fsum's double, not summed again)
            squares = state.returns2
            vol = squares.push(math.log(mid / last) ** 2 if mid != last else 0.0) if last else squares.vol
            state.last_mid = mid
            seq = ring.appended
            capacity = ring.capacity
            if seq - ring.deferred_from >= capacity:  # the slot about to be written holds a waiting sample
                labels.lose_oldest(symbol, ring)
            slot = seq % capacity
            # ``SampleRing.append`` written out (a call and a list per sample less); the int features made floats
            # first (int + 0.0 is the same double ``struct`` would make, and struct's own conversion of an int costs
            # about three times a float's)
            ring.pack_row(
                ring.x_bytes,
                slot * ring.row_bytes,
                (bid_size - ask_size) / size,
                ofi_sum + 0.0,
                mp - mid,
                ask - bid + 0.0,
                vol,
                flow + 0.0,
                time_of_day,
            )
            ring.times_view[slot] = ts
            ring.mids_view[slot] = mid
            ring.y_view[slot] = _NAN
            ring.ends_view[slot] = label_end
            ring.appended = seq + 1
            if defer and mid2 < _EXACT:  # waits in the ring for the tick at its label end
                deferred += 1
            else:  # a kernel call at its label end
                if ring.deferred_from == seq:
                    ring.deferred_from = seq + 1
                else:
                    ring.on_call.add(seq)
                labels.schedule(symbol, ring, seq, ts, mid2)
            taken += 1
        if deferred:
            labels.deferred_in_rings(label_end, deferred)
        self.samples += taken
        for listener in self.after_sample:
            listener(ts)
        return taken

    # -- reading ------------------------------------------------------------------------------------------------

    def symbols(self) -> list[str]:
        return sorted(self._symbols)

    def ring(self, symbol: str) -> SampleRing:
        return self._symbols[symbol].ring

    def vector_at(self, symbol: str, ts: int) -> F64 | None:
        """The symbol's feature vector sampled at ``ts`` (a read-only view), or None when it was not sampled then."""
        state = self._symbols.get(symbol)
        if state is None or not state.ring.appended:
            return None
        ring = state.ring
        slot = (ring.appended - 1) % ring.capacity
        if int(ring.times[slot]) != ts:
            return None
        view: F64 = ring.X[slot]
        view.flags.writeable = False
        return view

    def training_set(
        self,
        trigger_ts: int,
        window_ns: int | None = None,
        embargo_ns: int = 0,
        symbols: tuple[str, ...] = (),
    ) -> TrainingSet:
        """The purged window at ``trigger_ts`` (default window: the configured one) over ``symbols`` (default all),
        sorted by sample time."""
        names = sorted(symbols or self._symbols)
        rings = [self._symbols[s].ring for s in names if s in self._symbols]
        window = self.config.window_ns if window_ns is None else window_ns
        return training_set(rings, trigger_ts, window, embargo_ns, FEATURES)
