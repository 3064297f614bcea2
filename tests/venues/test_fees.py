"""Fees: exact hand-computed SEC/TAF amounts, dated lookups at their edges, rebates, access-fee caps, commissions."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from tapeflow.config import decode_toml
from tapeflow.model.enums import LiquiditySide, Side
from tapeflow.model.errors import ConfigError
from tapeflow.venues.sim.fee_tables import (
    FINRA_TAF,
    RULE_610_2024_AMENDED_CAP,
    RULE_610_ACCESS_FEE_CAP,
    SEC_SECTION_31,
    DatedRate,
    VenueFees,
    row_on,
)
from tapeflow.venues.sim.fees import (
    CommissionConfig,
    FeeBreakdown,
    FeeSchedule,
    FeesConfig,
    PerShareCommission,
    ZeroCommission,
)

D = datetime.date
JUNE_2024 = D(2024, 6, 3)
PX_120_55 = 1_205_500


def fees(schedule: FeeSchedule, **kw: object) -> FeeBreakdown:
    args: dict[str, object] = {
        "trade_date": JUNE_2024,
        "venue": "XNAS",
        "side": Side.SELL,
        "price": PX_120_55,
        "quantity": 1_000,
        "liquidity": LiquiditySide.TAKER,
        "order_quantity_filled_before": 0,
        "order_commission_so_far": 0,
    }
    args.update(kw)
    return schedule.fill_fees(**args)  # type: ignore[arg-type]


def test_sale_of_1000_at_120_55_in_june_2024_exactly() -> None:
    # proceeds $120,550; SEC 120,550 x 27.80 / 1e6 = $3.35129 -> $3.36; TAF 1,000 x 0.000166 = $0.166 -> $0.17;
    # taker 1,000 x $0.0030 = $3.00; IBKR fixed 1,000 x $0.005 = $5.00 (above $1 min, below 1% = $1,205.50).
    b = fees(FeesConfig().build())
    assert b == FeeBreakdown(sec_fee=33_600, finra_taf=1_700, exchange=30_000, commission=50_000)
    assert b.total == 115_300


def test_unit_rounding_keeps_the_regulatory_fees_to_the_ten_thousandth() -> None:
    b = fees(FeeSchedule(regulatory_rounding="unit_up", commission=ZeroCommission()))
    assert (b.sec_fee, b.finra_taf) == (33_513, 1_660)  # $3.35129 -> $3.3513, $0.166 exactly


def test_buys_pay_no_regulatory_fees() -> None:
    b = fees(FeeSchedule(), side=Side.BUY)
    assert b.sec_fee == b.finra_taf == 0
    assert b.exchange == 30_000


@pytest.mark.parametrize(
    ("day", "sec_fee"),
    [
        (D(2025, 5, 13), 33_600),  # last day at $27.80 per million
        (D(2025, 5, 14), 0),  # $0.00 from the effective date itself
        (D(2025, 5, 15), 0),
        (D(2026, 4, 3), 0),
        (D(2026, 4, 4), 24_900),  # $20.60: 120,550 x 20.60 / 1e6 = $2.48333 -> $2.49
    ],
)
def test_sec_rate_at_just_before_and_after_an_effective_date(day: datetime.date, sec_fee: int) -> None:
    assert fees(FeeSchedule(), trade_date=day).sec_fee == sec_fee


def test_a_date_before_the_first_row_is_a_clear_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^field `fees.sec_fee`: no rate for trade date 2009-12-31: the table starts on 2010-01-01; "
        r"add a row that covers this date to the fee configuration$",
    ):
        fees(FeeSchedule(), trade_date=D(2009, 12, 31))


@pytest.mark.parametrize(
    ("dataset", "day", "sec_fee", "finra_taf"),
    [
        # 1,000 x $120.55 = $120,550 sold; SEC = proceeds x rate / 1e6 up to the cent; TAF = 1,000 x rate, capped.
        ("lobster-samples-2012-06-21", D(2012, 6, 21), 27_100, 1_000),  # $22.40 -> $2.70032; $0.095
        ("lean-algoseek tick (TAQ) 2013-10-07", D(2013, 10, 7), 21_000, 1_000),  # $17.40 -> $2.09757; $0.095
        ("lean-algoseek daily, last rows 2021", D(2021, 3, 31), 6_200, 1_200),  # $5.10 -> $0.61481; $0.119
        ("backtrader-yahoo-daily, 2014", D(2014, 12, 31), 26_700, 1_000),  # $22.10 -> $2.66416; $0.095
        ("zipline/backtrader daily, 2010", D(2010, 1, 4), 31_000, 800),  # $25.70 -> $3.09814; $0.075
        ("databento-dbn fixtures 2020-12-28", D(2020, 12, 28), 26_700, 1_200),  # $22.10; $0.119
    ],
)
def test_each_shared_dataset_date_finds_a_sourced_rate(
    dataset: str, day: datetime.date, sec_fee: int, finra_taf: int
) -> None:
    b = fees(FeeSchedule(), trade_date=day)
    assert (b.sec_fee, b.finra_taf) == (sec_fee, finra_taf), dataset


@pytest.mark.parametrize(
    ("day", "sec_rate", "taf_rate"),
    [
        (D(2010, 1, 14), "25.70", "0.000075"),
        (D(2010, 1, 15), "12.70", "0.000075"),
        (D(2010, 4, 1), "16.90", "0.000075"),
        (D(2011, 1, 21), "19.20", "0.000075"),
        (D(2011, 7, 1), "19.20", "0.000090"),
        (D(2012, 3, 1), "22.40", "0.000095"),
        (D(2014, 3, 17), "17.40", "0.000095"),
        (D(2014, 3, 18), "22.10", "0.000095"),
        (D(2018, 5, 21), "23.10", "0.000119"),
        (D(2018, 5, 22), "13.00", "0.000119"),
    ],
)
def test_historical_rows_in_force_at_their_edges(day: datetime.date, sec_rate: str, taf_rate: str) -> None:
    s = FeeSchedule()
    assert row_on(s.sec_table, day, "fees.sec_fee").rate == Decimal(sec_rate)
    assert row_on(s.taf_table, day, "fees.finra_taf").rate == Decimal(taf_rate)


def test_every_built_in_row_names_its_source() -> None:
    assert all(row.source for row in (*SEC_SECTION_31, *FINRA_TAF))


def test_taf_cap_per_trade_and_its_2026_boundary() -> None:
    s = FeeSchedule()
    assert fees(s, quantity=60_000).finra_taf == 83_000  # 60,000 x 0.000166 = $9.96 > $8.30 cap
    jan_2026 = D(2026, 1, 2)
    assert fees(s, trade_date=jan_2026, quantity=50_205).finra_taf == 97_900  # $9.789975 -> $9.79
    assert fees(s, trade_date=jan_2026, quantity=50_206).finra_taf == 97_900  # cap $9.79
    assert fees(s, trade_date=D(2025, 12, 31), quantity=100).finra_taf == 200  # $0.0166 -> $0.02


def test_maker_rebate_is_negative_and_shrinks_toward_zero_when_rounded() -> None:
    s = FeeSchedule(venues={"X": VenueFees(taker=Decimal("0.0030"), maker=Decimal("-0.00205"))})
    b = fees(s, venue="X", side=Side.BUY, liquidity=LiquiditySide.MAKER, quantity=3)
    assert b.exchange == -61  # 3 x -$0.00205 = -$0.00615 -> -$0.0061
    assert fees(FeeSchedule(), side=Side.BUY, liquidity=LiquiditySide.MAKER).exchange == -20_000


def test_sub_dollar_access_fee_is_a_percentage_and_capped() -> None:
    s = FeeSchedule(venues={"X": VenueFees(taker=Decimal("0.0030"), maker=Decimal(0), sub_dollar_taker_pct=Decimal(1))})
    # 10,000 shares at $0.50: venue asks 1%, Rule 610 caps at 0.3% -> $0.0015 x 10,000 = $15.00
    assert fees(s, venue="X", price=5_000, quantity=10_000).exchange == 150_000
    assert fees(s, venue="X", price=5_000, liquidity=LiquiditySide.MAKER).exchange == 0


def test_taker_fee_above_the_cap_is_cut_to_the_cap_in_force() -> None:
    venues = {"X": VenueFees(taker=Decimal("0.0040"), maker=Decimal(0))}
    assert fees(FeeSchedule(venues=venues), venue="X").exchange == 30_000
    amended = (*RULE_610_ACCESS_FEE_CAP, RULE_610_2024_AMENDED_CAP)
    s = FeeSchedule(venues=venues, access_fee_cap=amended)
    assert fees(s, venue="X", trade_date=D(2025, 11, 2)).exchange == 30_000
    assert fees(s, venue="X", trade_date=D(2025, 11, 3)).exchange == 10_000


def test_unknown_venue_is_an_error_unless_a_fallback_is_set() -> None:
    with pytest.raises(ConfigError, match="no exchange fee schedule for venue 'SIM'"):
        fees(FeeSchedule(), venue="SIM")
    assert fees(FeeSchedule(fallback_venue="BATS"), venue="SIM").exchange == 30_000


def test_minimum_commission_is_charged_once_per_order_across_partial_fills() -> None:
    c = PerShareCommission(per_share=Decimal("0.005"), minimum=Decimal("1.00"), max_pct_of_value=Decimal(1))
    px = 250_000  # $25
    first = c.commission(price=px, quantity=60, order_quantity_filled_before=0, order_commission_so_far=0)
    second = c.commission(price=px, quantity=40, order_quantity_filled_before=60, order_commission_so_far=first)
    assert (first, second) == (10_000, 0)  # $1.00 then nothing: 100 x $0.005 = $0.50 < $1.00 minimum
    big1 = c.commission(price=px, quantity=500, order_quantity_filled_before=0, order_commission_so_far=0)
    big2 = c.commission(price=px, quantity=500, order_quantity_filled_before=500, order_commission_so_far=big1)
    assert (big1, big2) == (25_000, 25_000)  # same $5.00 total as one fill of 1,000


def test_commission_maximums() -> None:
    c = PerShareCommission(per_share=Decimal("0.005"), minimum=Decimal("1.00"), max_pct_of_value=Decimal(1))
    # 10 shares at $5: 1% of $50 = $0.50 beats the $1.00 minimum
    assert c.commission(price=50_000, quantity=10, order_quantity_filled_before=0, order_commission_so_far=0) == 5_000
    capped = PerShareCommission(per_share=Decimal("0.01"), max_per_order=Decimal("2.50"))
    first = capped.commission(price=PX_120_55, quantity=200, order_quantity_filled_before=0, order_commission_so_far=0)
    second = capped.commission(
        price=PX_120_55, quantity=200, order_quantity_filled_before=200, order_commission_so_far=first
    )
    assert (first, second) == (20_000, 5_000)


def test_zero_commission_and_config_choice() -> None:
    assert isinstance(CommissionConfig(model="zero").build(), ZeroCommission)
    assert fees(FeeSchedule(commission=ZeroCommission())).commission == 0
    with pytest.raises(ConfigError, match=r"fees\.commission\.minimum"):
        CommissionConfig(minimum=Decimal(-1)).build()


def test_unsorted_table_is_refused() -> None:
    rows = (DatedRate(effective=D(2024, 1, 1), rate=Decimal(1)), DatedRate(effective=D(2023, 1, 1), rate=Decimal(2)))
    with pytest.raises(ConfigError, match=r"field `fees.sec_fee`: row 1 \(effective 2023-01-01\) is not after row 0"):
        FeeSchedule(sec_fee=rows)


def test_fees_config_decodes_from_toml_and_builds() -> None:
    text = """
    regulatory_rounding = "unit_up"
    fallback_venue = "SIM"
    [[sec_fee]]
    effective = 2012-01-01
    rate = "22.40"
    [[finra_taf]]
    effective = 2012-03-01
    rate = "0.000095"
    cap = "4.75"
    [venues.SIM]
    taker = "0.0030"
    maker = "-0.0020"
    [commission]
    model = "zero"
    """
    cfg = decode_toml(text, FeesConfig)
    s = cfg.build()
    b = fees(s, trade_date=D(2012, 6, 21), venue="SIM")
    # 120,550 x 22.40 / 1e6 = $2.70032; 1,000 x $0.000095 = $0.095
    assert b == FeeBreakdown(sec_fee=27_004, finra_taf=950, exchange=30_000, commission=0)
    with pytest.raises(ConfigError, match="commision"):
        decode_toml("[commision]\nmodel = 'zero'", FeesConfig)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            FeesConfig(sec_fee=(DatedRate(effective=D(2020, 1, 1), rate=Decimal("-8.00")),)),
            r"^field `fees\.sec_fee\[0\]\.rate`: -8\.00 is negative; this is a charge",
        ),
        (
            FeesConfig(finra_taf=(DatedRate(effective=D(2020, 1, 1), rate=Decimal("0.0001"), cap=Decimal("-1")),)),
            r"^field `fees\.finra_taf\[0\]\.cap`: -1 is negative",
        ),
        (
            FeesConfig(venues={"XNAS": VenueFees(taker=Decimal("Infinity"), maker=Decimal(0))}),
            r"^field `fees\.venues\.XNAS\.taker`: Infinity is not a number of dollars",
        ),
        (
            FeesConfig(commission=CommissionConfig(model="zero", per_share=Decimal("-0.01"))),
            r"^field `fees\.commission\.per_share`: -0\.01 is negative",
        ),
    ],
)
def test_fees_config_build_refuses_negative_or_non_finite_charges(config: FeesConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.build()


def test_fees_config_build_accepts_rebates_for_makers_and_takers() -> None:
    venues = {"BYXX": VenueFees(taker=Decimal("-0.0005"), maker=Decimal("0.0018"))}
    schedule = FeesConfig(venues=venues).build()
    assert schedule.exchange_fee(JUNE_2024, "BYXX", PX_120_55, 100, LiquiditySide.TAKER) == -500
