"""The compiled open-order ledger (``risk/_ledger_core.pyx``) against its Python reference (``OpenOrderLedger``):
the same operations leave the same entries, side totals and counts, and ``impl`` (or the environment) chooses."""

from __future__ import annotations

import dis
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.model import ConfigError, Side
from tapeflow.risk import RiskContext
from tapeflow.risk.ledger import COMPILED_AVAILABLE, OpenOrderLedger, open_order_ledger
from tests.risk.helpers import ledger_state

needs_core = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="the compiled ledger was not built")

operation = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(["s", "t"]),
        st.integers(0, 6),  # client order id: a reused one replaces its entry
        st.sampled_from(["AAPL", "MSFT"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(0, 5_000),
        st.one_of(st.integers(1, 2_000_000), st.just(10**30)),  # an amount beyond 64 bits stays exact
    ),
    st.tuples(st.just("remove"), st.integers(0, 8)),  # 7 and 8: never added
    st.tuples(st.just("side"), st.sampled_from(["AAPL", "MSFT", "SPY"]), st.sampled_from([Side.BUY, Side.SELL])),
)


@needs_core
@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=60))
def test_compiled_and_python_ledgers_agree(operations: list[tuple[Any, ...]]) -> None:
    ledgers = [open_order_ledger("compiled"), open_order_ledger("python")]
    for op in operations:
        for ledger in ledgers:
            if op[0] == "add":
                _, strategy, n, symbol, side, leaves, price = op
                ledger.add(strategy, f"o{n}", symbol, side, leaves, price)
            elif op[0] == "remove":
                ledger.remove(f"o{op[1]}")
            else:  # a side nobody traded yet is created empty
                ledger.side(op[1], op[2])
        compiled, python = ledgers
        assert ledger_state(compiled) == ledger_state(python)
        assert [f"o{n}" in compiled for n in range(9)] == [f"o{n}" in python for n in range(9)]


def test_impl_chooses_the_ledger_and_the_environment_forces_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(open_order_ledger("python")) is OpenOrderLedger
    compiled = COMPILED_AVAILABLE and not os.environ.get(PURE_PYTHON_ENV)
    assert (type(RiskContext().ledger) is not OpenOrderLedger) == compiled
    assert isinstance(RiskContext().ledger, OpenOrderLedger)
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert type(RiskContext().ledger) is OpenOrderLedger
    assert type(RiskContext(impl="python").ledger) is OpenOrderLedger
    if COMPILED_AVAILABLE:
        assert type(open_order_ledger("compiled")) is not OpenOrderLedger  # an explicit choice is kept
    with pytest.raises(ConfigError, match="impl must be"):
        open_order_ledger("fast")  # type: ignore[arg-type]


@needs_core
def test_the_compiled_ledger_updates_from_a_report_through_the_reference_method() -> None:
    """``update`` is the reference's, inherited: it reaches the compiled ``add`` and ``remove``."""

    class Working:
        def __init__(self, leaves: int, is_open: bool) -> None:
            self.price, self.leaves_quantity, self.is_open = 0, leaves, is_open

    for ledger in (open_order_ledger("compiled"), open_order_ledger("python")):
        ledger.add("s", "a", "AAPL", Side.BUY, 300, 1_000_000)
        ledger.update("a", Working(100, True))  # type: ignore[arg-type]
        assert (ledger.entry("a"), ledger.buy_notional, ledger.buys["AAPL"].shares) == (
            ("s", "AAPL", Side.BUY, 100, 1_000_000),
            100 * 1_000_000,
            100,
        )
        ledger.update("a", Working(0, False))  # type: ignore[arg-type]
        assert (len(ledger), ledger.buy_notional, ledger.by_strategy, ledger.buys["AAPL"].shares) == (0, 0, {"s": 0}, 0)


@needs_core
def test_the_fields_the_fast_check_reads_are_read_as_slots_and_cannot_be_deleted() -> None:
    """A side's ``shares`` and ``notional`` and the ledger's totals are member descriptors, which CPython
    specialises (``LOAD_ATTR_SLOT``) like a ``__slots__`` field, where it never specialises Cython's properties
    (round 12: six reads a pass); a member left empty would be a NULL the compiled methods add to, so deleting
    one is refused."""
    ledger = open_order_ledger("compiled")
    ledger.add("s", "a", "AAPL", Side.BUY, 300, 1_000_000)
    ledger.add("s", "b", "AAPL", Side.SELL, 100, 1_000_100)
    side = ledger.buys["AAPL"]

    def read() -> int:
        return ledger.buy_notional + ledger.sell_notional + side.shares + side.notional

    for _ in range(64):  # past the interpreter's warm-up, so it specialises each read
        assert read() == 300 * 1_000_000 + 100 * 1_000_100 + 300 + 300 * 1_000_000
    loads = [i.opname for i in dis.get_instructions(read, adaptive=True) if i.opname.startswith("LOAD_ATTR")]
    assert loads == ["LOAD_ATTR_SLOT"] * 4
    for owner, name in ((ledger, "buy_notional"), (ledger, "sell_notional"), (side, "shares"), (side, "notional")):
        with pytest.raises(AttributeError, match="cannot be deleted"):
            delattr(owner, name)
    ledger.remove("a")
    assert (ledger.buy_notional, side.shares, side.notional, ledger.sell_notional) == (0, 0, 0, 100 * 1_000_100)
