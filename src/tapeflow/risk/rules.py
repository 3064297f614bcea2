"""What every rule shares: a name, a stage, one check, and limits that change only through ``set_limit``.

A rule is an object with ``name``, ``stage`` and ``check(order) -> Violation | None``: the smallest thing the
engine can call on the hot path. Rules that keep state (token buckets, duplicate windows) also have ``commit``,
called only once a command has passed every rule, so that a command refused later in the pipeline does not
spend a token. ``set_limit`` is called by the engine for an ``UpdateRiskLimit`` event: the event is the record.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from tapeflow.model.orders import SubmitOrder
from tapeflow.model.risk_events import LimitValue

ORDER = "order"
ACCOUNT = "account"
FLOW = "flow"


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """Why a rule refused a command: the limit, the value that broke it, and a sentence for a human."""

    reason: str
    limit: int | float | str | None = None
    value: int | float | str | None = None


class RiskRule(Protocol):
    """A ``ModifyOrder`` is checked as the ``SubmitOrder`` it would turn the order into (``ctx.modifying``)."""

    name: str
    stage: str

    def check(self, command: SubmitOrder) -> Violation | None: ...


class Rule:
    """Base of the built-in rules. ``updatable`` lists the fields ``set_limit`` may change; a rule with
    ``per_symbol`` also takes overrides for one symbol of its ``limit`` field."""

    name = "rule"
    stage = ORDER
    updatable: tuple[str, ...] = ("limit",)

    def __init__(self) -> None:
        self.per_symbol: dict[str, int] = {}

    def check(self, command: SubmitOrder) -> Violation | None:
        raise NotImplementedError

    def set_limit(self, field: str, value: LimitValue, symbol: str = "") -> LimitValue:
        """Change one limit and return the old value; raises ``ValueError`` with the reason when refused."""
        if field not in self.updatable:
            raise ValueError(f"rule {self.name} has no updatable limit {field!r} (it has: {', '.join(self.updatable)})")
        if value is not None and (type(value) is not int or value <= 0):
            raise ValueError(f"{field} must be a positive integer or None, got {value!r}")
        if symbol:
            if field != "limit":
                raise ValueError(f"rule {self.name} takes per-symbol values only for `limit`")
            old = self.per_symbol.get(symbol)
            if value is None:
                self.per_symbol.pop(symbol, None)
            else:
                self.per_symbol[symbol] = value
            return old
        old_value: LimitValue = getattr(self, field)
        setattr(self, field, value)
        return old_value

    def limit_for(self, symbol: str, default: int | None) -> int | None:
        per = self.per_symbol
        return per.get(symbol, default) if per else default

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def usd(dollars: int | None) -> int | None:
    """Whole dollars from the configuration to 1/10,000 dollar."""
    return None if dollars is None else dollars * 10_000
