"""Fees of one fill: SEC Section 31, FINRA TAF, exchange access fee or maker rebate, broker commission.

The simulated exchange calls ``FeeModel.fill_fees`` once per fill and puts ``FeeBreakdown.total`` into
``OrderFilled.fee`` (int 1/10,000 dollar; negative when a rebate exceeds the charges). Each component is computed
exactly with ``Fraction`` and rounded once, in a stated direction, so the same fills give the same cents everywhere:

- SEC Section 31 and FINRA TAF (sells only) round *up to the cent* per fill by default, as brokers pass them
  through (``regulatory_rounding = "unit_up"`` rounds up to the 1/10,000 dollar unit instead);
- exchange fees and commissions round up to the 1/10,000 unit. ``ceil`` also shrinks a rebate toward zero, and
  commission caps round down, so every rounding errs against the strategy.

Rates that change are dated tables: the row in force is the last with ``effective <= trade_date``, and a date
before the first row is an error rather than a guess. The tables are ``fee_tables`` (re-exported here: the
structs of a row are part of ``FeesConfig``); sources and caveats for every row: docs/FEES.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, Protocol

import msgspec

from tapeflow.model.enums import LiquiditySide, Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.prices import PRICE_SCALE
from tapeflow.venues.sim.fee_tables import (
    DEFAULT_VENUE_FEES,
    FINRA_TAF,
    RULE_610_ACCESS_FEE_CAP,
    SEC_SECTION_31,
    AccessFeeCap,
    DatedRate,
    VenueFees,
    check_table,
    row_on,
)

_CENT: Final = PRICE_SCALE // 100

# --- rounding ---------------------------------------------------------------------------------------------------


def ceil_units(dollars: Fraction) -> int:
    """Dollars to int 1/10,000 dollar, rounded toward +infinity (a rebate shrinks toward zero)."""
    scaled = dollars * PRICE_SCALE
    return -((-scaled.numerator) // scaled.denominator)


def floor_units(dollars: Fraction) -> int:
    """Dollars to int 1/10,000 dollar, rounded toward -infinity (for caps: never charge above them)."""
    scaled = dollars * PRICE_SCALE
    return scaled.numerator // scaled.denominator


def ceil_cents(dollars: Fraction) -> int:
    """Dollars to int 1/10,000 dollar, rounded up to a whole cent."""
    scaled = dollars * 100
    return -((-scaled.numerator) // scaled.denominator) * _CENT


# --- commissions ------------------------------------------------------------------------------------------------


class CommissionModel(Protocol):
    """Broker commission of one fill, given what the order already paid (minimums apply per order)."""

    def commission(
        self, *, price: int, quantity: int, order_quantity_filled_before: int, order_commission_so_far: int
    ) -> int: ...


class ZeroCommission:
    """Retail "commission-free" brokers (paid through order flow instead; regulatory fees still apply)."""

    def commission(
        self, *, price: int, quantity: int, order_quantity_filled_before: int, order_commission_so_far: int
    ) -> int:
        return 0


class PerShareCommission(msgspec.Struct, frozen=True, kw_only=True):
    """Per share with a per-order minimum and maximum (Interactive Brokers "fixed" style).

    The order's commission after a fill is ``min(max(minimum, per_share x shares so far), caps)``; the fill pays
    that target less what the order already paid. So the minimum is charged once per order however many partial
    fills there are, and the total equals the one-fill price. The percentage cap uses this fill's price for all
    shares so far: exact when the order fills at one price, an approximation otherwise.
    """

    per_share: Decimal
    minimum: Decimal = Decimal(0)
    max_pct_of_value: Decimal | None = None
    max_per_order: Decimal | None = None

    def commission(
        self, *, price: int, quantity: int, order_quantity_filled_before: int, order_commission_so_far: int
    ) -> int:
        shares = order_quantity_filled_before + quantity
        target = max(ceil_units(Fraction(self.per_share) * shares), ceil_units(Fraction(self.minimum)))
        if self.max_pct_of_value is not None:
            value = Fraction(price * shares, PRICE_SCALE)
            target = min(target, floor_units(Fraction(self.max_pct_of_value) / 100 * value))
        if self.max_per_order is not None:
            target = min(target, floor_units(Fraction(self.max_per_order)))
        return max(0, target - order_commission_so_far)


class CommissionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[fees.commission]``; the defaults are Interactive Brokers' fixed US stock pricing."""

    model: Literal["per_share", "zero"] = "per_share"
    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_pct_of_value: Decimal | None = Decimal("1.0")
    max_per_order: Decimal | None = None

    def build(self) -> CommissionModel:
        if self.model == "zero":
            return ZeroCommission()
        for name in ("per_share", "minimum", "max_pct_of_value", "max_per_order"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{value} is negative; commissions are charges", field=f"fees.commission.{name}")
        return PerShareCommission(
            per_share=self.per_share,
            minimum=self.minimum,
            max_pct_of_value=self.max_pct_of_value,
            max_per_order=self.max_per_order,
        )


# --- the fee model ----------------------------------------------------------------------------------------------


class FeeBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """The fee components of one fill, each int 1/10,000 dollar; ``exchange`` is negative for a maker rebate."""

    sec_fee: int = 0
    finra_taf: int = 0
    exchange: int = 0
    commission: int = 0

    @property
    def total(self) -> int:
        return self.sec_fee + self.finra_taf + self.exchange + self.commission


class FeeModel(Protocol):
    """What the simulated exchange asks per fill. ``order_*`` describe the order before this fill."""

    def fill_fees(
        self,
        *,
        trade_date: datetime.date,
        venue: str,
        side: Side,
        price: int,
        quantity: int,
        liquidity: LiquiditySide,
        order_quantity_filled_before: int,
        order_commission_so_far: int,
    ) -> FeeBreakdown: ...


class FeeSchedule:
    """The default ``FeeModel``: dated regulatory tables, per-venue exchange fees, one commission model."""

    def __init__(
        self,
        *,
        sec_fee: Sequence[DatedRate] = SEC_SECTION_31,
        finra_taf: Sequence[DatedRate] = FINRA_TAF,
        access_fee_cap: Sequence[AccessFeeCap] = RULE_610_ACCESS_FEE_CAP,
        venues: dict[str, VenueFees] | None = None,
        commission: CommissionModel | None = None,
        regulatory_rounding: Literal["cent_up", "unit_up"] = "cent_up",
        fallback_venue: str = "",
    ) -> None:
        check_table(sec_fee, "fees.sec_fee")
        check_table(finra_taf, "fees.finra_taf")
        check_table(access_fee_cap, "fees.access_fee_cap")
        self.sec_table = tuple(sec_fee)
        self.taf_table = tuple(finra_taf)
        self.cap_table = tuple(access_fee_cap)
        self.venues = dict(DEFAULT_VENUE_FEES if venues is None else venues)
        if fallback_venue and fallback_venue not in self.venues:
            raise ConfigError(f"{fallback_venue!r} has no schedule in fees.venues", field="fees.fallback_venue")
        self.fallback_venue = fallback_venue
        self.commission = commission if commission is not None else CommissionConfig().build()
        self._round_regulatory = ceil_cents if regulatory_rounding == "cent_up" else ceil_units

    def sec_fee(self, trade_date: datetime.date, side: Side, price: int, quantity: int) -> int:
        """Section 31: the rate per million dollars of sale proceeds; buys pay nothing."""
        if side is not Side.SELL:
            return 0
        rate = Fraction(row_on(self.sec_table, trade_date, "fees.sec_fee").rate)
        return self._round_regulatory(Fraction(price * quantity, PRICE_SCALE) * rate / 1_000_000)

    def finra_taf(self, trade_date: datetime.date, side: Side, quantity: int) -> int:
        """TAF: per share sold, capped per trade (each fill counts as one trade)."""
        if side is not Side.SELL:
            return 0
        row = row_on(self.taf_table, trade_date, "fees.finra_taf")
        fee = Fraction(row.rate) * quantity
        if row.cap is not None:
            fee = min(fee, Fraction(row.cap))
        return self._round_regulatory(fee)

    def venue_fees(self, venue: str) -> VenueFees:
        fees = self.venues.get(venue) or self.venues.get(self.fallback_venue)
        if fees is None:
            raise ConfigError(
                f"no exchange fee schedule for venue {venue!r} (known: {', '.join(sorted(self.venues))}); "
                "add [fees.venues.<MIC>] or set fees.fallback_venue",
                field="fees.venues",
            )
        return fees

    def exchange_fee(
        self, trade_date: datetime.date, venue: str, price: int, quantity: int, liquidity: LiquiditySide
    ) -> int:
        """Maker fee or rebate, or the taker access fee limited by the Rule 610(c) cap on the trade date."""
        fees = self.venue_fees(venue)
        px = Fraction(price, PRICE_SCALE)
        sub_dollar = price < PRICE_SCALE
        if liquidity is LiquiditySide.MAKER:
            per_share = Fraction(fees.sub_dollar_maker if sub_dollar else fees.maker)
        else:
            cap = row_on(self.cap_table, trade_date, "fees.access_fee_cap")
            if sub_dollar:
                per_share = min(Fraction(fees.sub_dollar_taker_pct), Fraction(cap.sub_dollar_pct)) / 100 * px
            else:
                per_share = min(Fraction(fees.taker), Fraction(cap.per_share))
        return ceil_units(per_share * quantity)

    def fill_fees(
        self,
        *,
        trade_date: datetime.date,
        venue: str,
        side: Side,
        price: int,
        quantity: int,
        liquidity: LiquiditySide,
        order_quantity_filled_before: int,
        order_commission_so_far: int,
    ) -> FeeBreakdown:
        return FeeBreakdown(
            sec_fee=self.sec_fee(trade_date, side, price, quantity),
            finra_taf=self.finra_taf(trade_date, side, quantity),
            exchange=self.exchange_fee(trade_date, venue, price, quantity, liquidity),
            commission=self.commission.commission(
                price=price,
                quantity=quantity,
                order_quantity_filled_before=order_quantity_filled_before,
                order_commission_so_far=order_commission_so_far,
            ),
        )


def _finite(value: Decimal, field: str) -> None:
    if not value.is_finite():
        raise ConfigError(f'{value} is not a number of dollars; write decimal text such as "0.0030"', field=field)


def _charge(value: Decimal | None, field: str) -> None:
    if value is None:
        return
    _finite(value, field)
    if value < 0:
        raise ConfigError(f"{value} is negative; this is a charge, write it as zero or more", field=field)


def _default_venues() -> dict[str, VenueFees]:
    return dict(DEFAULT_VENUE_FEES)


class FeesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[fees]`` section of a run configuration; each table defaults to the built-in, sourced one.

    Write money as decimal text (``taker = "0.0030"``) so it decodes exactly; a TOML float would pass through a
    binary double first. A table given here replaces the built-in one entirely.
    """

    sec_fee: tuple[DatedRate, ...] = SEC_SECTION_31
    finra_taf: tuple[DatedRate, ...] = FINRA_TAF
    access_fee_cap: tuple[AccessFeeCap, ...] = RULE_610_ACCESS_FEE_CAP
    venues: dict[str, VenueFees] = msgspec.field(default_factory=_default_venues)
    fallback_venue: str = ""
    commission: CommissionConfig = CommissionConfig()
    regulatory_rounding: Literal["cent_up", "unit_up"] = "cent_up"

    def check(self) -> None:
        """Refuse rates that cannot be right: not a finite number, or a negative charge.

        Regulatory fees, caps, the Rule 610 cap, sub-dollar taking and commissions are charges, so a negative one is
        a typo that would pay the strategy on every fill. A venue's ``maker`` and ``taker`` may be negative: that is
        how a rebate is written (inverted venues rebate takers), so those are only required to be finite.
        """
        for table, rows in (("sec_fee", self.sec_fee), ("finra_taf", self.finra_taf)):
            for i, row in enumerate(rows):
                _charge(row.rate, f"fees.{table}[{i}].rate")
                _charge(row.cap, f"fees.{table}[{i}].cap")
        for i, cap in enumerate(self.access_fee_cap):
            _charge(cap.per_share, f"fees.access_fee_cap[{i}].per_share")
            _charge(cap.sub_dollar_pct, f"fees.access_fee_cap[{i}].sub_dollar_pct")
        for mic, venue in sorted(self.venues.items()):
            _finite(venue.maker, f"fees.venues.{mic}.maker")
            _finite(venue.taker, f"fees.venues.{mic}.taker")
            _finite(venue.sub_dollar_maker, f"fees.venues.{mic}.sub_dollar_maker")
            _charge(venue.sub_dollar_taker_pct, f"fees.venues.{mic}.sub_dollar_taker_pct")
        c = self.commission
        for name in ("per_share", "minimum", "max_pct_of_value", "max_per_order"):
            _charge(getattr(c, name), f"fees.commission.{name}")

    def build(self) -> FeeSchedule:
        self.check()
        return FeeSchedule(
            sec_fee=self.sec_fee,
            finra_taf=self.finra_taf,
            access_fee_cap=self.access_fee_cap,
            venues=self.venues,
            commission=self.commission.build(),
            regulatory_rounding=self.regulatory_rounding,
            fallback_venue=self.fallback_venue,
        )


__all__ = [
    "AccessFeeCap",
    "CommissionConfig",
    "CommissionModel",
    "DatedRate",
    "FeeBreakdown",
    "FeeModel",
    "FeeSchedule",
    "FeesConfig",
    "PerShareCommission",
    "VenueFees",
    "ZeroCommission",
    "ceil_cents",
    "ceil_units",
    "floor_units",
]
