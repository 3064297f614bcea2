"""Risk configuration: the ``[risk]`` TOML section as frozen, validated structs.

Units are chosen so that a limit in a file reads the way a risk manager says it: shares, whole dollars (``_usd``,
converted to 1/10,000 dollar when the rules are built), basis points for percentages (500 bps = 5%), orders per
second, milliseconds. Integers throughout, so a limit is exact and a run is deterministic.

``None`` turns a limit off. Validation happens once, at start (``validate``): type and range errors from the
decoder and cross-field errors (a maintenance margin above the initial one) both raise ``ConfigError`` naming the
field, e.g. ``risk.account.maintenance_margin_bps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from tapeflow.model.errors import ConfigError
from tapeflow.risk.kill_cancels import MAX_ATTEMPTS, MAX_RETRY_NS, RETRY_NS, UNANSWERED_NS, UNSENT_NS, ChaseTiming

MS = 1_000_000
"""Nanoseconds in a millisecond: the ``_ms`` fields are read into event time with it."""

NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Pos = Annotated[int, msgspec.Meta(gt=0)]
Bps = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Session = Literal["pre", "regular", "post"]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class SymbolLimits(_Section, frozen=True, kw_only=True):
    """Overrides for one symbol; a field left out falls back to the default of its section."""

    max_quantity: Pos | None = None
    max_notional_usd: Pos | None = None
    max_position: Pos | None = None
    max_gross_usd: Pos | None = None
    max_net_usd: Pos | None = None


class OrderChecks(_Section, frozen=True, kw_only=True):
    """Stage 1: what one order may look like on its own."""

    max_quantity: Pos | None = 10_000
    max_notional_usd: Pos | None = 1_000_000
    min_quantity: Pos = 1
    lot_size: Pos = 100
    round_lots_only: bool = False
    """Odd lots are legal in US equities; set this for a strategy that should never send one."""
    check_ticks: bool = True
    """Rule 612: $0.01 increments at or above $1.00, $0.0001 below."""
    restricted: tuple[str, ...] = ()
    hard_to_borrow: tuple[str, ...] = ()
    locates: dict[str, NonNeg] = {}
    """Shares located per symbol (Reg SHO 203(b)(1)); a short position beyond them is refused."""
    require_locate: bool = True
    """True: every short sale needs a locate. False: only names on ``hard_to_borrow`` do (easy-to-borrow list)."""
    collar_bps: Bps | None = 500
    """A limit buy above mid x (1 + collar) or a limit sell below mid x (1 - collar) is refused."""
    max_spread_bps: Pos | None = 100
    """Market orders are refused when the spread is wider than this (in bps of the mid) or a side is empty."""
    reject_stale_book: bool = True
    reject_crossed_book: bool = True
    """Refuse orders while the symbol's book is crossed or locked (best bid >= best ask)."""
    sessions: tuple[Session, ...] = ("regular",)
    """pre 04:00 to the open, regular (09:30-16:00, 13:00 close on half days), post 4 h after the close (New York
    time), from the exchange calendar: no session on holidays and closures."""
    block_halted: bool = True


class AccountChecks(_Section, frozen=True, kw_only=True):
    """Stage 2: what the account would hold if every open order and this one filled."""

    max_position: Pos | None = 50_000
    max_gross_usd: Pos | None = None
    max_net_usd: Pos | None = None
    max_symbol_gross_usd: Pos | None = None
    max_symbol_net_usd: Pos | None = None
    initial_margin_bps: Bps | None = 5_000
    """Reg T initial margin (Regulation T, 12 CFR 220.12): 50%. None turns the buying-power check off."""
    maintenance_margin_bps: Bps = 2_500
    """FINRA Rule 4210 minimum maintenance: 25%. Below it only risk-reducing orders pass."""
    min_net_liquidation_usd: NonNeg | None = None
    max_daily_loss_usd: Pos | None = None
    """Realized plus unrealized, net of fees, since the start of the New York day; past it only reductions."""


class FlowChecks(_Section, frozen=True, kw_only=True):
    """Stage 3: how fast and how many."""

    strategy_orders_per_second: Pos | None = 50
    strategy_burst: Pos = 100
    symbol_orders_per_second: Pos | None = 50
    symbol_burst: Pos = 100
    messages_per_second: Pos | None = 200
    """Every command of a strategy (submits, modifies and cancels); cancels count but are never refused."""
    message_burst: Pos = 400
    duplicate_window_ms: Pos | None = 100
    max_open_orders: Pos | None = 200
    """Per strategy."""
    max_open_orders_total: Pos | None = 1_000


