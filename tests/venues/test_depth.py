"""What a change of the replayed book gives our orders: a contra level that changes offers a resting order only the
liquidity it did not offer before, and what our orders took stays taken when the feed changes that level.

Driven through the exchange's own ``Matcher`` and ``DepthChanges`` on a ``BookKeeper``, with the fills recorded by
the harness, so each test sees exactly what the depth observer offered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.keeper import BookKeeper
from tapeflow.model.enums import Aggressor, BookAction, LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.events import Event
from tapeflow.model.market import BookDelta, BookLevel, BookSnapshot, OrderAdded, OrderExecuted, Trade
from tapeflow.model.orders import SubmitOrder
from tapeflow.venues.sim.bar_fills import BarFills
from tapeflow.venues.sim.depth import DepthChanges
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.matching import Matcher
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import QueueModel, queue_for

SYM = "AAPL"
ASK = 1_000_100  # 100.01
BID_LIMIT = 1_000_200  # 100.02: a buy here crosses the ask at 100.01


class _NullBus:
    def subscribe(self, event_type: object, handler: object) -> None:
        return None

    def emit(self, event: Event) -> None:
        return None


class Venue:
    """One symbol's book and our orders in it; ``fills`` lists (client id, price, qty, liquidity side)."""

    def __init__(self, level: str = "L2") -> None:
        assert level in ("L2", "L3")
        self.keeper = BookKeeper("L3" if level == "L3" else "L2")
        self.keeper.attach(_NullBus())
        queue = queue_for(self.keeper.level, QueueModel.BACK)
        self.matcher = Matcher(self.keeper, queue, self._fill, self._cancel, BarFills(self._fill, self._cancel))
        self.keeper.observe_before(DepthChanges(self.matcher).before_book)
        self.fills: list[tuple[str, int, int, LiquiditySide]] = []
        self.ts = 1
        self._ids = 0

    def _fill(self, order: SimOrder, price: int, qty: int, side: LiquiditySide, at: int, action: OrderAction) -> None:
        assert qty > 0
        order.filled += qty
        self.fills.append((order.client_order_id, price, qty, side))
        if order.remaining <= 0:
            self.matcher.remove(order)

    def _cancel(self, order: SimOrder, at: int, action: OrderAction, why: str) -> None:
        return None

    def feed(self, event: Event) -> None:
        self.keeper.on_event(event)

    def _next(self) -> int:
        self.ts += 1
        return self.ts

    def ask(self, size: int, price: int = ASK) -> None:
        ts = self._next()
        action = BookAction.DELETE if size == 0 else BookAction.UPDATE
        self.feed(BookDelta(ts_event=ts, ts_init=ts, symbol=SYM, action=action, side=Side.SELL, price=price, size=size))

    def buy(self, quantity: int, price: int, tif: TimeInForce = TimeInForce.GTC) -> SimOrder:
        self._ids += 1
        ts = self._next()
        command = SubmitOrder(
            ts_event=ts,
            ts_init=ts,
            strategy_id="s",
            client_order_id=f"s-{self._ids}",
            symbol=SYM,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=quantity,
            price=price,
            time_in_force=tif,
        )
        order = SimOrder.of(command, f"v-{self._ids}")
        self.matcher.incoming(order, self.matcher.state(SYM), ts, OrderAction.INSERT)
        return order

    def filled(self, cid: str) -> list[int]:
        return [q for c, _, q, _ in self.fills if c == cid]


def _l2_venue() -> Venue:
    venue = Venue()
    venue.feed(
        BookSnapshot(
            ts_event=1, ts_init=1, symbol=SYM, bids=(BookLevel(999_800, 100),), asks=(BookLevel(1_000_500, 100),)
        )
    )
    return venue


