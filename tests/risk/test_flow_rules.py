"""The flow rules' own pieces, apart from the pipeline (their limits are ``test_account_flow.py``'s subject)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model import OrderType, Side
from tapeflow.risk.config import RiskConfig
from tapeflow.risk.flow_rules import DuplicateOrder
from tests.risk.helpers import MS, Rig


@settings(max_examples=100, deadline=None)
@given(
    side=st.sampled_from(list(Side)),
    order_type=st.sampled_from(list(OrderType)),
    quantity=st.integers(1, 10_000),
    price=st.integers(0, 2_000_000),
    strategy=st.sampled_from(["s", "t"]),
)
def test_the_fast_check_records_the_duplicate_key_the_rule_looks_up(
    side: Side, order_type: OrderType, quantity: int, price: int, strategy: str
) -> None:
    """The fast check writes the key out over its shared values instead of calling ``_key``: a pass must record
    exactly the key the rule (and a later fast check) looks up, or a duplicate would slip through."""
    rig = Rig(RiskConfig())
    rule = DuplicateOrder(rig.ctx, 100 * MS)
    rig.engine.rules, rig.engine.trips = [rule], []
    rig.engine.recompile()
    command = rig.submit(quantity, price, side, order_type=order_type, strategy=strategy)
    assert rig.passed(command)
    assert rule.check(command) is not None, "the rule sees the order it just passed as a duplicate"
    assert not rig.passed(rig.submit(quantity, price, side, order_type=order_type, strategy=strategy))