class KillSwitchConfig(_Section, frozen=True, kw_only=True):
    state_file: str | None = None
    """JSON file keeping the switch across restarts (written atomically); None keeps it in memory only."""
    signal_file: str | None = None
    """A file whose existence engages the switch (``tapeflow kill --signal``); checked at most every
    ``signal_check_ms``."""
    signal_check_ms: Pos = 100
    runaway_orders: Pos | None = 500
    """Engage when one strategy attempts more than this many orders within ``runaway_window_ms``."""
    runaway_window_ms: Pos = 1_000
    max_rejects: Pos | None = 200
    """Engage when one strategy collects more than this many risk rejections within ``reject_window_ms``."""
    reject_window_ms: Pos = 1_000
    max_daily_loss_usd: Pos | None = None
    """Engage when the day's loss reaches this (compare ``account.max_daily_loss_usd``, which only blocks)."""
    cancel_retry_ms: Pos = RETRY_NS // MS
    """While engaged, a cancel of ours the venue refuses (its session up) is sent again after this much event
    time, the wait doubling after each further refusal (``tapeflow.risk.kill_cancels``)."""
    cancel_max_retry_ms: Pos = MAX_RETRY_NS // MS
    """The longest of those waits: the doubling stops here (at least ``cancel_retry_ms``)."""
    cancel_max_refusals: Pos = MAX_ATTEMPTS
    """Refusals in a row of one order's cancel before the ``KillSwitchCancelFailed`` alarm; then the retries
    pause until its venue next comes up or accepts the order."""
    cancel_unanswered_ms: Pos = UNANSWERED_NS // MS
    """While engaged, a cancel of ours with no answer (no cancel report, refusal or fill closing the order) after
    this much event time, its venue up, raises the ``KillSwitchCancelUnanswered`` alarm, once per order; it is
    not sent again (one working cancel per order). At a venue that queues cancels (a network adapter) the wait
    starts when the cancel leaves the node."""
    cancel_unsent_ms: Pos = UNSENT_NS // MS
    """While engaged, when a venue's sender hands over none of the switch's waiting cancels for this much event
    time, each cancel still waiting in the node raises ``KillSwitchCancelUnanswered`` with ``sent=False``."""

    def chase_timing(self) -> ChaseTiming:
        """The ``cancel_*`` fields as the chase reads them (event-time nanoseconds)."""
        return ChaseTiming(
            self.cancel_retry_ms * MS,
            self.cancel_max_retry_ms * MS,
            self.cancel_max_refusals,
            self.cancel_unanswered_ms * MS,
            self.cancel_unsent_ms * MS,
        )


class RiskConfig(_Section, frozen=True, kw_only=True):
    order: OrderChecks = OrderChecks()
    account: AccountChecks = AccountChecks()
    flow: FlowChecks = FlowChecks()
    kill_switch: KillSwitchConfig = KillSwitchConfig()
    symbols: dict[str, SymbolLimits] = {}


class _RiskFile(msgspec.Struct, frozen=True, kw_only=True):
    risk: RiskConfig = RiskConfig()


def _field_of(exc: msgspec.ValidationError, prefix: str) -> str | None:
    text = str(exc)
    if "at `$." in text:
        return prefix + text.split("at `$.", 1)[1].rstrip("`")
    return None


def validate(config: RiskConfig, *, path: str | Path | None = None) -> RiskConfig:
    """Check ranges and cross-field rules; a struct built in Python is checked as strictly as a decoded file."""
    try:
        checked = msgspec.convert(msgspec.to_builtins(config), RiskConfig)
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at `", 1)[0]
        raise ConfigError(f"{message}; fix the value and run again", path=path, field=_field_of(exc, "risk.")) from exc
    acc = checked.account
    if acc.initial_margin_bps is not None and acc.maintenance_margin_bps > acc.initial_margin_bps:
        raise ConfigError(
            f"maintenance margin {acc.maintenance_margin_bps} bps is above the initial margin "
            f"{acc.initial_margin_bps} bps; maintenance must not exceed initial",
            path=path,
            field="risk.account.maintenance_margin_bps",
        )
    flow = checked.flow
    for rate, burst, name in (
        (flow.strategy_orders_per_second, flow.strategy_burst, "strategy_burst"),
        (flow.symbol_orders_per_second, flow.symbol_burst, "symbol_burst"),
        (flow.messages_per_second, flow.message_burst, "message_burst"),
    ):
        if rate is not None and burst < 1:
            raise ConfigError("a burst must allow at least one order", path=path, field=f"risk.flow.{name}")
    kill = checked.kill_switch
    try:
        kill.chase_timing()
    except ValueError as exc:  # the ranges passed the decoder (every wait >= 1): only the two waits' order can fail
        raise ConfigError(
            f"the longest kill-switch cancel wait {kill.cancel_max_retry_ms} ms is below the first "
            f"{kill.cancel_retry_ms} ms; it must be at least the first",
            path=path,
            field="risk.kill_switch.cancel_max_retry_ms",
        ) from exc
    overlap = set(checked.order.restricted) & set(checked.order.locates)
    if overlap:
        raise ConfigError(
            f"{', '.join(sorted(overlap))} is both restricted and located; remove it from one list",
            path=path,
            field="risk.order.locates",
        )
    return checked


def load_risk_config(path: str | Path) -> RiskConfig:
    """Read the ``[risk]`` section of a TOML file (other sections are ignored) and validate it."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=p) from exc
    try:
        risk = msgspec.toml.decode(data, type=_RiskFile).risk
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at `", 1)[0]
        raise ConfigError(f"{message}; fix the value and run again", path=p, field=_field_of(exc, "")) from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from exc
    return validate(risk, path=p)
