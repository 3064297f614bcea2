"""Follow synthetic passive orders through one day under the exact L3 queue and under each L2 queue model.

Two books are kept from the one tape: the L3 book the tape builds (order by order) and an L2 book fed only what a
market-by-price feed would have shown (``L2View``). Each probe is placed, at its time, at the price of its level
then, once per *view*: under the exact queue (``L3Queue``, the truth: behind exactly the visible shares at its
price, moving up as those execute or leave, filled when an execution reaches its place) and under each
``QueueModel`` on the L2 book (``L2Queue``). Each placement is a ``SimOrder`` in its own ``Matcher`` with its own
``DepthChanges``, the simulated exchange's own classes, so what is scored is what a backtest does, and no probe
shares a queue with another (a probe never disturbs the tape, another probe, or the truth).

How an event travels: the active probes' observers see it before the book applies it (as the exchange's
``BookKeeper.observe_before`` hook does), the L3 book applies it, an execution's print goes to every probe's
matcher (the truth's matcher takes only prints *through* its price from it; the L2 matchers also move their
queues, as on a real L2 feed), then the L2 deltas the event caused go through the L2 book with the L2 probes'
observers. One rule is the harness's own, on the truth only: displayed orders have priority over hidden ones at
the same price (NASDAQ), so a hidden execution at the probe's price with nothing visible left ahead of it would
have met the probe first and fills it (the exchange's L3 path leaves hidden prints at a resting order's price
alone; the L2 path counts them as any print). A probe ends when it is completely filled or its horizon passes;
the run ends when no probe is left.

The truth is exact only while the file sees the probe's level: a depth-limited file (LOBSTER level N) does not
show what happens beyond level N. When the level comes back into view (``DepthRevealed``) with another size than
the book last knew, orders joined or left it out of view, anywhere in the queue; such a probe (and every probe
after a resync) is marked not ``seen_whole`` and left out of the scores (counted). A level that comes back as it
left keeps its probes: orders found in it later (``OrderDiscovered``) are shares that were there before the
probe joined (the book the day began with, or a level revealed before), so ahead of it, as the exact queue
counts them.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from tapeflow.book.keeper import L3_EVENTS, BookKeeper
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.calibration.l2view import L2View
from tapeflow.calibration.probes import Probe
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import Aggressor, LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.events import Event
from tapeflow.model.market import BookSnapshot, Trade
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE
from tapeflow.venues.sim.bar_fills import BarFills
from tapeflow.venues.sim.depth import DepthChanges
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.matching import Matcher
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import QueueModel, queue_for

TRUTH = "truth"
"""The view name of the exact FIFO queue: the ground truth every model is scored against."""
L3 = "L3"
"""The exact queue placed a second time, independently, and scored like a model: it must match the truth exactly
(the harness's check that placing, observing and scoring compare like with like)."""


class ProbeOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one probe under each view. ``price`` is ``NO_PRICE`` when its level did not exist then."""

    symbol: str
    probe: Probe
    price: int
    ahead: int
    """Visible shares at its price when it joined (ahead of it in every view)."""
    seen_whole: bool = True
    """False when its level changed out of the file's view while it was followed: the truth is not exact then
    (see the module), and the probe is not scored."""
    fill_ns: dict[str, int | None]
    """Per view (``TRUTH``, ``L3`` and each model's name): ns from placement to the complete fill, None if not filled
    within the horizon."""


class _Placed:
    """One probe under one view: its own order, matcher and book observer."""

    __slots__ = ("depth", "done", "filled", "filled_at", "matcher", "order")

    def __init__(self, keeper: BookKeeper, model: QueueModel, order: SimOrder) -> None:
        self.order = order
        self.filled = 0
        self.filled_at: int | None = None
        self.done = False
        self.matcher = Matcher(
            keeper, queue_for(keeper.level, model), self._fill, self._cancel, BarFills(self._fill, self._cancel)
        )
        self.depth = DepthChanges(self.matcher)

    def _fill(self, order: SimOrder, price: int, qty: int, side: LiquiditySide, at: int, action: OrderAction) -> None:
        order.filled += qty
        self.filled += qty
        if order.remaining <= 0:
            self.filled_at = at
            self.done = True
            self.matcher.remove(order)

    def _cancel(self, order: SimOrder, at: int, action: OrderAction, why: str) -> None:
        self.done = True  # a probe is never cancelled by the venue; if it were, it did not fill

    def place(self, at: int) -> None:
        self.matcher.incoming(self.order, self.matcher.state(self.order.symbol), at, OrderAction.INSERT)

    def hidden_print(self, trade: Trade) -> None:
        """A hidden order traded at our price: with nothing visible left ahead of us, the seller met us first."""
        order = self.order
        if not order.resting or order.price != trade.price or order.ahead != 0:
            return
        if trade.aggressor is not (Aggressor.SELL if order.side is Side.BUY else Aggressor.BUY):
            return
        self.matcher.fill_reached(self.matcher.queue.on_trade([order], trade.size), trade.ts_event)


class _Probe:
    __slots__ = ("ahead", "expires", "outcome_price", "placed", "probe", "seen_whole")

    def __init__(self, probe: Probe, price: int, expires: int) -> None:
        self.probe = probe
        self.ahead = 0
        self.seen_whole = True
        self.outcome_price = price
        self.expires = expires
        self.placed: dict[str, _Placed] = {}


class _NullBus:
    """The books' derived events (integrity episodes) are not needed here."""

    def subscribe(self, event_type: object, handler: object) -> None:
        return None

    def emit(self, event: Event) -> None:
        return None


class _Observers:
    """The active placements of one book: told of each event before the book applies it."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active: list[_Placed] = []

    def before(self, event: Event, book: L2Book | L3Book) -> None:
        for placed in self.active:
            if not placed.done:
                placed.depth.before_book(event, book)

    def print(self, trade: Trade) -> None:
        for placed in self.active:
            if not placed.done:
                placed.matcher.on_trade(trade)

    def hidden_print(self, trade: Trade) -> None:
        for placed in self.active:
            if not placed.done:
                placed.hidden_print(trade)


def follow(
    events: Iterable[Event], symbol: str, probes: list[Probe], models: list[QueueModel], horizon_ns: int
) -> list[ProbeOutcome]:
    """Replay ``events`` (one symbol's L3 tape) once and follow every probe under the truth and each model."""
    truth_keeper = BookKeeper("L3")
    l2_keeper = BookKeeper("L2")
    truth_obs, l2_obs = _Observers(), _Observers()
    for keeper, obs in ((truth_keeper, truth_obs), (l2_keeper, l2_obs)):
        keeper.attach(_NullBus())
        keeper.observe_before(obs.before)
    view = L2View(symbol)
    pending = sorted(probes, key=lambda p: (p.ts, p.probe_id))
    nxt = 0
    live: list[_Probe] = []
    finished: list[_Probe] = []
    for event in events:
        ts = event.ts_event
        if nxt < len(pending) and pending[nxt].ts <= ts:
            while nxt < len(pending) and pending[nxt].ts <= ts:
                probe = _place(pending[nxt], symbol, truth_keeper, l2_keeper, models, horizon_ns)
                (live if probe.placed else finished).append(probe)
                nxt += 1
            _refresh(live, truth_obs, l2_obs)
        if live and (min(p.expires for p in live) <= ts or any(_all_done(p) for p in live)):
            finished.extend(p for p in live if p.expires <= ts or _all_done(p))
            live = [p for p in live if p.expires > ts and not _all_done(p)]
            _refresh(live, truth_obs, l2_obs)
        if not live and nxt >= len(pending):
            break
        if isinstance(event, Trade):
            if "hidden" in event.conditions:
                truth_obs.hidden_print(event)
            truth_obs.print(event)
            l2_obs.print(event)
            continue
        if live and isinstance(event, BookSnapshot):
            for p in live:
                p.seen_whole = False  # a resync: whatever happened in the gap happened out of view
        if isinstance(event, BookSnapshot):
            truth_keeper.on_event(event)
            l2_keeper.on_event(event)
            continue
        if not isinstance(event, L3_EVENTS):
            continue  # status changes and the like: no book, no queue
        book = truth_keeper.book(symbol)
        if not isinstance(book, L3Book):  # a tape without an opening snapshot: both books start empty
            truth_keeper.on_event(event)
            started = truth_keeper.book(symbol)
            assert isinstance(started, L3Book)
            l2_keeper.on_event(started.snapshot(ts))
            continue
        touched, trade = view.before(event, book)
        watch = _watch(event, book, live) if live and isinstance(event, DepthRevealed) else []
        truth_keeper.on_event(event)
        for p, size in watch:
            if book.size_at(p.probe.side, p.outcome_price) != size:
                p.seen_whole = False
        if trade is not None:
            truth_obs.print(trade)
            l2_obs.print(trade)
        l2 = l2_keeper.book(symbol)
        assert isinstance(l2, L2Book)
        for delta in view.after(event, touched, book, l2):
            l2_keeper.on_event(delta)
    finished.extend(live)
    finished.extend(_Probe(p, NO_PRICE, p.ts) for p in pending[nxt:])  # after the tape ended: never placed
    return sorted((_outcome(p, symbol) for p in finished), key=lambda o: (o.probe.ts, o.probe.probe_id))


_ON_L3 = (TRUTH, L3)


def _watch(event: DepthRevealed, book: L3Book, live: list[_Probe]) -> list[tuple[_Probe, int]]:
    """The live probes on the revealed side still seen whole, with their level's size before the reveal."""
    return [
        (p, book.size_at(p.probe.side, p.outcome_price)) for p in live if p.seen_whole and p.probe.side is event.side
    ]


def _all_done(p: _Probe) -> bool:
    return all(x.done for x in p.placed.values())


def _refresh(live: list[_Probe], truth_obs: _Observers, l2_obs: _Observers) -> None:
    truth_obs.active = [x for p in live for name, x in p.placed.items() if name in _ON_L3 and not x.done]
    l2_obs.active = [x for p in live for name, x in p.placed.items() if name not in _ON_L3 and not x.done]


def _order(symbol: str, probe: Probe, price: int, view: str) -> SimOrder:
    command = SubmitOrder(
        ts_event=probe.ts,
        ts_init=probe.ts,
        strategy_id="calibrate",
        client_order_id=f"probe-{probe.probe_id}-{view}",
        symbol=symbol,
        side=probe.side,
        order_type=OrderType.LIMIT,
        quantity=probe.size,
        price=price,
        time_in_force=TimeInForce.GTC,
    )
    return SimOrder.of(command, f"v-{probe.probe_id}-{view}")


def _place(
    probe: Probe, symbol: str, truth: BookKeeper, l2: BookKeeper, models: list[QueueModel], horizon_ns: int
) -> _Probe:
    book = truth.book(symbol)
    levels = book.levels(probe.side, probe.level) if book is not None else []
    if len(levels) < probe.level or l2.book(symbol) is None:
        return _Probe(probe, NO_PRICE, probe.ts)
    price = levels[probe.level - 1][0]
    out = _Probe(probe, price, probe.ts + horizon_ns)
    # the model is not used on the L3 book: ``queue_for`` gives the exact queue there
    views: list[tuple[str, BookKeeper, QueueModel]] = [(n, truth, QueueModel.PROPORTIONAL) for n in _ON_L3]
    views += [(m.value, l2, m) for m in models]
    for name, keeper, model in views:
        placed = _Placed(keeper, model, _order(symbol, probe, price, name))
        placed.place(probe.ts)
        out.placed[name] = placed
    out.ahead = out.placed[TRUTH].order.ahead
    return out


def _outcome(p: _Probe, symbol: str) -> ProbeOutcome:
    fill_ns = {
        name: None if placed.filled_at is None else placed.filled_at - p.probe.ts for name, placed in p.placed.items()
    }
    return ProbeOutcome(
        symbol=symbol, probe=p.probe, price=p.outcome_price, ahead=p.ahead, fill_ns=fill_ns, seen_whole=p.seen_whole
    )
