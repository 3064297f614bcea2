"""Instruments and the SEC Rule 612 (sub-penny) tick rule.

Rule 612 forbids quoting a US NMS stock in increments below $0.01 when the price is $1.00 or more, and allows
$0.0001 below $1.00. Trades may print at sub-penny prices (midpoint executions), so the rule applies to orders and
quotes, not to trade reports: ``is_valid_price`` is for what we send and what we rest.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tapeflow.model.prices import PRICE_SCALE, price_to_str


class TickRule(msgspec.Struct, frozen=True, kw_only=True):
    """A two-regime tick table: ``tick_above`` at or above ``threshold``, ``tick_below`` under it (price units)."""

    threshold: Annotated[int, msgspec.Meta(ge=0)] = PRICE_SCALE
    tick_above: Annotated[int, msgspec.Meta(gt=0)] = 100
    tick_below: Annotated[int, msgspec.Meta(gt=0)] = 1

    def tick_size(self, price: int) -> int:
        return self.tick_above if price >= self.threshold else self.tick_below

    def is_valid(self, price: int) -> bool:
        """True when ``price`` is positive and on the grid for its regime."""
        return price > 0 and price % self.tick_size(price) == 0

    def round_down(self, price: int) -> int:
        tick = self.tick_size(price)
        return price - price % tick

    def round_up(self, price: int) -> int:
        tick = self.tick_size(price)
        rem = price % tick
        return price if rem == 0 else price + tick - rem


RULE_612 = TickRule()
"""$0.01 at or above $1.00, $0.0001 below: the rule for US NMS stocks."""


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A tradable US equity as tapeflow needs to know it."""

    symbol: str
    venue: str = "XNAS"
    """Listing venue (MIC), e.g. XNAS, XNYS, ARCX."""
    lot_size: Annotated[int, msgspec.Meta(gt=0)] = 100
    """Round lot in shares; orders of fewer shares are odd lots."""
    tick_rule: TickRule = RULE_612

    def is_valid_price(self, price: int) -> bool:
        return self.tick_rule.is_valid(price)

    def check_price(self, price: int) -> str | None:
        """None when ``price`` is valid, else a sentence saying why not (for rejections and error messages)."""
        if price <= 0:
            return f"price {price} is not positive"
        tick = self.tick_rule.tick_size(price)
        if price % tick:
            return (
                f"price {price_to_str(price)} is not a multiple of the {price_to_str(tick)} tick "
                f"that Rule 612 requires for {self.symbol} at that price"
            )
        return None
