"""Stage 3: how fast and how many, and the rules that trip the kill switch.

Throttles are token buckets in exact integers: a bucket holds up to ``burst`` tokens of ``NS`` units each and
gains ``rate`` units per nanosecond, so "``rate`` orders a second with bursts of ``burst``" needs no float and
gives the same answer on every run. A bucket is spent in ``commit``, only by a command that passed every rule,
so that what it limits is exactly what reaches the venue.

Trip rules (``observe``) see every submit and modify after the decision, passed or refused: a runaway strategy is
recognised by what it tries, not by what gets through.
"""

from __future__ import annotations

from tapeflow.config import compiled_core_chosen
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import price_to_str
from tapeflow.risk.context import NS, RiskContext
from tapeflow.risk.ledger import Impl
from tapeflow.risk.rules import FLOW, NOTHING, FastCheck, Rule, Violation
from tapeflow.risk.throttle import Throttle, TokenBucket, reconfigured, throttle
from tapeflow.risk.window import window

try:  # the duplicate table's compiled check and record (setup.py builds them); without them the reference runs
    from tapeflow.risk._seen_core import SeenCore

    SEEN_COMPILED = True
except ImportError:  # pragma: no cover - a checkout that was not built
    SEEN_COMPILED = False


class OrderRate(Rule):
    """New orders per second with a burst, per strategy (``by="strategy"``) or per symbol (``by="symbol"``).

    The buckets are a ``throttle.Throttle`` or its compiled twin (chosen with the context's ledger), which the
    fast check reads and writes too: one state, whichever path decides an order."""

    stage = FLOW
    updatable = ("limit", "burst")

    def __init__(self, ctx: RiskContext, limit: int | None, burst: int, by: str, name: str = "") -> None:
        super().__init__()
        self.ctx = ctx
        self._limit = limit
        self._burst = burst
        self.by_symbol = by == "symbol"
        self.name = name or f"{by}_order_rate"
        self.throttle = throttle(burst * NS, limit or 1, ctx.impl)
        """The buckets by strategy or symbol; kept (not refilled) while ``limit`` is None."""

    @property
    def limit(self) -> int | None:
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit = value
        self._configure()

    @property
    def burst(self) -> int:
        return self._burst

    @burst.setter
    def burst(self, value: int) -> None:
        self._burst = value
        self._configure()

    def _configure(self) -> None:
        if self._limit is not None:
            self.throttle = reconfigured(self.throttle, self._burst * NS, self._limit)

    def fast_check(self) -> FastCheck:
        """Refilled without writing back, then spent on a pass: a refusal changes no bucket. Over the compiled
        buckets one call each (``ready``, ``take``: the arithmetic in C integers, issue 19 round 10); over the
        reference the same steps written out, the cap as a compare, not ``min`` (a builtin call less)."""
        if self.limit is None:
            return NOTHING
        key = "symbol" if self.by_symbol else "strategy"
        state = self.throttle
        if not isinstance(state, Throttle):
            code = f"if not ready({key}, now):\n    return 0\n"
            return FastCheck(code, {"ready": state.ready, "take": state.take}, f"take({key}, now)\n")
        code = f"""
bucket = buckets_get({key})
if bucket is None:
    tokens = cap
elif now <= bucket.last:
    tokens = bucket.tokens
else:
    tokens = bucket.tokens + (now - bucket.last) * rate
    if tokens > cap:
        tokens = cap
if tokens < NS:
    return 0
"""
        spend = f"""
if bucket is None:
    buckets[{key}] = TokenBucket(tokens - NS, now)
else:
    bucket.tokens = tokens - NS
    if now > bucket.last:
        bucket.last = now
"""
        buckets = state.buckets
        names = {"buckets": buckets, "buckets_get": buckets.get, "cap": state.cap, "rate": state.rate}
        return FastCheck(code, {**names, "TokenBucket": TokenBucket}, spend)

    def fast_check_modify(self) -> FastCheck | None:
        """A modify is not a new order: it spends no token here (``counts``)."""
        return NOTHING

    def _key(self, command: SubmitOrder) -> str:
        return command.symbol if self.by_symbol else command.strategy_id

    def counts(self, command: SubmitOrder) -> bool:
        return not self.ctx.modifying

    def check(self, command: SubmitOrder) -> Violation | None:
        limit = self.limit
        if limit is None or not self.counts(command):
            return None
        tokens = self.throttle.refill(self._key(command), self.ctx.now)
        if tokens < NS:
            wait_us = -(-(NS - tokens) // limit) // 1_000
            who = command.symbol if self.by_symbol else f"strategy {command.strategy_id}"
            return Violation(
                reason=f"{who} is over {limit} orders/s (burst {self.burst}); next allowed in {wait_us} us",
                limit=limit,
                value=f"burst of {self.burst} spent",
            )
        return None

    def commit(self, command: SubmitOrder) -> None:
        if self.limit is not None and self.counts(command):
            self.throttle.take(self._key(command), self.ctx.now)


class MessageRate(OrderRate):
    """Every command of a strategy, modifies and cancels included; a cancel spends a token (when there is one)
    but is never refused, because reducing risk must always be possible."""

    def __init__(self, ctx: RiskContext, limit: int | None, burst: int) -> None:
        super().__init__(ctx, limit, burst, "strategy", "message_rate")

    def counts(self, command: SubmitOrder) -> bool:
        return True

    def fast_check_modify(self) -> FastCheck | None:
        """Every message counts, a modify too: the submit's part."""
        return self.fast_check()

    def on_cancel(self, command: SubmitOrder) -> None:
        if self.limit is None:
            return
        key = self._key(command)
        if self.throttle.refill(key, self.ctx.now) >= NS:
            self.throttle.spend(key)


SPEND_COMPILED = "if record(key, now):\n    prune(now)\n"
"""The compiled table's record: it stores first and says whether the table was crowded; pruning after keeps the
key just stored (it is inside the window), so the table ends as the reference's prune-then-store leaves it."""


class DuplicateOrder(Rule):
    """The same strategy, symbol, side, size, type and price again within ``limit`` ns: a loop, not a decision."""

    stage = FLOW
    name = "duplicate_order"

    def __init__(self, ctx: RiskContext, limit: int | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.limit = limit
        self._core = (
            SeenCore() if compiled_core_chosen(ctx.impl, SEEN_COMPILED, "the compiled duplicate table") else None
        )
        """The fast check's lookup and record in C (``_seen_core.pyx``) over the same table; None: the reference."""
        self._seen: dict[tuple[object, ...], int] = {} if self._core is None else self._core.seen

    @staticmethod
    def _key(c: SubmitOrder) -> tuple[object, ...]:
        """The enums by their value: an enum member hashes in Python code, its value string in C."""
        return (c.strategy_id, c.symbol, c.side._value_, c.quantity, c.price, c.order_type._value_, c.stop_price)

    def check(self, command: SubmitOrder) -> Violation | None:
        if self.limit is None or self.ctx.modifying:
            return None
        last = self._seen.get(self._key(command))
        if last is not None and self.ctx.now - last < self.limit:
            age = (self.ctx.now - last) // 1_000
            return Violation(
                reason=f"same order as one sent {age} us ago (window {self.limit // 1_000_000} ms)",
                limit=self.limit,
                value=self.ctx.now - last,
            )
        return None

    def commit(self, command: SubmitOrder) -> None:
        if self.limit is None or self.ctx.modifying:
            return
        seen = self._seen
        if len(seen) > 4_096:
            self.prune(self.ctx.now)
        seen[self._key(command)] = self.ctx.now

    def fast_check(self) -> FastCheck:
        if self.limit is None:
            return NOTHING
        # ``_key`` written out over the shared values: a call less on every submit (issue 19); a test keeps the two
        # the same (``tests/risk/test_flow_rules.py``)
        key = "key = (strategy, symbol, o.side._value_, q, price, otype._value_, stop_price)\n"
        if self._core is not None:  # the key hashed once, looked up and recorded in C (``_seen_core.pyx``)
            core = self._core
            names = {"fresh": core.fresh, "record": core.record, "window": self.limit, "prune": self.prune}
            return FastCheck(f"{key}if not fresh(key, now, window):\n    return 0\n", names, SPEND_COMPILED)
        code = f"""{key}
last = seen_get(key)
if last is not None and now - last < window:
    return 0
"""
        spend = """
if len(seen) > 4_096:
    prune(now)
seen[key] = now
"""
        seen = self._seen
        names = {"seen": seen, "seen_get": seen.get, "window": self.limit, "prune": self.prune}
        return FastCheck(code, names, spend)

    def fast_check_modify(self) -> FastCheck | None:
        """A modify is never a duplicate and records nothing (``check``, ``commit``)."""
        return NOTHING

    def prune(self, now: int) -> None:
        """Forget orders older than the window, so the map stays small however long the session runs."""
        if self.limit is None:
            return
        seen = self._seen
        horizon = now - self.limit
        for key in [k for k, ts in seen.items() if ts <= horizon]:
            del seen[key]


class MaxOpenOrders(Rule):
    """At most ``limit`` open orders per strategy and ``total`` in all; a modify opens nothing new."""

    stage = FLOW
    name = "max_open_orders"
    updatable = ("limit", "total")

    def __init__(self, ctx: RiskContext, limit: int | None, total: int | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.limit = limit
        self.total = total

    def check(self, command: SubmitOrder) -> Violation | None:
        if self.ctx.modifying:
            return None
        ledger = self.ctx.ledger
        if self.limit is not None:
            count = ledger.by_strategy.get(command.strategy_id, 0)
            if count >= self.limit:
                return Violation(
                    reason=f"strategy {command.strategy_id} already has {count} open orders (limit {self.limit})",
                    limit=self.limit,
                    value=count + 1,
                )
        if self.total is not None and len(ledger) >= self.total:
            return Violation(
                reason=f"{len(ledger)} open orders in all (limit {self.total})", limit=self.total, value=len(ledger) + 1
            )
        return None

    def fast_check(self) -> FastCheck:
        ledger = self.ctx.ledger
        code = ""
        if self.limit is not None:
            code += "if by_strategy_get(strategy, 0) >= limit:\n    return 0\n"
        if self.total is not None:
            code += "if len(entries) >= total:\n    return 0\n"
        names = {"by_strategy_get": ledger.by_strategy.get, "entries": ledger.entries(), "limit": self.limit}
        return FastCheck(code, {**names, "total": self.total})

    def fast_check_modify(self) -> FastCheck | None:
        """A modify opens nothing new."""
        return NOTHING


class RunawayDetector:
    """More than ``limit`` orders attempted by one strategy within the window: a loop (the Knight Capital case)."""

    name = "runaway"

    def __init__(self, limit: int, window_ns: int, impl: Impl = "auto") -> None:
        self.limit = limit
        self._window = window(window_ns, impl)

    def observe(self, command: SubmitOrder, rejected: bool, ctx: RiskContext) -> str | None:
        count = self._window.add(command.strategy_id, ctx.now)
        return self.reason(command.strategy_id, count) if count > self.limit else None

    def fast_observe(self) -> FastCheck:
        """What ``observe`` does after a pass, inside the fast path."""
        code = """
count = add(strategy, now)
if count > limit:
    kill(reason(strategy, count), source="rule", rule=name)
    return ref
"""
        return FastCheck(code, {"add": self._window.add, "limit": self.limit, "reason": self.reason, "name": self.name})

    def reason(self, strategy: str, count: int) -> str:
        """The sentence for the kill event."""
        ms = self._window.window_ns // 1_000_000
        return f"strategy {strategy} attempted {count} orders within {ms} ms (limit {self.limit})"


class RepeatedRejects:
    """More than ``limit`` risk rejections of one strategy within the window: it is not listening."""

    name = "repeated_rejects"

    def __init__(self, limit: int, window_ns: int, impl: Impl = "auto") -> None:
        self.limit = limit
        self._window = window(window_ns, impl)

    def fast_observe(self) -> FastCheck:
        """It counts refusals only: nothing to do after a pass."""
        return NOTHING

    def observe(self, command: SubmitOrder, rejected: bool, ctx: RiskContext) -> str | None:
        if not rejected:
            return None
        count = self._window.add(command.strategy_id, ctx.now)
        if count > self.limit:
            ms = self._window.window_ns // 1_000_000
            return f"strategy {command.strategy_id} had {count} risk rejections within {ms} ms (limit {self.limit})"
        return None


class LossTrip:
    """The day's loss reached ``limit`` (1/10,000 dollar): stop everything, not only new exposure."""

    name = "daily_loss_kill"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def observe(self, command: SubmitOrder, rejected: bool, ctx: RiskContext) -> str | None:
        loss = ctx.daily_loss()
        return self.reason(loss) if loss >= self.limit else None

    def fast_observe(self) -> FastCheck:
        """``ctx.daily_loss()`` with the day's baseline kept beside the day's bounds, as the ``max_daily_loss``
        rule's fast part keeps it (fixed for the day once taken): two compares and the shared ``equity`` on a pass,
        not ``daily_loss``'s four calls (itself, the calendar's day, the equity, its net; issue 19, round 7). The
        composer reads ``equity`` afresh after the order went to execution (``fast.compile_check``), as
        ``ctx.equity()`` would, without its two calls (round 11). A new day's first pass takes the baseline through
        ``daily_loss``, as ``observe`` does."""
        code = """
if day[0] <= now < day[1]:
    loss = day[2] - equity
else:
    loss = ctx.daily_loss()
    baseline = ctx.day_baseline(now)
    if baseline is not None:
        calendar = ctx.calendar
        day[0], day[1], day[2] = calendar.day_start, calendar.day_end, baseline
if loss >= limit:
    kill(reason(loss), source="rule", rule=name)
"""
        return FastCheck(code, {"day": [0, 0, 0], "limit": self.limit, "reason": self.reason, "name": self.name})

    def reason(self, loss: int) -> str:
        return f"today's loss ${price_to_str(loss)} reached the kill limit of ${price_to_str(self.limit)}"
