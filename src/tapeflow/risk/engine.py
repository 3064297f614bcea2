"""The pre-trade risk engine: the only path from a strategy's command to a venue.

Strategies put ``SubmitOrder`` / ``ModifyOrder`` / ``CancelOrder`` on the queue; this engine is their only
subscriber. Each command runs through the rules in order (cheapest first) and stops at the first failure, which
becomes a ``RiskRejected`` event for the strategy; a command that passes every rule goes to the execution engine.
Cancels are never blocked: reducing risk must always be possible.

Rules are small objects with a name, a stage and one method; the rule set here is deliberately minimal and is
grown by the risk issue (order checks, account checks, flow checks, kill switch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import msgspec

from tapeflow.model.orders import CancelOrder, ModifyOrder, RiskRejected, SubmitOrder
from tapeflow.venues.base import Command

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.execution.engine import ExecutionEngine


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """Why a rule refused a command: the limit, the value that broke it, and a sentence for a human."""

    reason: str
    limit: int | float | str | None = None
    value: int | float | str | None = None


class RiskRule(Protocol):
    name: str
    stage: str

    def check(self, command: SubmitOrder | ModifyOrder) -> Violation | None: ...


class MaxOrderQuantity:
    """Stage 1 example rule: no order larger than ``limit`` shares."""

    stage = "order"

    def __init__(self, limit: int, name: str = "max_order_quantity") -> None:
        self.limit = limit
        self.name = name

    def check(self, command: SubmitOrder | ModifyOrder) -> Violation | None:
        if command.quantity > self.limit:
            return Violation(
                reason=f"order quantity {command.quantity} exceeds the maximum of {self.limit} shares",
                limit=self.limit,
                value=command.quantity,
            )
        return None


class RiskEngine:
    def __init__(self, execution: ExecutionEngine, rules: Sequence[RiskRule] = ()) -> None:
        self._execution = execution
        self.rules = list(rules)
        self._kernel: Kernel | None = None
        self.passed = 0
        self.rejected = 0
        self.rejections_by_rule: dict[str, int] = {}

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(SubmitOrder, self.on_command)
        kernel.subscribe(ModifyOrder, self.on_command)
        kernel.subscribe(CancelOrder, self.on_command)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_command(self, command: Command) -> None:
        if not isinstance(command, CancelOrder):
            for rule in self.rules:
                violation = rule.check(command)
                if violation is not None:
                    self._reject(command, rule, violation)
                    return
        self.passed += 1
        self._execution.execute(command)

    def _reject(self, command: SubmitOrder | ModifyOrder, rule: RiskRule, violation: Violation) -> None:
        assert self._kernel is not None, "RiskEngine used before it was added to a kernel"
        self.rejected += 1
        self.rejections_by_rule[rule.name] = self.rejections_by_rule.get(rule.name, 0) + 1
        now = self._kernel.now
        self._kernel.emit(
            RiskRejected(
                ts_event=now,
                ts_init=now,
                strategy_id=command.strategy_id,
                client_order_id=command.client_order_id,
                symbol=command.symbol,
                stage=rule.stage,
                rule=rule.name,
                reason=violation.reason,
                limit=violation.limit,
                value=violation.value,
            )
        )
