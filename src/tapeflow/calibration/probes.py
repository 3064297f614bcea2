"""The synthetic passive orders the calibration follows: drawn from a seed, never shown to the market.

A probe is a limit order that would have joined a price level of one side at one moment of a real day. It is
followed, not sent: the tape is replayed unchanged, so every probe sees the same market and probes cannot disturb
one another or the truth. What is drawn is the time, the side, the level (1 = the best price, counted in visible
price levels of that side at that moment) and the size; the price is read from the book when the probe is placed.

Each day draws from its own generator, seeded by the configuration's seed and the day's symbol and date (CRC-32,
not ``hash``, which Python salts per process), so a day's probes do not depend on which other days run or in
which order they are listed.
"""

from __future__ import annotations

import random
import zlib
from datetime import date

import msgspec

from tapeflow.model.enums import Side


class Probe(msgspec.Struct, frozen=True, kw_only=True):
    """One synthetic passive order: joins ``level`` of ``side`` at ``ts`` (ns UTC) for ``size`` shares."""

    probe_id: int
    ts: int
    side: Side
    level: int
    size: int


def day_seed(seed: int, symbol: str, day: date) -> int:
    """The generator seed of one day: the run's seed mixed with the day's own name."""
    return seed * 1_000_003 + zlib.crc32(f"{symbol}|{day.isoformat()}".encode())


def draw_probes(seed: int, start_ns: int, end_ns: int, count: int, levels: list[int], sizes: list[int]) -> list[Probe]:
    """``count`` probes with times uniform in [start_ns, end_ns), both sides, the given levels and sizes, in time
    order (ties by id). Levels and sizes are drawn uniformly from the lists as given."""
    if end_ns <= start_ns or count <= 0 or not levels or not sizes:
        return []
    rng = random.Random(seed)
    drawn = [
        Probe(
            probe_id=i,
            ts=rng.randrange(start_ns, end_ns),
            side=Side.BUY if rng.random() < 0.5 else Side.SELL,
            level=rng.choice(levels),
            size=rng.choice(sizes),
        )
        for i in range(count)
    ]
    return sorted(drawn, key=lambda p: (p.ts, p.probe_id))
