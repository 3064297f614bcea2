"""Runs of built-in account rules in the fast check, checked by one compiled call (``_ledger_core.AccountGroup``).

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
from tapeflow.risk.ledger import COMPILED_AVAILABLE
from tapeflow.risk.rules import FastCheck

if COMPILED_AVAILABLE:
    from tapeflow.risk._ledger_core import AccountGroup, LedgerCore

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

MIN_GROUP = 3
"""A shorter run stays text: the call (~25 bytecodes of arguments, then the C call) costs about what two parts'
~28 bytecodes do (the default pipeline's position limit and buying power: the bar backtest's `pass-bars` read
0.948x against main, 4.73 against 4.48 us, within its spread, before this threshold)."""

ENABLED = True
"""False: the composer keeps the parts' Python text alone (the tests compare the two)."""


def groupable(rule: Any, part: FastCheck) -> bool:
    """Whether ``part`` (``rule``'s fast part) may join a compiled group."""
    return ENABLED and COMPILED_AVAILABLE and type(rule) in KINDS and bool(part.code) and not part.spend


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
