"""In a backtest the portfolio values positions at the local book's mid (not at every quote it no longer hears)."""

from __future__ import annotations

from fractions import Fraction

from tapeflow.model import Side

from .scenario import MS, SYM, T0, delta, px, run, snapshot


def test_positions_are_marked_at_the_book_mid() -> None:
    tape = [
        snapshot(T0, bids=[("99.99", 500)], asks=[("100.01", 300)]),
        delta(T0 + 5 * MS, Side.BUY, "100.00", 400),  # the bid improves: the mid moves to 100.005
    ]
    bt, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100)})
    assert [(f.price, f.quantity) for f in s.fills] == [(px("100.01"), 100)]
    position = bt.portfolio.position(SYM)
    assert position.mark == Fraction(px("100.00") + px("100.01"), 2)
    assert position.unrealized == 100 * (px("100.005") - px("100.01"))
