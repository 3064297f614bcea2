"""The L2 view of an L3 tape: after every message the L2 book shows exactly the L3 book's levels, and an
execution is a print at the resting order's price, from the opposite side, before its level's delta."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.calibration.l2view import L2View
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import Aggressor, BookAction, Side
from tapeflow.model.events import Event
from tapeflow.model.market import BookLevel, OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced


def _feed(events: list[Event]) -> tuple[L3Book, L2Book, list[Event]]:
    l3, l2, view = L3Book("T"), L2Book("T"), L2View("T")
    out: list[Event] = []
    for event in events:
        touched, trade = view.before(event, l3)
        l3.apply(event)
        if trade is not None:
            out.append(trade)
        for delta in view.after(event, touched, l3, l2):
            l2.apply(delta)
            out.append(delta)
        for side in (Side.BUY, Side.SELL):
            assert l2.levels(side) == l3.levels(side), event
    return l3, l2, out


def test_an_execution_is_a_print_at_the_order_price_from_the_other_side_then_the_level_delta() -> None:
    add = OrderAdded(ts_event=1, ts_init=1, symbol="T", order_id=1, side=Side.BUY, price=100, size=300)
    hit = OrderExecuted(ts_event=2, ts_init=2, symbol="T", order_id=1, size=100)
    _, _, out = _feed([add, hit])
    delta_add, trade, delta_hit = out
    assert (delta_add.action, delta_add.size) == (BookAction.ADD, 300)  # type: ignore[attr-defined]
    assert (trade.price, trade.size, trade.aggressor) == (100, 100, Aggressor.SELL)  # type: ignore[attr-defined]
    assert (delta_hit.action, delta_hit.size) == (BookAction.UPDATE, 200)  # type: ignore[attr-defined]


def test_a_message_that_changes_no_size_shows_nothing_and_a_reveal_shows_its_levels() -> None:
    add = OrderAdded(ts_event=1, ts_init=1, symbol="T", order_id=1, side=Side.SELL, price=200, size=50)
    unknown = OrderDeleted(ts_event=2, ts_init=2, symbol="T", order_id=99)
    reveal = DepthRevealed(
        ts_event=3, ts_init=3, symbol="T", side=Side.SELL, after_price=200, levels=(BookLevel(300, 70),)
    )
    _, l2, out = _feed([add, unknown, reveal])
    assert len(out) == 2
    assert l2.levels(Side.SELL) == [(200, 50), (300, 70)]


_OP = st.tuples(st.sampled_from(["add", "exec", "reduce", "delete", "replace"]), st.integers(0, 7), st.integers(1, 4))


@settings(max_examples=150, deadline=None)
@given(st.lists(_OP, max_size=60))
def test_the_l2_book_equals_the_l3_levels_after_every_message_of_any_tape(ops: list[tuple[str, int, int]]) -> None:
    """Random adds, executions, reductions, deletions and replacements over a few ids and prices."""
    events: list[Event] = []
    live: set[int] = set()
    next_id = 100
    for t, (op, key, amount) in enumerate(ops, start=1):
        side = Side.BUY if key % 2 else Side.SELL
        price = (1_000 if side is Side.BUY else 1_100) - 10 * (key // 2) * (1 if side is Side.BUY else -1)
        target = sorted(live)[key % len(live)] if live else None
        if op == "add" or target is None:
            events.append(OrderAdded(ts_event=t, ts_init=t, symbol="T", order_id=next_id, side=side, price=price,
                                     size=100 * amount))  # fmt: skip
            live.add(next_id)
            next_id += 1
        elif op == "exec":
            events.append(OrderExecuted(ts_event=t, ts_init=t, symbol="T", order_id=target, size=30 * amount))
        elif op == "reduce":
            events.append(OrderReduced(ts_event=t, ts_init=t, symbol="T", order_id=target, size=20 * amount))
        elif op == "delete":
            events.append(OrderDeleted(ts_event=t, ts_init=t, symbol="T", order_id=target))
            live.discard(target)
        else:
            events.append(OrderReplaced(ts_event=t, ts_init=t, symbol="T", order_id=target, new_order_id=next_id,
                                        price=price + 10, size=100))  # fmt: skip
            live.discard(target)
            live.add(next_id)
            next_id += 1
    _feed(events)
