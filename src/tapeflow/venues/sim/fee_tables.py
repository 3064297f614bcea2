"""The dated rate tables fees are computed from: SEC Section 31, FINRA TAF, the Rule 610 access-fee cap and
representative venue fees, each row with its source, and the rule that picks the row in force on a trade date.

Apart from the arithmetic (``fees``) because the tables are data that changes with each fee order and notice,
checked against their sources (docs/FEES.md), while the rounding and the fee of a fill do not change with them.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Final, TypeVar

import msgspec

from tapeflow.model.errors import ConfigError


class DatedRate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rate in force from ``effective`` until the next row. Units depend on the table (see each constant)."""

    effective: datetime.date
    rate: Decimal
    cap: Decimal | None = None
    source: str = ""


class AccessFeeCap(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reg NMS Rule 610(c): the most a venue may charge to take a protected quote, per share / % of price (< $1)."""

    effective: datetime.date
    per_share: Decimal
    sub_dollar_pct: Decimal
    source: str = ""


class VenueFees(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One venue's per-share fees in dollars; negative is a rebate. Sub-dollar taking is a % of the price."""

    taker: Decimal
    maker: Decimal
    sub_dollar_taker_pct: Decimal = Decimal("0.30")
    sub_dollar_maker: Decimal = Decimal(0)
    source: str = ""


_D = Decimal
SEC_SECTION_31: Final = (
    # Rows before 2018: docs/FEES.md gives each row's advisory or notice and marks the dates derived, not read.
    DatedRate(effective=datetime.date(2010, 1, 1), rate=_D("25.70"), source="in force (SEC 2009-270, Dec 17, 2009)"),
    DatedRate(effective=datetime.date(2010, 1, 15), rate=_D("12.70"), source="SEC press release 2009-270"),
    DatedRate(effective=datetime.date(2010, 4, 1), rate=_D("16.90"), source="FINRA Information Notice 3/10/10"),
    DatedRate(effective=datetime.date(2011, 1, 21), rate=_D("19.20"), source="SEC Fee Rate Advisory #5 FY2011"),
    DatedRate(effective=datetime.date(2012, 1, 17), rate=_D("22.40"), source="FY2012 order; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2013, 5, 25), rate=_D("17.40"), source="FY2013 order; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2014, 3, 18), rate=_D("22.10"), source="FINRA Information Notice 3/3/14"),
    DatedRate(effective=datetime.date(2015, 2, 14), rate=_D("18.40"), source="Rel. 34-74057; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2016, 2, 16), rate=_D("21.80"), source="FY2016 order; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2017, 7, 4), rate=_D("23.10"), source="FY2017; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2018, 5, 22), rate=_D("13.00"), source="FINRA Information Notice 2018-05-07"),
    DatedRate(effective=datetime.date(2019, 4, 16), rate=_D("20.70"), source="FINRA Information Notice, Apr 2019"),
    DatedRate(effective=datetime.date(2020, 2, 18), rate=_D("22.10"), source="FINRA Information Notice 2/3/20"),
    DatedRate(effective=datetime.date(2021, 2, 25), rate=_D("5.10"), source="FY2021 order, 86 FR 6694"),
    DatedRate(effective=datetime.date(2022, 5, 14), rate=_D("22.90"), source="FY2022 order; date by the 60-day rule"),
    DatedRate(effective=datetime.date(2023, 2, 27), rate=_D("8.00"), source="Rel. 34-96724, 88 FR 5051"),
    DatedRate(effective=datetime.date(2024, 5, 22), rate=_D("27.80"), source="Rel. 34-99973, 89 FR 29402"),
    DatedRate(effective=datetime.date(2025, 5, 14), rate=_D("0.00"), source="Rel. 34-102779, 90 FR 15492"),
    DatedRate(effective=datetime.date(2026, 4, 4), rate=_D("20.60"), source="Rel. 34-104909, 91 FR 10643"),
)
"""Section 31 fee, dollars per million dollars of covered sales."""

