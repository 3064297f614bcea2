"""One order-entry session: the simulated exchange takes commands in the order they were sent, whatever each
action's entry delay, as one TCP session to a venue does. The presets give cancels a shorter entry delay than
inserts, so without this a cancel sent right after its insert overtook it and was refused as an unknown order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.keeper import BookKeeper
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.events import Event
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    SubmitOrder,
)
from tapeflow.venues.sim.exchange import SimulatedExchange
from tapeflow.venues.sim.latency import FixedLatency, JitterLatency

SYM = "AAPL"
FAST_CANCEL = FixedLatency(
    feed_ns=10,
    insert_entry_ns=5_000,
    modify_entry_ns=5_000,
    cancel_entry_ns=1_000,
    insert_response_ns=10,
    modify_response_ns=10,
    cancel_response_ns=10,
)


def _submit(cid: str, ts: int) -> SubmitOrder:
    return SubmitOrder(
        ts_event=ts,
        ts_init=ts,
        strategy_id="s",
        client_order_id=cid,
        symbol=SYM,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=1_000_000,
        time_in_force=TimeInForce.GTC,
    )


def _cancel(cid: str, ts: int) -> CancelOrder:
    return CancelOrder(ts_event=ts, ts_init=ts, strategy_id="s", client_order_id=cid, symbol=SYM)


def _run(exchange: SimulatedExchange, commands: list[SubmitOrder | CancelOrder]) -> list[Event]:
    kernel = Kernel()
    kernel.add(BookKeeper("L1"))
    kernel.add(exchange)
    answers: list[Event] = []
    for kind in (OrderAccepted, OrderRejected, OrderCancelled, CancelRejected):
        kernel.subscribe(kind, answers.append)
    kernel.start(at=0)
    for command in commands:
        kernel.advance(command.ts_init)
        exchange.send(command)
    kernel.finish(until=10**9)
    return answers


def test_a_cancel_with_a_shorter_entry_delay_does_not_overtake_its_insert() -> None:
    answers = _run(SimulatedExchange(BookKeeper("L1"), FAST_CANCEL), [_submit("a", 100), _cancel("a", 200)])
    assert [type(a) for a in answers] == [OrderAccepted, OrderCancelled]
    accepted, cancelled = answers
    assert accepted.ts_event == 5_100  # the insert's own entry delay
    assert cancelled.ts_event == 5_100  # queued behind the insert, not at 200 + 1_000


@settings(max_examples=50, deadline=None)
@given(jitter=st.integers(0, 20_000), seed=st.integers(0, 2**32 - 1), gaps=st.lists(st.integers(0, 3_000), max_size=8))
def test_commands_reach_the_exchange_in_the_order_they_were_sent(jitter: int, seed: int, gaps: list[int]) -> None:
    latency = JitterLatency(FAST_CANCEL, jitter_ns=jitter, seed=seed)
    commands: list[SubmitOrder | CancelOrder] = []
    ts = 100
    for i, gap in enumerate(gaps):
        commands += [_submit(f"o{i}", ts), _cancel(f"o{i}", ts + gap)]
        ts += gap
    answers = _run(SimulatedExchange(BookKeeper("L1"), latency), commands)
    assert not [a for a in answers if isinstance(a, CancelRejected)]
    assert [a.client_order_id for a in answers if isinstance(a, OrderAccepted)] == [f"o{i}" for i in range(len(gaps))]
    arrivals = [a.ts_event for a in answers]
    assert arrivals == sorted(arrivals)
