"""A seeded synthetic US equity market: L2 deltas, quotes and trades that agree with each other.

Why synthetic data at all: the demo must run on a fresh machine with no data, and benchmarks need inputs of any
size with a known shape. It is built to look like a busy NASDAQ name, not to be a market model:

- one stream per symbol, each with its own random generator spawned from one seed (so streams are independent and
  adding a symbol does not change the others);
- inter-arrival times are exponential with a two-state regime (calm and burst), so events cluster as they do
  around news and sweeps;
- sizes are heavy-tailed (Pareto) in round lots, with some odd lots;
- every price is on the Rule 612 grid ($0.01), the book is never crossed or locked, each side keeps at least
  ``MIN_LEVELS`` levels, and every trade is backed by the depth it consumes: a trade's prints are followed by the
  ``BookDelta`` s that remove that liquidity, then by the new ``Quote`` when the top of book changed.

Everything is a pure function of (config, seed): two runs give byte-identical streams.

With ``SyntheticConfig.regime`` set, each symbol is a ``RegimeSymbolStream``: the same book process through a few
hooks (which side an event acts on, resting sizes, what a marketable order takes, how a thin side is refilled, the
event rate), driven by ``data.synthetic_regime``, so that the book predicts the next mid move with a sign that
changes between regimes. Without it the hooks draw exactly what the plain stream always drew: its output is
byte-identical to the stream before regimes existed (a test holds its hash).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tapeflow.config import RegimeConfig, SyntheticConfig
from tapeflow.data.synthetic_regime import CLEAR, MEAN_EXTRA_LOTS, SWEEP, RegimeProcess
from tapeflow.model.enums import Aggressor, BookAction, Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import BookDelta, BookLevel, BookSnapshot, Quote, Trade
from tapeflow.model.prices import price_from_str

CENT = 100
"""One tick ($0.01) in price units."""
MIN_LEVELS = 5
MAX_LEVELS = 25
LOT = 100
_BLOCK = 8192


class _Uniforms:
    """Uniform draws in blocks: numpy fills them fast, ``tolist`` makes them cheap Python floats."""

    __slots__ = ("_buf", "_i", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.random(_BLOCK).tolist()
            self._i = 0
        u = self._buf[self._i]
        self._i += 1
        return u


class SymbolStream:
    """Generates one symbol's events. Iterate it to get ``count`` events in ``ts_init`` order."""

    def __init__(self, symbol: str, rng: np.random.Generator, *, count: int, start_ns: int, start_px: int) -> None:
        self.symbol = symbol
        self.count = count
        self._u = _Uniforms(rng)
        self._t = start_ns
        self._seq = 0
        self._burst = False
        mid = start_px // CENT
        spread = 1 + int(self._u.next() * 3)
        best_bid = mid - spread // 2
        best_ask = best_bid + spread
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        for i in range(MIN_LEVELS + 8):
            self.bids[best_bid - i] = self._size()
            self.asks[best_ask + i] = self._size()

    # -- random pieces ------------------------------------------------------------------------------------------

    def _size(self) -> int:
        """Heavy-tailed resting size: Pareto(alpha=1.3) round lots, capped; 10% odd lots."""
        u = self._u.next()
        if u < 0.1:
            return 1 + int(u * 990)
        lots = int(1.0 / (1.0 - self._u.next()) ** (1 / 1.3))
        return LOT * min(lots, 200)

    def _side(self, up: Side) -> Side:
        """The side an event acts on; acting on ``up`` would move the mid up. Here a fair coin (the regime market
        leans it)."""
        return Side.BUY if self._u.next() < 0.5 else Side.SELL

    def _level_size(self, side: Side) -> int:
        """The size of a new level on ``side``."""
        return self._size()

    def _resize(self, side: Side, size: int) -> int:
        """A level's new size after an update: a size added or taken away, never below one share."""
        if self._u.next() < 0.55:
            return size + self._size()
        return max(1, size - self._size())

    def _trade_size(self, sizes: list[int]) -> int:
        """What a marketable order asks for; ``sizes`` are those of the levels it may walk (unused here)."""
        return self._size()

    def _gap_ns(self) -> int:
        if self._u.next() < 0.01:  # regimes last ~100 events on average
            self._burst = not self._burst
        mean = 150_000 if self._burst else 4_000_000
        return 1 + int(-math.log(1.0 - self._u.next()) * mean)

    def _depth_index(self, n: int) -> int:
        """Which level to touch: geometric, most activity in the top few levels."""
        k = int(-math.log(1.0 - self._u.next()) * 2.5)
        return min(k, n - 1)

    # -- emission helpers ---------------------------------------------------------------------------------------

    def _delta(self, ts: int, action: BookAction, side: Side, tick: int, size: int) -> BookDelta:
        self._seq += 1
        return BookDelta(
            ts_event=ts,
            ts_init=ts,
            symbol=self.symbol,
            action=action,
            side=side,
            price=tick * CENT,
            size=size,
            sequence=self._seq,
        )

    def _quote(self, ts: int) -> Quote:
        bb = max(self.bids)
        ba = min(self.asks)
        return Quote(
            ts_event=ts,
            ts_init=ts,
            symbol=self.symbol,
            bid_price=bb * CENT,
            bid_size=self.bids[bb],
            ask_price=ba * CENT,
            ask_size=self.asks[ba],
            venue="SYNTH",
        )

    def _snapshot(self, ts: int) -> BookSnapshot:
        """The opening book, so that a consumer can build it from the stream alone."""
        return BookSnapshot(
            ts_event=ts,
            ts_init=ts,
            symbol=self.symbol,
            bids=tuple(BookLevel(t * CENT, self.bids[t]) for t in sorted(self.bids, reverse=True)),
            asks=tuple(BookLevel(t * CENT, self.asks[t]) for t in sorted(self.asks)),
            sequence=self._seq,
            venue="SYNTH",
        )

    def _top(self) -> tuple[int, int, int, int]:
        bb = max(self.bids)
        ba = min(self.asks)
        return bb, self.bids[bb], ba, self.asks[ba]

    # -- the process --------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        yield self._snapshot(self._t)
        yield self._quote(self._t)
        emitted = 2
        trade_no = 0
        while emitted < self.count:
            self._t += self._gap_ns()
            ts = self._t
            top_before = self._top()
            out: list[Event] = []
            u = self._u.next()
            if u < 0.15:
                trade_no = self._trade(ts, out, trade_no)
            elif u < 0.28:
                self._new_level(ts, out)
            elif u < 0.41:
                self._delete_level(ts, out)
            else:
                self._update_level(ts, out)
            self._replenish(ts, out)
            if self._top() != top_before:
                out.append(self._quote(ts))
            for event in out:
                yield event
                emitted += 1
                if emitted >= self.count:
                    return

    def _book(self, side: Side) -> dict[int, int]:
        return self.bids if side is Side.BUY else self.asks

    def _sorted_levels(self, side: Side) -> list[int]:
        book = self._book(side)
        return sorted(book, reverse=side is Side.BUY)

    def _update_level(self, ts: int, out: list[Event]) -> None:
        side = Side.BUY if self._u.next() < 0.5 else Side.SELL
        levels = self._sorted_levels(side)
        tick = levels[self._depth_index(len(levels))]
        book = self._book(side)
        book[tick] = self._resize(side, book[tick])
        out.append(self._delta(ts, BookAction.UPDATE, side, tick, book[tick]))

    def _new_level(self, ts: int, out: list[Event]) -> None:
        """A new price level: inside the spread when it is wide (liquidity refills gaps), else near the touch."""
        side = self._side(Side.BUY)
        bb, ba = max(self.bids), min(self.asks)
        book = self._book(side)
        spread = ba - bb
        if spread > 1 and self._u.next() < min(0.9, 0.35 * (spread - 1)):
            tick = bb + 1 if side is Side.BUY else ba - 1
        else:
            if len(book) >= MAX_LEVELS:
                return
            away = 1 + int(-math.log(1.0 - self._u.next()) * 3.0)
            tick = bb - away if side is Side.BUY else ba + away
        if tick in book or tick <= 0:
            return
        book[tick] = self._level_size(side)
        out.append(self._delta(ts, BookAction.ADD, side, tick, book[tick]))

    def _delete_level(self, ts: int, out: list[Event]) -> None:
        side = self._side(Side.SELL)
        levels = self._sorted_levels(side)
        if len(levels) <= MIN_LEVELS:
            return
        tick = levels[self._depth_index(len(levels))]
        del self._book(side)[tick]
        out.append(self._delta(ts, BookAction.DELETE, side, tick, 0))

    def _trade(self, ts: int, out: list[Event], trade_no: int) -> int:
        """A marketable order walks the opposite side; the book keeps at least one level there."""
        aggressor = self._side(Side.BUY)
        resting = aggressor.opposite
        book = self._book(resting)
        levels = self._sorted_levels(resting)
        remaining = self._trade_size([book[tick] for tick in levels[: min(3, len(levels) - 1)]])
        for tick in levels[: min(3, len(levels) - 1)]:  # a marketable limit order sweeps at most 3 levels
            if remaining <= 0:
                break
            take = min(remaining, book[tick])
            remaining -= take
            trade_no += 1
            out.append(
                Trade(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=self.symbol,
                    price=tick * CENT,
                    size=take,
                    aggressor=Aggressor.BUY if aggressor is Side.BUY else Aggressor.SELL,
                    venue="SYNTH",
                    trade_id=f"{self.symbol}-{trade_no}",
                )
            )
            left = book[tick] - take
            if left:
                book[tick] = left
                out.append(self._delta(ts, BookAction.UPDATE, resting, tick, left))
            else:
                del book[tick]
                out.append(self._delta(ts, BookAction.DELETE, resting, tick, 0))
        return trade_no

    def _replenish(self, ts: int, out: list[Event]) -> None:
        """Keep MIN_LEVELS a side: refill from the opposite touch outwards, so the spread heals after a sweep."""
        for side in (Side.BUY, Side.SELL):
            book = self._book(side)
            while len(book) < MIN_LEVELS:
                if side is Side.BUY:
                    tick = min(self.asks) - 1
                    while tick in book:
                        tick -= 1
                else:
                    tick = max(self.bids) + 1
                    while tick in book:
                        tick += 1
                book[tick] = self._level_size(side)
                out.append(self._delta(ts, BookAction.ADD, side, tick, book[tick]))


