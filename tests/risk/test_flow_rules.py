"""The flow rules' own pieces, apart from the pipeline (their limits are ``test_account_flow.py``'s subject)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tapeflow.model import OrderType, Side, SubmitOrder, TimeInForce
from tapeflow.risk.flow_rules import DuplicateOrder

orders = st.builds(
    SubmitOrder,
    ts_event=st.just(1),
    ts_init=st.just(1),
    strategy_id=st.sampled_from(["s", "t", ""]),
    client_order_id=st.text(max_size=4),
    symbol=st.sampled_from(["AAPL", "MSFT"]),
    side=st.sampled_from(list(Side)),
    order_type=st.sampled_from(list(OrderType)),
    quantity=st.integers(1, 10_000),
    price=st.integers(0, 2_000_000),
    stop_price=st.integers(0, 2_000_000),
    time_in_force=st.sampled_from(list(TimeInForce)),
)


def reference_key(c: SubmitOrder) -> tuple[object, ...]:
    """The duplicate key as a function built it before it became an ``attrgetter``."""
    return (c.strategy_id, c.symbol, c.side._value_, c.quantity, c.price, c.order_type._value_, c.stop_price)


@given(a=orders, b=orders)
def test_the_duplicate_key_is_the_reference_key_and_equal_exactly_when_it_is(a: SubmitOrder, b: SubmitOrder) -> None:
    assert DuplicateOrder._key(a) == reference_key(a)
    assert (DuplicateOrder._key(a) == DuplicateOrder._key(b)) is (reference_key(a) == reference_key(b))
