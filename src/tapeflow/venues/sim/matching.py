"""Matching our orders against the replayed market: the depth walk, consumed liquidity, resting, prints, stops.

A marketable order walks the visible depth on the other side (``book.levels``), best price first, up to its
limit, at each level's price (TAKER). What it takes stays *consumed*: later orders see the level smaller, also
after the replayed feed changes that level, as long as the level shows that many shares (``depth.py``). A
remainder rests at its limit, where the queue model (``queue.py``) keeps its place, and fills (MAKER, at its own
price) when the market trades at its price with the queue ahead used up, trades through its price, or shows new
contra liquidity crossing it. Stops trigger on prints.

Per-symbol state is created only for symbols we sent orders for (or saw a status for), so market events of every
other symbol cost one dictionary miss. Fills and cancels go back to the exchange, which books fees and reports.
"""

from __future__ import annotations

from tapeflow.book.keeper import AnyBook, BookKeeper
from tapeflow.book.quote_book import QuoteBook
from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.market import Trade
from tapeflow.venues.sim.bar_fills import BarFills, CancelFn, FillFn
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import Fill, QueuePosition


class SymbolState:
    __slots__ = ("consumed", "consumed_at", "halted", "resting", "stops", "traded")

    def __init__(self) -> None:
        self.resting: dict[Side, dict[int, list[SimOrder]]] = {Side.BUY: {}, Side.SELL: {}}
        """Our resting orders by side and price, each level oldest first (the ``own`` of the queue protocol)."""
        self.stops: list[SimOrder] = []
        self.consumed: dict[tuple[Side, int], int] = {}
        """Shares our orders took from a market level (L2/L3: at most what the feed shows there; L1: until the next
        quote)."""
        self.traded: dict[tuple[Side, int], int] = {}
        """L1/L2: shares printed at a level since its last delta (a decrease they explain is not a cancellation)."""
        self.halted = False
        self.consumed_at = 0
        """L1: the quote (``QuoteBook.version``) that ``consumed`` refers to."""

    def own(self, side: Side, price: int) -> list[SimOrder] | None:
        return self.resting[side].get(price)


