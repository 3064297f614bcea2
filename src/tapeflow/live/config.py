"""``tapeflow live CONFIG.toml``: which venue to trade on, which symbols to watch, and the node that decides.

The node's sections mean exactly what they mean to ``tapeflow backtest`` (``[strategy]``, ``[portfolio]``,
``[risk]``, ``[audit]``, ``[stp]``, ``[exchange]`` for the session calendar, ``[output]``): they are the
backtest's own structs, checked by the backtest's own checks, so a strategy moves from a backtest to live with its
configuration. What only a simulation has (``[data]``: the feed is the venue's; ``[latency]``, ``[fees]``: the
real ones apply) is refused, not ignored. ``[live]`` holds what only a live run has:

```toml
[live]
venue = "paper"                   # paper (default: a `tapeflow paper` server) | alpaca-paper | alpaca-live
url = "http://127.0.0.1:8000"     # paper only: where `tapeflow paper` listens (it prints this)
symbols = ["AAPL"]                # one data connection for all of them
feed = "iex"                      # iex | sip | delayed_sip | test
stale_after_s = 5.0               # no market data this long while the market is open: the feed is stale
backfill_lookback_s = 10.0        # a print held back this long when the socket drops is still backfilled
cancel_on_stop = true             # a graceful stop cancels the open orders first
control_socket = "live.sock"      # `tapeflow kill --socket live.sock` reaches the running node (mode 0600)
clock = "venue"                   # the paper venue's default: node time = the tape's time; Alpaca: "wall"

[live.backoff]                    # waits between reconnects and REST retries (exponential, full jitter)
initial = 0.5
cap = 30.0
```

Keys never live in a configuration: they come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` or from
``keys_file`` (``tapeflow.live.keys``); a ``key`` or ``secret`` written in ``[live]`` is refused with a line
saying where they go. ``alpaca-live`` trades real money and needs ``--i-mean-live`` on the command line as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

import msgspec

from tapeflow.backtest.config import (
    AuditSection,
    BacktestConfig,
    DataConfig,
    OutputConfig,
    PortfolioSection,
    StpSection,
    StrategyConfig,
    check_backtest_config,
)
from tapeflow.config import load_config
from tapeflow.live.backoff import BackoffConfig
from tapeflow.ml.config import MlSection
from tapeflow.model.errors import ConfigError
from tapeflow.risk.config import RiskConfig
from tapeflow.venues.sim.exchange import SimExchangeConfig

VenueName = Literal["paper", "alpaca-paper", "alpaca-live"]
Feed = Literal["iex", "sip", "delayed_sip", "test"]


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    """Where each of a venue's four services answers."""

    trading: str
    """REST: orders, positions, account (``/v2/...``)."""
    trade_stream: str
    """The ``trade_updates`` websocket."""
    data_stream: str
    """The stock data stream v2 (one connection for all symbols)."""
    data_rest: str
    """Market data REST (backfill after a gap)."""


ALPACA: Final[dict[str, tuple[str, str]]] = {
    "alpaca-paper": ("https://paper-api.alpaca.markets", "wss://paper-api.alpaca.markets/stream"),
    "alpaca-live": ("https://api.alpaca.markets", "wss://api.alpaca.markets/stream"),
}
"""Alpaca's documented trading endpoints; market data is the same service for both."""
ALPACA_DATA_STREAM: Final = "wss://stream.data.alpaca.markets/v2/"
ALPACA_DATA_REST: Final = "https://data.alpaca.markets"
FORBIDDEN_IN_CONFIG: Final = frozenset({"key", "secret", "key_id", "secret_key", "api_key", "api_secret"})


class LiveSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    venue: VenueName = "paper"
    url: str | None = None
    """The paper venue's address (``tapeflow paper`` prints it); default ``http://127.0.0.1:8000``. Refused for
    Alpaca's venues, whose addresses are fixed (a typo must not send orders somewhere else)."""
    symbols: tuple[str, ...] = ()
    feed: Feed = "iex"
    channels: tuple[Literal["trades", "quotes", "bars"], ...] = ("trades", "quotes")
    keys_file: str | None = None
    """A TOML file with ``key_id`` and ``secret_key`` (readable by its owner only); relative to this file."""
    stale_after_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    silent_reconnect_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """A data socket silent this long while the market is open is closed and opened again."""
    backfill_lookback_s: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    """How long a trade or bar may be held back on its way and still be recovered by the backfill after a drop
    (``MarketFeedConfig.backfill_lookback``): a longer wait costs a longer REST request at each reconnect."""
    cancel_on_stop: bool = True
    stop_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """How long a graceful stop waits for the venue to confirm the cancels."""
    control_socket: str | None = None
    """A unix socket (mode 0600) through which ``tapeflow kill --socket`` reaches the node; relative to this file."""
    run_id: str | None = None
    """The prefix of this run's client order ids; default: made from the start time (unique across restarts)."""
    seed: int = 0
    """Seeds the reconnect jitter (so a test sees the same waits)."""
    clock: Literal["wall", "venue"] | None = None
    """The node's time: ``wall`` (Alpaca's default: now is now) or ``venue`` (the paper venue's default: the time of
    the newest market data, so a replayed day keeps its own date and session; ``tapeflow.live.venue_clock``)."""
    backoff: BackoffConfig = BackoffConfig()

    @property
    def node_clock(self) -> Literal["wall", "venue"]:
        if self.clock is not None:
            return self.clock
        return "venue" if self.venue == "paper" else "wall"

    def endpoints(self) -> Endpoints:
        """The four addresses of the configured venue."""
        if self.venue == "paper":
            base = (self.url or "http://127.0.0.1:8000").rstrip("/")
            ws = "ws" + base.removeprefix("http")
            return Endpoints(trading=base, trade_stream=f"{ws}/stream", data_stream=f"{ws}/v2/{self.feed}",
                             data_rest=base)  # fmt: skip
        trading, stream = ALPACA[self.venue]
        return Endpoints(trading=trading, trade_stream=stream, data_stream=ALPACA_DATA_STREAM + self.feed,
                         data_rest=ALPACA_DATA_REST)  # fmt: skip


class LiveConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    live: LiveSection = LiveSection()
    strategy: StrategyConfig = StrategyConfig()
    portfolio: PortfolioSection = PortfolioSection()
    risk: RiskConfig | Literal["off"] | msgspec.UnsetType = msgspec.UNSET
    audit: AuditSection = AuditSection()
    stp: StpSection = StpSection()
    exchange: SimExchangeConfig = SimExchangeConfig()
    """Only its session calendar matters live (the feed's staleness counts while the market is open)."""
    output: OutputConfig = OutputConfig()
    ml: MlSection | None = None
    """The ``[ml]`` section, as in a backtest; live, trainings run in the process pool and arrive via the inbox."""

    def as_backtest(self) -> BacktestConfig:
        """The node's sections as a backtest configuration, for the backtest's checks and defaults."""
        return BacktestConfig(
            data=DataConfig(kind="lobster"),  # a tick feed: the default risk rules of intraday data
            strategy=self.strategy,
            exchange=self.exchange,
            portfolio=self.portfolio,
            risk=self.risk,
            audit=self.audit,
            stp=self.stp,
            output=self.output,
            ml=self.ml,
        )


