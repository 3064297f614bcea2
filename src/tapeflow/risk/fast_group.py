"""Runs of built-in account rules, and of the first order rules, in the fast check, each checked by one compiled call
(``_ledger_core.AccountGroup``, ``_order_core.OrderGroup``).

Why: a passing order runs every account rule's fast part, ~130 bytecodes of the composed check over notionals of two
30-bit digits, which CPython 3.11 adds, multiplies and compares without specialising (docs/PERFORMANCE.md, "Risk
engine", round 13). One call to C integers costs what ~10 of those bytecodes do, so one call per rule would gain
nothing; one call for the whole run is what pays.

The parts' Python text stays: the composer puts it right after the call, where it runs when the call answers
``UNSURE`` (a value or a limit past int64, a new day for the daily loss), and it is the reference the compiled
group is tested against (``tests/risk/test_fast_group.py``). The group reads the same bound values as the text (the
parts' ``names``, the same ``day`` list, the per-symbol limits row) and the compiled ledger's fields, so it exists
only where the ledger is the compiled one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapeflow.risk import account_rules as acc
from tapeflow.risk import order_rules as order
from tapeflow.risk.ledger import COMPILED_AVAILABLE
from tapeflow.risk.rules import FastCheck

if COMPILED_AVAILABLE:
    from tapeflow.risk._ledger_core import AccountGroup, LedgerCore

try:  # built with the ledger's core by the same setup.py; a checkout built before it existed keeps the text
    from tapeflow.risk._order_core import OrderGroup

    ORDER_AVAILABLE = COMPILED_AVAILABLE
except ImportError:  # pragma: no cover - a checkout that was not built
    ORDER_AVAILABLE = False

KINDS: dict[type, int] = {
    acc.PositionLimit: 0,
    acc.SymbolNetExposure: 1,
    acc.SymbolGrossExposure: 2,
    acc.GrossExposure: 3,
    acc.NetExposure: 4,
    acc.BuyingPower: 5,
    acc.NetLiquidationFloor: 6,
    acc.DailyLoss: 7,
}
"""The rule classes whose fast part the group checks, by exact class (a subclass may check something else), with
the kind ``_ledger_core.AccountGroup`` knows them by."""

ARGS = (
    "is_buy",
    "symbol",
    "ref",
    "value",
    "held",
    "size",
    "gross",
    "projected_gross",
    "net",
    "equity",
    "now",
    "limits",
    "own_notional",
    "own_buy",
    "own_sell",
)
"""``AccountGroup.check``'s arguments, in order: shared values of the fast check (a name no member reads is passed as
0, so no account value is computed for the group alone), ``now`` and the per-symbol limits row."""

ORDER_KINDS: dict[type, int] = {
    order.MinOrderQuantity: 0,
    order.MaxOrderQuantity: 1,
    order.LotSize: 2,
    order.TickSize: 3,
    order.RestrictedList: 4,
    order.TradingHours: 5,
}
"""The order rules whose fast part ``_order_core.OrderGroup`` checks, by exact class: the pipeline's first checks
(``build.build_rules``), consecutive in every built pipeline."""

ORDER_ARGS = ("q", "price", "stop_price", "symbol", "marketable", "now", "limits")
"""``OrderGroup.check``'s arguments, in order (a name no member reads is passed as 0, ``limits`` as ``()``)."""

ACCOUNT, ORDER = "account", "order"
"""The two kinds of group; a run holds parts of one kind. An order run is called for every order (an account run
only for one that is not reducing); in every built pipeline it holds at least the minimum, the restricted list and
the trading status (the bar backtest's defaults: five parts, ~31 bytecodes of a market order's text for ~15 of
arguments and the call, docs/PERFORMANCE.md, "Risk engine", round 14)."""

MIN_GROUP = 3
"""A shorter run stays text: the call (~25 bytecodes of arguments, then the C call) costs about what two parts'
~28 bytecodes do (the default pipeline's position limit and buying power: the bar backtest's `pass-bars` read
0.948x against main, 4.73 against 4.48 us, within its spread, before this threshold)."""

ENABLED = True
"""False: the composer keeps the parts' Python text alone (the tests compare the two)."""


def groupable(rule: Any, part: FastCheck) -> str | None:
    """The kind of compiled group ``part`` (``rule``'s fast part) may join (``ACCOUNT``, ``ORDER``), or None."""
    if not (ENABLED and COMPILED_AVAILABLE and part.code) or part.spend:
        return None
    kind = type(rule)
    if kind in KINDS:
        return ACCOUNT
    if ORDER_AVAILABLE and kind in ORDER_KINDS:
        return ORDER
    return None


def account_group(ledger: object, members: Sequence[tuple[Any, FastCheck, int]]) -> Any:
    """The compiled group for ``members`` (rule, its part, its column of the per-symbol limits row or -1), or None
    when it cannot hold them (the Python ledger, a limit or rate past int64): then the text alone runs."""
    if not COMPILED_AVAILABLE or not isinstance(ledger, LedgerCore):
        return None
    specs = []
    for rule, part, column in members:
        kind = KINDS[type(rule)]
        names = part.names
        if "LIMIT" in part.code:
            limit = None if column >= 0 else rule.limit
        else:
            limit = names["initial"] if kind == 5 else names["limit"]
        extra = names["maintenance"] if kind == 5 else names["day"] if kind == 7 else None
        specs.append((kind, column, limit, extra))
    try:
        return AccountGroup(ledger, tuple(specs))
    except ValueError:
        return None


def order_group(ledger: object, members: Sequence[tuple[Any, FastCheck, int]]) -> Any:
    """The compiled group for a run of order parts (rule, its part, its column of the per-symbol limits row or -1),
    or None when it cannot hold them (the Python ledger's choice, ``impl="python"``; a limit past int64, a lot or
    tick below 1): then the text alone runs."""
    if not (ORDER_AVAILABLE and isinstance(ledger, LedgerCore)):
        return None
    specs = []
    for rule, part, column in members:
        kind = ORDER_KINDS[type(rule)]
        names = part.names
        limit: object
        if kind == 0:
            limit = names["minimum"]
        elif kind == 1:
            limit = None if column >= 0 else rule.limit
        elif kind == 2:
            limit = names["lot"]
        elif kind == 3:
            limit = (names["threshold"], names["above"], names["below"])
        elif kind == 4:
            limit = names["restricted"]
        else:
            limit = (names["status"], names["window"], bool(rule.block_halted))
        specs.append((kind, column, limit))
    try:
        return OrderGroup(tuple(specs))
    except ValueError:
        return None