class RegimeSymbolStream(SymbolStream):
    """One symbol of the regime-switching market (``data.synthetic_regime`` explains the mechanism): the same book
    process, with sides picked by the regime's push, sizes skewed by the lean, touch clearing independent of size
    and the event rate scaled by the regime's volatility. Every invariant of the plain stream holds."""

    def __init__(
        self,
        symbol: str,
        rng: np.random.Generator,
        *,
        count: int,
        start_ns: int,
        start_px: int,
        regime: RegimeConfig,
    ) -> None:
        super().__init__(symbol, rng, count=count, start_ns=start_ns, start_px=start_px)
        self.process = RegimeProcess(regime, start_ns, self._u.next)

    def _gap_ns(self) -> int:
        if self._u.next() < 0.01:
            self._burst = not self._burst
        mean = (150_000 if self._burst else 4_000_000) / self.process.vol
        gap = 1 + int(-math.log(1.0 - self._u.next()) * mean)
        self.process.advance(self._t + gap)
        return gap

    def _side(self, up: Side) -> Side:
        return up if self._u.next() < 0.5 * (1.0 + self.process.push) else up.opposite

    def _level_size(self, side: Side) -> int:
        """Round lots, exponential rather than heavy-tailed (a Pareto tail would drown the lean the sizes show),
        times the lean's skew for the side."""
        lots = 1.0 - math.log(1.0 - self._u.next()) * MEAN_EXTRA_LOTS
        return max(1, round(LOT * lots * self.process.skew(side is Side.BUY)))

    def _resize(self, side: Side, size: int) -> int:
        return self._level_size(side)  # a fresh size: resting sizes follow the lean as it moves

    def _trade_size(self, sizes: list[int]) -> int:
        """Clears the touch with probability CLEAR, and the next level too with SWEEP, whatever their sizes (a
        size-driven sweep would clear a thin side more often: the book would predict moves in every regime)."""
        if not sizes:
            return 0  # one level left on that side: nothing may be taken (as in the plain stream)
        top = sizes[0]
        if self._u.next() < CLEAR:
            return top + sizes[1] if len(sizes) > 1 and self._u.next() < SWEEP else top
        return 1 + int(self._u.next() * (top - 1)) if top > 1 else 1

    def _replenish(self, ts: int, out: list[Event]) -> None:
        """Refills a thin side in the first gaps behind its own touch: refilling from the opposite touch (as the
        plain stream does) would move the mid back against every sweep, undoing the push it came from."""
        for side in (Side.BUY, Side.SELL):
            book = self._book(side)
            step = -1 if side is Side.BUY else 1
            while len(book) < MIN_LEVELS:
                tick = (max(book) if side is Side.BUY else min(book)) + step
                while tick in book:
                    tick += step
                if tick <= 0:
                    break  # a bid side walked down to one cent: keep what is left (a trade always leaves a level)
                book[tick] = self._level_size(side)
                out.append(self._delta(ts, BookAction.ADD, side, tick, book[tick]))