_REFUSED_SECTIONS: Final = {
    "data": "the live feed is the venue's market data: list the symbols in [live] symbols",
    "latency": "a live run has the real latency; the paper venue's configuration models it",
    "fees": "the venue charges the real fees; the paper venue's configuration models them",
    "no_fees": "the venue charges the real fees; the paper venue's configuration models them",
}


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and check a file whole: every mistake is one line naming the field, before any socket opens."""
    p = Path(path)
    try:
        raw = msgspec.toml.decode(p.read_bytes()) if p.is_file() else None
    except (OSError, msgspec.DecodeError):
        raw = None  # load_config below reports it with the file's name
    if isinstance(raw, dict):
        _refuse_simulation_and_keys(raw, p)
    cfg = load_config(p, LiveConfig)
    base = p.absolute().parent
    cfg = _resolve_paths(cfg, base)
    try:
        check_live_config(cfg)
    except ConfigError as exc:
        if exc.path is not None:
            raise
        message = str(exc).removeprefix(f"field `{exc.field}`: " if exc.field is not None else "")
        raise ConfigError(message, path=p, field=exc.field) from exc
    return cfg


def _refuse_simulation_and_keys(raw: dict[str, object], path: Path) -> None:
    for section, why in _REFUSED_SECTIONS.items():
        if section in raw:
            raise ConfigError(f"[{section}] has no meaning live: {why}", path=path, field=section)
    live = raw.get("live")
    if isinstance(live, dict):
        for name in sorted(FORBIDDEN_IN_CONFIG & live.keys()):
            raise ConfigError(
                "keys never go in a configuration (it gets copied, committed, shared): set APCA_API_KEY_ID and "
                "APCA_API_SECRET_KEY, or name a file with `keys_file`",
                path=path,
                field=f"live.{name}",
            )


def _resolve_paths(cfg: LiveConfig, base: Path) -> LiveConfig:
    """Paths in the file are relative to the file, so a configuration runs the same from any directory."""
    live = cfg.live
    changes = {
        name: str(base / value)
        for name, value in (("keys_file", live.keys_file), ("control_socket", live.control_socket))
        if value is not None and not Path(value).is_absolute()
    }
    if changes:
        cfg = msgspec.structs.replace(cfg, live=msgspec.structs.replace(live, **changes))
    audit = cfg.audit
    audit_changes = {
        name: str(base / value)
        for name, value in (("path", audit.path), ("key_file", audit.key_file))
        if value is not None and not Path(value).is_absolute()
    }
    if audit_changes:
        cfg = msgspec.structs.replace(cfg, audit=msgspec.structs.replace(audit, **audit_changes))
    if cfg.output.dir is not None and not Path(cfg.output.dir).is_absolute():
        cfg = msgspec.structs.replace(cfg, output=OutputConfig(dir=str(base / cfg.output.dir)))
    return cfg


def check_live_config(cfg: LiveConfig) -> None:
    """What decoding cannot check: the venue's address, the symbols, and the node's sections."""
    live = cfg.live
    if not live.symbols:
        raise ConfigError('no symbols to trade: list them, e.g. symbols = ["AAPL"]', field="live.symbols")
    for i, symbol in enumerate(live.symbols):
        if not symbol or symbol != symbol.strip().upper() or len(symbol) > 11:
            raise ConfigError(f"{symbol!r} is not a ticker (upper case, no spaces)", field=f"live.symbols[{i}]")
    if len(set(live.symbols)) != len(live.symbols):
        raise ConfigError("a symbol is listed twice", field="live.symbols")
    if live.venue == "paper":
        url = live.url or "http://127.0.0.1:8000"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{url!r} is not an http(s) address such as http://127.0.0.1:8000", field="live.url")
    elif live.url is not None:
        raise ConfigError(
            f"{live.venue} has fixed addresses; `url` is for the local paper venue only (remove it)", field="live.url"
        )
    if live.clock == "venue" and live.venue != "paper":
        raise ConfigError(
            f'{live.venue} trades today: its clock is the wall clock (clock = "venue" is for the paper venue\'s '
            "recorded day)",
            field="live.clock",
        )
    if not live.channels:
        raise ConfigError('no market data channels: give e.g. channels = ["trades", "quotes"]', field="live.channels")
    if live.silent_reconnect_s < live.stale_after_s:
        raise ConfigError(
            f"silent_reconnect_s ({live.silent_reconnect_s}) is shorter than stale_after_s ({live.stale_after_s}): "
            "a silent socket is marked stale first, then reconnected",
            field="live.silent_reconnect_s",
        )
    if cfg.ml is not None and cfg.ml.trainer == "inline":
        raise ConfigError(
            'trainer = "inline" fits the model on the loop\'s thread and would stall a live node: use "pool"',
            field="ml.trainer",
        )
    check_backtest_config(cfg.as_backtest())