FINRA_TAF: Final = (
    DatedRate(
        effective=datetime.date(2010, 1, 1),
        rate=_D("0.000075"),
        cap=_D("3.75"),
        source="in force (Regulatory Notice 11-27: in place over six years by 2011)",
    ),
    DatedRate(effective=datetime.date(2011, 7, 1), rate=_D("0.000090"), cap=_D("4.50"), source="Reg. Notice 11-27"),
    DatedRate(effective=datetime.date(2012, 3, 1), rate=_D("0.000095"), cap=_D("4.75"), source="Reg. Notice 12-06"),
    DatedRate(
        effective=datetime.date(2016, 1, 7),
        rate=_D("0.000119"),
        cap=_D("5.95"),
        source="in force by this date (broker fee schedule of Jan 2016); true start earlier, not pinned",
    ),
    DatedRate(effective=datetime.date(2022, 1, 1), rate=_D("0.000130"), cap=_D("6.49"), source="FINRA 2022-24 phase"),
    DatedRate(effective=datetime.date(2023, 1, 1), rate=_D("0.000145"), cap=_D("7.27"), source="FINRA 2022-24 phase"),
    DatedRate(effective=datetime.date(2024, 1, 1), rate=_D("0.000166"), cap=_D("8.30"), source="FINRA 2022-24 phase"),
    DatedRate(effective=datetime.date(2026, 1, 1), rate=_D("0.000195"), cap=_D("9.79"), source="SR-FINRA-2024-019"),
    DatedRate(effective=datetime.date(2027, 1, 1), rate=_D("0.000232"), cap=_D("11.61"), source="SR-FINRA-2024-019"),
    DatedRate(effective=datetime.date(2028, 1, 1), rate=_D("0.000240"), cap=_D("12.05"), source="SR-FINRA-2024-019"),
    DatedRate(effective=datetime.date(2029, 1, 1), rate=_D("0.000249"), cap=_D("12.50"), source="SR-FINRA-2024-019"),
)
"""FINRA Trading Activity Fee on covered equity sales: dollars per share, ``cap`` dollars per trade."""

RULE_610_ACCESS_FEE_CAP: Final = (
    AccessFeeCap(
        effective=datetime.date(2005, 8, 29),
        per_share=_D("0.003"),
        sub_dollar_pct=_D("0.3"),
        source="Regulation NMS (2005), Rule 610(c)",
    ),
)
"""The cap in force. The 2024 amendment (below) is adopted but its compliance date has been deferred."""

RULE_610_2024_AMENDED_CAP: Final = AccessFeeCap(
    effective=datetime.date(2025, 11, 3),
    per_share=_D("0.001"),
    sub_dollar_pct=_D("0.1"),
    source="Rel. 34-101070 (2024); compliance deferred by exemptive order, set `effective` to the date in force",
)
"""Append (with the right date) to ``FeesConfig.access_fee_cap`` to model the reduced cap; see docs/FEES.md."""

DEFAULT_VENUE_FEES: Final = {
    "XNAS": VenueFees(taker=_D("0.0030"), maker=_D("-0.0020"), source="representative, tiered in reality"),
    "XNYS": VenueFees(taker=_D("0.0030"), maker=_D("-0.0012"), source="representative, tiered in reality"),
    "ARCX": VenueFees(taker=_D("0.0030"), maker=_D("-0.0020"), source="representative, tiered in reality"),
    "BATS": VenueFees(taker=_D("0.0030"), maker=_D("-0.0016"), source="Cboe BZX standard rates, 2024-11-20"),
    "EDGX": VenueFees(taker=_D("0.0030"), maker=_D("-0.0016"), source="representative, tiered in reality"),
}

R = TypeVar("R", DatedRate, AccessFeeCap)


def row_on(rows: Sequence[R], day: datetime.date, field: str) -> R:
    """The row in force on ``day``: the last one with ``effective <= day``."""
    i = bisect.bisect_right([r.effective for r in rows], day)
    if i == 0:
        raise ConfigError(
            f"no rate for trade date {day}: the table starts on {rows[0].effective}; "
            "add a row that covers this date to the fee configuration",
            field=field,
        )
    return rows[i - 1]


def check_table(rows: Sequence[DatedRate] | Sequence[AccessFeeCap], field: str) -> None:
    if not rows:
        raise ConfigError("the table is empty; give at least one row with an effective date", field=field)
    for i in range(1, len(rows)):
        if rows[i].effective <= rows[i - 1].effective:
            raise ConfigError(
                f"row {i} (effective {rows[i].effective}) is not after row {i - 1} "
                f"(effective {rows[i - 1].effective}); sort the rows by date, one row per date",
                field=field,
            )