_DEFAULT_PRICES = ("189.50", "421.10", "247.30", "544.20", "35.75", "121.60", "18.42", "96.05")


class SyntheticMarket:
    """Several independent symbol streams from one seed; ``sources()`` feeds ``merge_sorted`` or a backtest."""

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        cfg = self.config
        if cfg.start_price and len(cfg.start_price) != len(cfg.symbols):
            raise ConfigError(
                f"{len(cfg.start_price)} start prices for {len(cfg.symbols)} symbols; give one per symbol or none",
                field="market.start_price",
            )
        self._seeds = np.random.SeedSequence(cfg.seed).spawn(len(cfg.symbols))

    def start_price(self, index: int) -> int:
        cfg = self.config
        text = cfg.start_price[index] if cfg.start_price else _DEFAULT_PRICES[index % len(_DEFAULT_PRICES)]
        return price_from_str(text)

    def stream(self, index: int) -> SymbolStream:
        cfg = self.config
        rng = np.random.Generator(np.random.PCG64(self._seeds[index]))
        start_px = self.start_price(index)
        if cfg.regime is not None:
            return RegimeSymbolStream(
                cfg.symbols[index],
                rng,
                count=cfg.events_per_symbol,
                start_ns=cfg.start_ns,
                start_px=start_px,
                regime=cfg.regime,
            )
        return SymbolStream(
            cfg.symbols[index], rng, count=cfg.events_per_symbol, start_ns=cfg.start_ns, start_px=start_px
        )

    def sources(self) -> list[SymbolStream]:
        return [self.stream(i) for i in range(len(self.config.symbols))]
