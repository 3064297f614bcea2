"""Self-trade prevention: each mode, on a buy that would trade with another strategy's resting sell."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.compliance import SqliteAuditStore, StpMode, decode_row
from tapeflow.model import OrderCancelled, OrderUpdated, RiskRejected
from tapeflow.model.compliance_events import SelfTradePrevented
from tests.backtest.scenario import MS, SYM, T0, px
from tests.compliance.trails import book_tape, run_trail


def _run(
    tmp_path: Path, mode: StpMode | None, buy: int = 60
) -> tuple[dict[str, list[str]], list[SelfTradePrevented], object]:
    actions = {
        "maker": {T0 + 1 * MS: lambda s: s.sell(SYM, 100, px("100.01"), reason="quote")},
        "taker": {T0 + 2 * MS: lambda s: s.buy(SYM, buy, px("100.01"), reason="take")},
    }
    tape = [book_tape()[0], book_tape()[-1]]  # no prints: only our own orders could trade
    bt, strategies = run_trail(tmp_path / "stp.db", actions, tape=tape, stp=mode)
    events = [
        ev
        for ev, _ in (decode_row(r) for r in SqliteAuditStore(tmp_path / "stp.db", readonly=True).rows())
        if isinstance(ev, SelfTradePrevented)
    ]
    kinds = {sid: [k for k in s.kinds() if k != "OrderExpired"] for sid, s in strategies.items()}
    return kinds, events, (bt, strategies)


def test_without_stp_both_orders_reach_the_venue(tmp_path: Path) -> None:
    kinds, events, _ = _run(tmp_path, None)
    assert kinds["maker"][0] == "OrderAccepted" and kinds["taker"][0] == "OrderAccepted"
    assert events == []


def test_cancel_newest_refuses_the_incoming_order(tmp_path: Path) -> None:
    kinds, events, (_, strategies) = _run(tmp_path, StpMode.CANCEL_NEWEST)
    assert kinds == {"maker": ["OrderAccepted"], "taker": ["RiskRejected"]}
    rejected = strategies["taker"].reports[0]
    assert isinstance(rejected, RiskRejected) and rejected.rule == "self_trade_prevention"
    (ev,) = events
    assert (ev.action, ev.resting_order_id, ev.incoming_quantity_after, ev.resting_quantity_after) == (
        "cancel incoming",
        "maker-1",
        0,
        100,
    )
    assert "would trade with our resting SELL maker-1" in ev.reason


def test_cancel_oldest_cancels_the_resting_order_and_sends_the_new_one(tmp_path: Path) -> None:
    kinds, events, _ = _run(tmp_path, StpMode.CANCEL_OLDEST)
    assert kinds == {"maker": ["OrderAccepted", "OrderCancelled"], "taker": ["OrderAccepted"]}
    (ev,) = events
    assert (ev.action, ev.incoming_quantity_after, ev.resting_quantity_after) == ("cancel resting", 60, 0)


def test_cancel_both(tmp_path: Path) -> None:
    kinds, events, _ = _run(tmp_path, StpMode.CANCEL_BOTH)
    assert kinds == {"maker": ["OrderAccepted", "OrderCancelled"], "taker": ["RiskRejected"]}
    (ev,) = events
    assert (ev.action, ev.incoming_quantity_after, ev.resting_quantity_after) == ("cancel both", 0, 0)


def test_decrement_smaller_incoming_reduces_the_resting_order(tmp_path: Path) -> None:
    kinds, events, (_, strategies) = _run(tmp_path, StpMode.DECREMENT, buy=60)
    assert kinds == {"maker": ["OrderAccepted", "OrderUpdated"], "taker": ["RiskRejected"]}
    updated = strategies["maker"].reports[1]
    assert isinstance(updated, OrderUpdated) and updated.quantity == 40 and not updated.priority_lost
    (ev,) = events
    assert (ev.incoming_quantity_before, ev.incoming_quantity_after, ev.resting_quantity_after) == (60, 0, 40)


@pytest.mark.parametrize(("buy", "after"), [(150, 50), (100, 0)])
def test_decrement_larger_or_equal_incoming_cancels_the_resting_order(tmp_path: Path, buy: int, after: int) -> None:
    kinds, events, (bt, strategies) = _run(tmp_path, StpMode.DECREMENT, buy=buy)
    assert kinds["maker"] == ["OrderAccepted", "OrderCancelled"]
    cancelled = strategies["maker"].reports[1]
    assert isinstance(cancelled, OrderCancelled) and cancelled.cancelled_quantity == 100
    (ev,) = events
    assert (ev.incoming_quantity_after, ev.resting_quantity_after) == (after, 0)
    if after:
        assert kinds["taker"] == ["OrderAccepted"]
        assert bt.execution.order("taker-1").quantity == after  # type: ignore[attr-defined,union-attr]
    else:
        assert kinds["taker"] == ["RiskRejected"]