class Matcher:
    """Our orders' life in the book: see the module docstring."""

    __slots__ = ("_bars", "_books", "_cancel", "_fill", "_prints_move_queues", "queue", "states")

    def __init__(self, books: BookKeeper, queue: QueuePosition, fill: FillFn, cancel: CancelFn, bars: BarFills) -> None:
        self._books = books
        self.queue = queue
        self._fill = fill
        self._cancel = cancel
        self._bars = bars
        self._prints_move_queues = books.level != "L3"  # an L3 tape's executions move queues; its prints repeat them
        self.states: dict[str, SymbolState] = {}

    def state(self, symbol: str) -> SymbolState:
        st = self.states.get(symbol)
        if st is None:
            st = self.states[symbol] = SymbolState()
        return st

    # -- incoming orders ----------------------------------------------------------------------------------------

    def incoming(self, order: SimOrder, st: SymbolState, at: int, action: OrderAction) -> None:
        """Walk the other side's visible depth up to the limit; the rest rests, or is cancelled (IOC/FOK/market)."""
        book = self._books.book(order.symbol)
        if book is None and self._bars.park(order):
            return  # bar data: no depth to walk; the next bar decides
        if isinstance(book, QuoteBook) and st.consumed_at != book.version:
            st.consumed.clear()  # L1: a newer quote refreshed the top level; what we took is no longer taken
            st.consumed_at = book.version
        market = order.order_type in (OrderType.MARKET, OrderType.STOP)
        opp = order.side.opposite
        levels = book.levels(opp) if book is not None else []
        crossing = [(p, s - st.consumed.get((opp, p), 0)) for p, s in levels if market or order.crosses(p)]
        if order.time_in_force is TimeInForce.FOK:
            available = sum(max(0, s) for _, s in crossing)
            if available < order.remaining:
                self._cancel(order, at, action, f"FOK: only {available} of {order.remaining} shares available")
                return
        for price, available in crossing:
            if available <= 0:
                continue
            take = min(available, order.remaining)
            st.consumed[(opp, price)] = st.consumed.get((opp, price), 0) + take
            self._fill(order, price, take, LiquiditySide.TAKER, at, action)
            if order.remaining == 0:
                return
        if market or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            why = "no more liquidity for a market order" if market else "IOC remainder"
            self._cancel(order, at, action, why)
            return
        self._rest(order, st, book)

    def _rest(self, order: SimOrder, st: SymbolState, book: AnyBook | None) -> None:
        order.resting = True
        self.queue.on_new_order(order, book.size_at(order.side, order.price) if book is not None else 0)
        order.ahead_at_arrival = order.ahead if book is not None else -1  # no book, no queue to know
        st.resting[order.side].setdefault(order.price, []).append(order)

    def unrest(self, order: SimOrder, st: SymbolState) -> None:
        level = st.resting[order.side].get(order.price)
        if level is not None and order in level:
            level.remove(order)
            if not level:
                del st.resting[order.side][order.price]
        order.resting = False

    def remove(self, order: SimOrder) -> bool:
        """Take a closing order out of the book or the stops; False if it was in neither."""
        st = self.states.get(order.symbol)
        if st is None:
            return False
        if order.resting:
            self.unrest(order, st)
            return True
        if order in st.stops:
            st.stops.remove(order)
            return True
        return False

    # -- fills of resting orders --------------------------------------------------------------------------------

    def fill_queue(self, own: list[SimOrder], budget: int, at: int) -> int:
        """``budget`` shares reached our orders at one level (FIFO among them); returns what is left."""
        for order in list(own):
            if budget <= 0:
                break
            take = min(order.remaining, budget)
            budget -= take
            self._fill(order, order.price, take, LiquiditySide.MAKER, at, OrderAction.INSERT)
        return budget

    def fill_reached(self, fills: list[Fill], at: int) -> None:
        """The filled amounts the queue model gave for a trade at our price: MAKER fills at each order's price."""
        for order, take in fills:
            self._fill(order, order.price, take, LiquiditySide.MAKER, at, OrderAction.INSERT)

    def on_trade(self, trade: Trade) -> None:
        """A print: stops may trigger; resting orders it traded through or reached in the queue fill."""
        st = self.states.get(trade.symbol)
        if st is None:
            return
        at = trade.ts_event
        if st.stops:
            self._trigger_stops(st, trade.price, at)
        passive = Side.SELL if trade.aggressor.value == "BUY" else Side.BUY if trade.aggressor.value == "SELL" else None
        if passive is None:
            return
        prints_move_queues = self._prints_move_queues
        if prints_move_queues:
            key = (passive, trade.price)
            st.traded[key] = st.traded.get(key, 0) + trade.size
        resting = st.resting[passive]
        if not resting:
            return
        budget = trade.size
        # best own price first: a buy print at p reaches our sells below p before anyone at p
        for price in sorted(resting, reverse=passive is Side.BUY):
            own = resting.get(price)
            if not own or budget <= 0:
                continue
            better = price < trade.price if passive is Side.SELL else price > trade.price
            if better:
                budget = self.fill_queue(own, budget, at)
            elif price == trade.price:
                if prints_move_queues:
                    self.fill_reached(self.queue.on_trade(own, budget), at)
                elif "hidden" in trade.conditions:
                    # an L3 tape's hidden execution at our price: displayed orders trade before hidden ones, so the
                    # taker met those of ours with nothing displayed ahead first; the visible queue is not touched
                    self.fill_queue([o for o in own if o.ahead == 0], budget, at)
                break  # our worse prices are behind this one: the print cannot reach them

    def _trigger_stops(self, st: SymbolState, price: int, at: int) -> None:
        fired = [o for o in st.stops if (price >= o.stop_price if o.side is Side.BUY else price <= o.stop_price)]
        for order in fired:
            st.stops.remove(order)
            order.order_type = OrderType.MARKET if order.order_type is OrderType.STOP else OrderType.LIMIT
            self.incoming(order, st, at, OrderAction.INSERT)

    def cross(self, st: SymbolState, market_side: Side, price: int, size: int, at: int) -> None:
        """``size`` shares of contra liquidity newly appeared at a price our resting orders cross: they would have
        traded first. Only new shares: offering a level's shares again fills our orders twice from them."""
        mine = st.resting[market_side.opposite]
        if not mine:
            return
        if (market_side is Side.SELL and max(mine) < price) or (market_side is Side.BUY and min(mine) > price):
            return  # the common case: our orders are not crossed
        budget = size
        for own_price in sorted(mine, reverse=market_side is Side.SELL):
            crosses = own_price >= price if market_side is Side.SELL else own_price <= price
            if not crosses or budget <= 0:
                break
            before = budget
            budget = self.fill_queue(mine[own_price], budget, at)
            key = (market_side, price)
            st.consumed[key] = st.consumed.get(key, 0) + before - budget
