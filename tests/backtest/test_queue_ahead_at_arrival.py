"""``OrderFilled.queue_ahead_at_arrival``: the simulated exchange reports the shares that stood ahead of an order
when it joined its level (hand-built L3 tapes with a known queue), -1 where there was no queue (a taker fill), and
the column carries it into fills.parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.model import LiquiditySide, Side
from tapeflow.model.market import BookSnapshot

from .scenario import SYM, T0, px
from .test_sim_exchange_l3 import Tape, _buy, _run, _run_actions


def _queue_tape() -> tuple[Tape, int]:
    """300 shares (orders 1 and 2) rest at the level before ours arrives; then 100 (order 3) join behind us, 1 and
    2 leave (an execution and a delete), and order 3 trades: the incoming sell took us first."""
    tape = Tape()
    tape.add(1, 100)
    tape.add(2, 200)
    arrival = tape.now()
    tape.add(3, 100)
    tape.execute(1, 100)
    tape.delete(2)
    tape.execute(3, 60)
    return tape, arrival


def test_l3_maker_fill_reports_the_shares_ahead_when_the_order_joined_the_level() -> None:
    tape, arrival = _queue_tape()
    bt, _ = _run(tape, {arrival: 50})
    fills = bt.results.fills
    assert [(f.quantity, f.liquidity_side) for f in fills] == [(50, LiquiditySide.MAKER)]
    assert fills[0].queue_ahead_at_arrival == 300  # orders 1 and 2; not order 3, behind us, nor what left later


def test_l3_second_order_at_the_level_counts_the_market_shares_ahead_not_our_own() -> None:
    """Market shares: our earlier order is ahead too but is virtual (never on the tape), as in the derived estimate."""
    tape = Tape()
    tape.add(1, 100)
    first = tape.now()
    tape.add(2, 40)
    second = tape.now()
    tape.add(3, 500)
    tape.execute(3, 500)  # behind both of ours: the sell went through the whole queue first
    bt, _ = _run(tape, {first: 30, second: 20})
    by_quantity = {f.quantity: f.queue_ahead_at_arrival for f in bt.results.fills}
    assert by_quantity == {30: 100, 20: 100 + 40}  # order 1's 100, then order 2's 40 (our 30 is not counted)


def test_taker_fill_has_no_queue_and_says_minus_one() -> None:
    tape = Tape()
    tape.add(9, 100, price=px("50.01"), side=Side.SELL)
    at = tape.now()
    start = BookSnapshot(ts_event=T0, ts_init=T0, symbol=SYM, bids=(), asks=())
    bt, _ = _run_actions(tape, {at: lambda s: s.buy(SYM, 10, px("50.01"))}, start)
    fills = bt.results.fills
    assert [(f.liquidity_side, f.queue_ahead_at_arrival) for f in fills] == [(LiquiditySide.TAKER, -1)]


def test_fills_parquet_has_the_queue_ahead_as_its_trailing_column(tmp_path: Path) -> None:
    tape, arrival = _queue_tape()
    bt, _ = _run(tape, {arrival: 50})
    bt.results.write_parquet(tmp_path)
    table = pq.read_table(tmp_path / "fills.parquet")
    assert table.column_names[-1] == "queue_ahead_at_arrival"
    assert table.column("queue_ahead_at_arrival").to_pylist() == [300]


def test_buy_helper_is_a_resting_gtc_order() -> None:
    """The cases above rely on the order resting (GTC at the bid level), not crossing."""
    tape, arrival = _queue_tape()
    bt, _ = _run_actions(tape, {arrival: _buy(1)})
    assert bt.results.fills[0].liquidity_side is LiquiditySide.MAKER