def test_a_contra_level_updated_at_a_resting_orders_price_fills_only_what_each_update_newly_offers() -> None:
    venue = _l2_venue()
    venue.buy(1_000, BID_LIMIT)  # rests: nothing offered at or below 100.02 yet
    venue.ask(300)  # a seller joins at 100.01: 300 newly offered
    venue.ask(350)  # grows by 50
    venue.ask(200)  # shrinks: nothing new
    venue.ask(260)  # grows by 60
    venue.ask(260)  # merely updated: nothing new
    venue.ask(0)  # gone
    venue.ask(40)  # back with 40
    assert venue.filled("s-1") == [300, 50, 60, 40]
    assert all(side is LiquiditySide.MAKER and price == BID_LIMIT for _, price, _, side in venue.fills)


def test_a_crossing_level_never_fills_a_resting_order_beyond_what_the_level_ever_held_new() -> None:
    """The order is larger than all that was ever offered: the fills add up to the growth, not to the sizes shown."""
    venue = _l2_venue()
    venue.buy(10_000, BID_LIMIT)
    for size in (100, 105, 105, 110, 50, 120):
        venue.ask(size)
    assert sum(venue.filled("s-1")) == 100 + 5 + 5 + 70


def test_liquidity_our_order_took_stays_taken_when_the_level_grows() -> None:
    venue = _l2_venue()
    venue.ask(300)
    venue.buy(200, ASK, TimeInForce.IOC)  # takes 200 of the 300
    venue.ask(350)  # 50 join: 100 + 50 are there for us, not 350
    venue.buy(500, ASK, TimeInForce.IOC)
    assert venue.filled("s-1") == [200]
    assert venue.filled("s-2") == [150]
    assert [side for *_, side in venue.fills] == [LiquiditySide.TAKER, LiquiditySide.TAKER]


def test_a_level_shrinking_below_what_we_took_bounds_what_stays_taken() -> None:
    """300 shown, 200 taken; the level shrinks to 150 (cancelled or traded by others: we cannot tell which shares),
    so at most 150 of ours can still be among them, and none are left for us; 30 join: those 30 are."""
    venue = _l2_venue()
    venue.ask(300)
    venue.buy(200, ASK, TimeInForce.IOC)
    venue.ask(150)
    venue.buy(100, ASK, TimeInForce.IOC)
    venue.ask(180)
    venue.buy(100, ASK, TimeInForce.IOC)
    assert [(c, q) for c, _, q, _ in venue.fills] == [("s-1", 200), ("s-3", 30)]


def test_a_deleted_level_forgets_what_we_took_there() -> None:
    venue = _l2_venue()
    venue.ask(300)
    venue.buy(300, ASK, TimeInForce.IOC)
    venue.ask(0)
    venue.ask(80)
    venue.buy(100, ASK, TimeInForce.IOC)
    assert [(c, q) for c, _, q, _ in venue.fills] == [("s-1", 300), ("s-2", 80)]


def test_a_resting_order_that_took_part_of_a_level_on_arrival_gets_only_the_growth_later() -> None:
    venue = _l2_venue()
    venue.ask(300)
    venue.buy(500, ASK)  # 300 at once (TAKER), 200 rest at 100.01
    venue.ask(300)  # re-sent, unchanged: nothing new
    venue.ask(340)
    assert [(q, side) for _, _, q, side in venue.fills] == [(300, LiquiditySide.TAKER), (40, LiquiditySide.MAKER)]


_op = st.one_of(
    st.tuples(st.just("ask"), st.integers(0, 400)),
    st.tuples(st.just("rest"), st.integers(1, 600)),
    st.tuples(st.just("ioc"), st.integers(1, 600)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_op, min_size=1, max_size=40))
def test_filled_against_a_level_never_exceeds_the_liquidity_newly_offered_there(ops: list[tuple[str, int]]) -> None:
    """Over any L2 stream at one contra price, with our resting and immediate orders in between: every share we
    got came from growth of that level (only its changes offer anything, each at most once)."""
    venue = _l2_venue()
    offered = 0
    shown = 0
    for kind, n in ops:
        if kind == "ask":
            offered += max(0, n - shown)
            shown = n
            venue.ask(n)
        else:
            venue.buy(n, BID_LIMIT if kind == "rest" else ASK, TimeInForce.GTC if kind == "rest" else TimeInForce.IOC)
        assert sum(q for _, _, q, _ in venue.fills) <= offered


