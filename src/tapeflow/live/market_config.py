"""``[live.market_data]``: the market data feed's settings, and when the market counts as open for staleness.

Apart from ``tapeflow.live.market_feed`` so that a configuration can be read and checked without the websocket
client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from tapeflow.live.backoff import BackoffConfig
from tapeflow.model.errors import ConfigError
from tapeflow.model.sessions import SessionCalendar, calendar_for

DATA_CHANNELS: Final = frozenset({"trades", "quotes", "bars", "statuses"})


class MarketFeedConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[live.market_data]``: where the stream is, what to subscribe to, and when silence means stale."""

    url: str
    """The stream's whole websocket URL, feed included (``wss://stream.data.alpaca.markets/v2/iex``)."""
    symbols: tuple[str, ...]
    channels: tuple[str, ...] = ("trades", "quotes")
    rest_url: str = ""
    """Market data REST base (``https://data.alpaca.markets``); empty: no backfill (the gap is reported)."""
    feed: str = "iex"
    """The ``feed`` of REST queries (the stream's is in its URL)."""
    venue: str = "alpaca"
    """The name the status events carry (risk matches it with orders' venue)."""
    stale_after: float = 5.0
    reconnect_after: float = 5.0
    """Seconds of further silence after ``FeedStale`` before the socket is closed and reconnected."""
    open_timeout: float = 10.0
    """Seconds the connect and each handshake step may take."""
    rest_timeout: float = 10.0
    msgpack: bool = True
    """Ask for msgpack frames (as alpaca-py does); False: JSON text."""
    max_frame_bytes: int = 16 * 2**20
    """A larger frame closes the connection (1009) and counts as a failure: memory stays bounded."""
    backoff: BackoffConfig = BackoffConfig()
    backfill_lookback: float = 10.0
    """Seconds a trade or bar may be held back on its way (the server's buffer, the network) and still be
    recovered after a drop: the backfill asks REST again from the newest time delivered this long before the drop
    (``tapeflow.live.market_guard``). 0: from the newest time delivered, which loses a held-back older print."""

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"must be a ws:// or wss:// URL, got {self.url!r}", field="live.market_data.url")
        if self.rest_url and not self.rest_url.startswith(("http://", "https://")):
            raise ConfigError(f"must be an http(s) URL, got {self.rest_url!r}", field="live.market_data.rest_url")
        if not self.symbols or not all(self.symbols):
            raise ConfigError("name at least one symbol, none empty", field="live.market_data.symbols")
        unknown = set(self.channels) - DATA_CHANNELS
        if unknown or not self.channels:
            raise ConfigError(f"channels are {sorted(DATA_CHANNELS)}, got {list(self.channels)}", field="channels")
        for name in ("stale_after", "reconnect_after", "open_timeout", "rest_timeout", "max_frame_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)}", field=f"live.market_data.{name}")
        if not self.backfill_lookback >= 0:
            raise ConfigError(
                f"must be 0 or more, got {self.backfill_lookback}", field="live.market_data.backfill_lookback"
            )


def regular_hours(calendar: SessionCalendar | None = None) -> Callable[[int], bool]:
    """``is_open`` from a session calendar (default XNYS): the regular session only."""
    cal = calendar if calendar is not None else calendar_for("XNYS")

    def is_open(ts: int) -> bool:
        session = cal.session_at(ts)
        return session is not None and session.part(ts) == "regular"

    return is_open
