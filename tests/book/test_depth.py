"""Depth walk: exact VWAP and slippage, partial fills when depth runs out."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from tapeflow.book import L2Book, L3Book, execution_price
from tapeflow.model import Side, price_from_str


def _asks(book: L2Book) -> L2Book:
    for price, size in (("120.50", 200), ("120.55", 500), ("120.60", 300)):
        book.update(Side.SELL, price_from_str(price), size)
    return book


def test_worked_example_buy_1000_costs_120_555_with_slippage_0_055() -> None:
    est = execution_price(_asks(L2Book("X")), Side.BUY, 1000)
    assert est.average_price == Fraction("120.555")
    assert est.average_price_decimal == Decimal("120.555")
    assert str(est.average_price_decimal) == "120.555"
    assert est.slippage_decimal == Decimal("0.055")
    assert (est.filled, est.unfilled, est.best_price, est.worst_price) == (1000, 0, 1_205_000, 1_206_000)
    assert [(f.price, f.quantity) for f in est.fills] == [(1_205_000, 200), (1_205_500, 500), (1_206_000, 300)]


def test_walk_stops_when_depth_runs_out_and_reports_the_rest_unfilled() -> None:
    est = execution_price(_asks(L2Book("X")), Side.BUY, 1500)
    assert (est.filled, est.unfilled) == (1000, 500)
    assert est.average_price_decimal == Decimal("120.555")


def test_sell_walks_the_bids_and_slippage_is_positive_below_the_best() -> None:
    book = L3Book("X")
    book.add(1, Side.BUY, price_from_str("10.00"), 1)
    book.add(2, Side.BUY, price_from_str("9.99"), 2)
    est = execution_price(book, Side.SELL, 3)
    assert est.average_price == Fraction(2998, 300)
    assert est.slippage == Fraction(2, 300)
    assert est.average_price_decimal is not None and str(est.average_price_decimal).startswith("9.99333333")


def test_empty_side_fills_nothing() -> None:
    est = execution_price(L2Book("X"), Side.BUY, 10)
    assert (est.filled, est.unfilled, est.average_price, est.slippage) == (0, 10, None, None)
    with pytest.raises(ValueError, match="quantity must be positive"):
        execution_price(L2Book("X"), Side.BUY, 0)