# -- L3 -----------------------------------------------------------------------------------------------------------


def _l3_add(venue: Venue, order_id: int, size: int, price: int = ASK) -> None:
    ts = venue._next()
    venue.feed(
        OrderAdded(ts_event=ts, ts_init=ts, symbol=SYM, order_id=order_id, side=Side.SELL, price=price, size=size)
    )


def test_l3_an_order_joining_a_level_we_took_from_offers_only_its_own_shares() -> None:
    venue = Venue("L3")
    _l3_add(venue, 1, 300)
    venue.buy(300, ASK, TimeInForce.IOC)
    _l3_add(venue, 2, 100)
    venue.buy(500, ASK, TimeInForce.IOC)
    assert [(c, q) for c, _, q, _ in venue.fills] == [("s-1", 300), ("s-2", 100)]


def test_l3_an_execution_at_a_level_we_took_from_bounds_what_stays_taken() -> None:
    """200 of 300 taken; another trader's execution of 150 leaves 150 shown, at most 150 of them ours: none left."""
    venue = Venue("L3")
    _l3_add(venue, 1, 300)
    venue.buy(200, ASK, TimeInForce.IOC)
    ts = venue._next()
    venue.feed(OrderExecuted(ts_event=ts, ts_init=ts, symbol=SYM, order_id=1, size=150))
    venue.buy(100, ASK, TimeInForce.IOC)
    _l3_add(venue, 2, 25)
    venue.buy(100, ASK, TimeInForce.IOC)
    assert [(c, q) for c, _, q, _ in venue.fills] == [("s-1", 200), ("s-3", 25)]


BID = ASK - 100  # 100.00


def _l3_bid(venue: Venue, order_id: int, size: int) -> None:
    ts = venue._next()
    venue.feed(OrderAdded(ts_event=ts, ts_init=ts, symbol=SYM, order_id=order_id, side=Side.BUY, price=BID, size=size))


def _hidden_sell_print(venue: Venue, size: int) -> None:
    """A LOBSTER type-5 message: a seller met hidden buy liquidity at BID (the matcher hears prints directly)."""
    ts = venue._next()
    trade = Trade(
        ts_event=ts, ts_init=ts, symbol=SYM, price=BID, size=size, aggressor=Aggressor.SELL, conditions=("hidden",)
    )
    venue.matcher.on_trade(trade)


def test_l3_a_hidden_print_at_our_price_fills_our_order_when_nothing_displayed_is_ahead() -> None:
    """Displayed orders trade before hidden ones: a seller who met hidden liquidity at our bid met us first."""
    venue = Venue("L3")
    order = venue.buy(300, BID)  # the level is empty: nothing ahead of us
    assert order.ahead == 0
    _hidden_sell_print(venue, 200)
    _hidden_sell_print(venue, 500)
    assert [(c, p, q, side) for c, p, q, side in venue.fills] == [
        ("s-1", BID, 200, LiquiditySide.MAKER),
        ("s-1", BID, 100, LiquiditySide.MAKER),
    ]


def test_l3_a_hidden_print_does_not_reach_our_order_behind_displayed_shares_nor_move_the_queue() -> None:
    venue = Venue("L3")
    _l3_bid(venue, 1, 400)
    order = venue.buy(300, BID)  # 400 displayed shares ahead
    _hidden_sell_print(venue, 250)
    assert venue.fills == []
    assert order.ahead == 400  # the print traded hidden shares, not the displayed ones ahead of us


def test_l3_a_displayed_print_at_our_price_still_moves_nothing_the_executions_do_not() -> None:
    """A print without the hidden condition repeats an execution the tape already applied: it fills nothing."""
    venue = Venue("L3")
    order = venue.buy(300, BID)
    ts = venue._next()
    venue.matcher.on_trade(Trade(ts_event=ts, ts_init=ts, symbol=SYM, price=BID, size=100, aggressor=Aggressor.SELL))
    assert venue.fills == [] and order.ahead == 0
