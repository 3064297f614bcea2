"""What the pre-trade checks refused, by rule, with the limit and the value: the explanation a count lacks.

``risk_rejections_by_rule = {"short_locate": 64}`` says that something was refused, not why; a person needs the
rule's limit and what the order would have made it. ``RejectionLog`` is a kernel component that keeps, per rule,
the count, the first refusal's sentence, its limit and value, and the largest value seen (when the values are
numbers), so a run's report can say "max_quantity: 12 orders refused, limit 1,000 shares, value up to 5,000".
``BarSymbols`` lists a bar feed's symbols for the report's header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from tapeflow.model.market import Bar
from tapeflow.model.orders import RiskRejected

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

Scalar = int | float | str | None


class RuleRejections(msgspec.Struct, kw_only=True):
    """One rule's refusals in a run (``first_*`` from the first refusal, in event time)."""

    rule: str
    stage: str
    count: int = 0
    first_reason: str = ""
    first_ts_ns: int = 0
    first_order: str = ""
    limit: Scalar = None
    first_value: Scalar = None
    max_value: int | float | None = None
    """The largest numeric value refused, or None when the rule's values are not numbers."""


TIMELINE_LIMIT = 20_000
"""Refusals kept with their time for the tear sheet's timeline (the counts above go on past it)."""


class RejectionLog:
    """A component subscribing only to ``RiskRejected`` (nothing else pays for it)."""

    def __init__(self, timeline_limit: int = TIMELINE_LIMIT) -> None:
        self.by_rule: dict[str, RuleRejections] = {}
        self.timeline_limit = timeline_limit
        self.times: list[int] = []
        """``ts_event`` of the first ``timeline_limit`` refusals, parallel to ``rules``."""
        self.rules: list[str] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(RiskRejected, self.on_rejected)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_rejected(self, event: RiskRejected) -> None:
        entry = self.by_rule.get(event.rule)
        if entry is None:
            entry = RuleRejections(
                rule=event.rule,
                stage=event.stage,
                first_reason=event.reason,
                first_ts_ns=event.ts_event,
                first_order=event.client_order_id,
                limit=event.limit,
                first_value=event.value,
            )
            self.by_rule[event.rule] = entry
        entry.count += 1
        if len(self.times) < self.timeline_limit:
            self.times.append(event.ts_event)
            self.rules.append(event.rule)
        value = event.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            entry.max_value = value if entry.max_value is None else max(entry.max_value, value)

    def report(self) -> list[dict[str, Any]]:
        """The rules in name order, as JSON-ready dicts."""
        return [msgspec.to_builtins(self.by_rule[name]) for name in sorted(self.by_rule)]

    def timeline(self) -> dict[str, Any]:
        """The refusals in event order (``ts`` ns UTC, ``rule``), and how many were left out past the limit."""
        total = sum(entry.count for entry in self.by_rule.values())
        return {"ts": list(self.times), "rule": list(self.rules), "left_out": total - len(self.times)}


class BarSymbols:
    """The symbols of a bar feed, for the run's header: bar runs keep no books, so nothing else lists them.

    Subscribes to ``Bar`` only (a bar run has few events; tick runs do not pay for it)."""

    def __init__(self) -> None:
        self.symbols: set[str] = set()

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Bar, self.on_bar)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_bar(self, bar: Bar) -> None:
        self.symbols.add(bar.symbol)
