"""What a LEAN tick file is before a row is read: its member name (day, symbol, trades or quotes), its sibling
half, and AlgoSeek's condition codes (which sale conditions a trade carries, which quote conditions make a quote
not firm).

Apart from the reader (``taq``) because these are the format's vocabulary, fixed by LEAN and AlgoSeek, while the
reader is how a day is streamed, merged and classified; ``taq`` re-exports the public names.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Final

import msgspec

from tapeflow.data.files import single_member
from tapeflow.model.errors import DataError

MEMBER: Final = re.compile(r"(?P<day>\d{8})_(?P<symbol>[A-Za-z0-9.\-]+)_(?P<kind>Trade|Quote)_Tick\.csv$", re.I)

TRADE_FLAGS: Final = (
    "REGULAR", "CASH", "NEXT_DAY", "SELLER", "YELLOW_FLAG", "INTERMARKET_SWEEP", "OPENING_PRINT", "CLOSING_PRINT",
    "REOPENING_PRINT", "DERIVATIVELY_PRICED", "FORM_T", "SOLD_LAST", "STOPPED", "EXTENDED_HOURS",
    "OUT_OF_SEQUENCE", "SPLIT", "ACQUISITION", "BUNCHED", "STOCK_OPTION", "DISTRIBUTION", "AVERAGE_PRICE",
    "CROSS", "PRICE_VARIATION", "RULE_155", "OFFICIAL_CLOSE", "PRIOR_REFERENCE_PRICE", "OFFICIAL_OPEN",
    "CAP_ELECTION", "AUTO_EXECUTION", "TRADE_THROUGH_EXEMPT", "UNDOCUMENTED_30", "ODD_LOT",
)  # fmt: skip
"""AlgoSeek sale-condition bits, bit 0 first (LEAN ``TradeConditionFlags``); the CSV holds them in hex."""
SUSPICIOUS: Final = "SUSPICIOUS"
NOT_FIRM_QUOTE: Final = 0x2 | 0x4 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x8000
NOT_FIRM_QUOTE_REST: Final = 0x10000 | 0x20000 | 0x100000 | 0x400000
"""Quote conditions (LEAN ``QuoteConditionFlags``) under which a quote is not firm or trading is halted (slow,
gap, news, trading range, imbalance, closed market maker, pause, non-firm, related security, equipment,
sub-penny, no-open, manual, influx): such a side does not count towards the NBBO."""
NOT_FIRM: Final = NOT_FIRM_QUOTE | NOT_FIRM_QUOTE_REST
"""Either set of quote conditions: a side quoted under any of them is not firm."""


class TaqFile(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    member: str
    symbol: str
    day: date
    kind: str
    """"trade" or "quote"."""


def open_taq(path: str | Path) -> TaqFile:
    """Check that ``path`` is a LEAN tick zip and say what it holds."""
    p = Path(path)
    member = single_member(p)
    m = MEMBER.search(member)
    if m is None:
        raise DataError(f"{member!r} is not a LEAN tick file (YYYYMMDD_<sym>_Trade_Tick.csv)", path=p)
    d = m["day"]
    try:
        day = date(int(d[:4]), int(d[4:6]), int(d[6:]))
    except ValueError:
        raise DataError(
            f"{member!r}: {d!r} in the name is not a calendar date (YYYYMMDD); times are read relative to it",
            path=p,
        ) from None
    return TaqFile(path=str(p), member=member, symbol=m["symbol"].upper(), day=day, kind=m["kind"].lower())


def sibling(path: str | Path) -> Path | None:
    """The other half of a LEAN tick day (``..._trade.zip`` <-> ``..._quote.zip``) when it exists."""
    p = Path(path)
    for a, b in (("_trade.zip", "_quote.zip"), ("_quote.zip", "_trade.zip")):
        if p.name.endswith(a):
            other = p.with_name(p.name[: -len(a)] + b)
            return other if other.is_file() else None
    return None


def condition_names(flags: int, suspicious: bool = False) -> tuple[str, ...]:
    names = tuple(name for bit, name in enumerate(TRADE_FLAGS) if flags >> bit & 1)
    return (*names, SUSPICIOUS) if suspicious else names
