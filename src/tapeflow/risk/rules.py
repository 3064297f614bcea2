"""What every rule shares: a name, a stage, one check, and limits that change only through ``set_limit``.

A rule is an object with ``name``, ``stage`` and ``check(order) -> Violation | None``: the smallest thing the
engine can call on the hot path. Rules that keep state (token buckets, duplicate windows) also have ``commit``,
called only once a command has passed every rule, so that a command refused later in the pipeline does not
spend a token. ``set_limit`` is called by the engine for an ``UpdateRiskLimit`` event: the event is the record.

A built-in rule also says how to check it fast (``fast_check``): the engine composes those into one function
(``risk/fast.py``) that only ever decides "certainly passes", so each rule's limits and logic live in its class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

import msgspec

from tapeflow.model.orders import SubmitOrder
from tapeflow.model.risk_events import LimitValue

if TYPE_CHECKING:
    from tapeflow.risk.context import RiskContext

ORDER = "order"
ACCOUNT = "account"
FLOW = "flow"


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """Why a rule refused a command: the limit, the value that broke it, and a sentence for a human."""

    reason: str
    limit: int | float | str | None = None
    value: int | float | str | None = None


class FastCheck(NamedTuple):
    """One rule's part of the fast path: Python statements over the order and the shared values ``risk/fast.py``
    lists, with ``return 0`` wherever the order *may* fail (the ordered rules then decide and name the refusal).

    ``names`` binds what the statements read of the rule itself (its limits, its own state, public accessors);
    ``LIMIT`` stands for the rule's ``limit`` for the order's symbol (per-symbol overrides folded into one table
    lookup per order). ``spend`` runs once the order has passed every rule: what ``commit`` does, reusing what the
    check computed. The statements must change no state before the order has passed. Every name a part binds is
    its own (renamed apart when composed), and no value is ever formatted into the text: the source depends only
    on which rules are on, never on a limit.
    """

    code: str = ""
    names: Mapping[str, object] = {}
    spend: str = ""


NOTHING = FastCheck()
"""The fast check of a rule that can refuse nothing as configured (no limit set)."""


class RiskRule(Protocol):
    """A ``ModifyOrder`` is checked as the ``SubmitOrder`` it would turn the order into (``ctx.modifying``)."""

    name: str
    stage: str

    def check(self, command: SubmitOrder) -> Violation | None: ...


class TripRule(Protocol):
    """Sees every submit and modify after the decision; a returned sentence engages the kill switch."""

    name: str

    def observe(self, command: SubmitOrder, rejected: bool, ctx: RiskContext) -> str | None: ...


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

    def fast_check(self) -> FastCheck | None:
        """This rule's part of the fast path; None when it has none (the engine then calls ``check``)."""
        return None

    def fast_check_modify(self) -> FastCheck | None:
        """This rule's part for a ``ModifyOrder``, checked as the order it would become (``ctx.modifying``): by
        default the submit's part, right for a rule whose ``check`` does not read ``ctx.modifying``, since the
        shared values of a modify (``projected``, ``reducing``, ``projected_gross``) already leave the order's own
        open shares and notional out. A rule that treats a modify differently overrides it."""
        return self.fast_check()

    def limited(self) -> bool:
        """True when ``limit`` is set for some symbol, by default or by an override."""
        return getattr(self, "limit", None) is not None or bool(self.per_symbol)

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
