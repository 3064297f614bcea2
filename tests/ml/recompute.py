"""An independent recomputation of the recorder's features from the quotes and trades it saw (numpy, vectorized).

Tests feed a kernel, record every ``Quote`` and ``Trade`` in dispatch order, and recompute each sample from the
events with ``ts_init`` before the sample time, without the recorder's code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from tapeflow.data.nytime import NEW_YORK, ny_to_utc_ns
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import Aggressor
from tapeflow.model.market import Quote, Trade


class Tape:
    """Quotes and trades of one symbol as the kernel dispatched them."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.quotes: list[Quote] = []
        self.trades: list[Trade] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Quote, lambda q: self.quotes.append(q) if q.symbol == self.symbol else None)
        kernel.subscribe(Trade, lambda t: self.trades.append(t) if t.symbol == self.symbol else None)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


def expected(tape: Tape, t: int, prev_t: int, previous_sample_times: list[int], vol_samples: int) -> list[float]:
    """The feature vector of a sample at ``t`` whose interval began at ``prev_t``."""
    q = np.array([(x.ts_init, x.bid_price, x.bid_size, x.ask_price, x.ask_size) for x in tape.quotes], dtype=np.int64)
    ts, bp, bs, ap, asz = q.T
    last = int(np.searchsorted(ts, t, side="left")) - 1  # the last quote before t
    b, bsz, a, az = int(bp[last]), int(bs[last]), int(ap[last]), int(asz[last])
    # OFI of each quote against the previous one, Cont-Kukanov-Stoikov, vectorized
    e = (
        np.where(bp[1:] >= bp[:-1], bs[1:], 0)
        - np.where(bp[1:] <= bp[:-1], bs[:-1], 0)
        - np.where(ap[1:] <= ap[:-1], asz[1:], 0)
        + np.where(ap[1:] >= ap[:-1], asz[:-1], 0)
    )
    in_interval = (ts[1:] >= prev_t) & (ts[1:] < t)
    ofi = float(e[in_interval].sum())
    mid = (b + a) / 2
    micro = (b * az + a * bsz) / (bsz + az)
    tr = np.array(
        [
            (x.ts_init, x.size if x.aggressor is Aggressor.BUY else -x.size if x.aggressor is Aggressor.SELL else 0)
            for x in tape.trades
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    flow = float(tr[(tr[:, 0] >= prev_t) & (tr[:, 0] < t), 1].sum())
    times = [*previous_sample_times[-(vol_samples - 1) :], t] if vol_samples > 1 else [t]
    mids = [mid_at(tape, s) for s in times]
    vol = float(np.sqrt(np.sum(np.diff(np.log(mids)) ** 2)))
    ny_day = datetime.fromtimestamp(t // 1_000_000_000, tz=UTC).astimezone(NEW_YORK).date()
    tod = (t - ny_to_utc_ns(ny_day, int(9.5 * 3600) * 1_000_000_000)) / 1e9
    return [(bsz - az) / (bsz + az), ofi, micro - mid, float(a - b), vol, flow, tod]


def mid_at(tape: Tape, t: int) -> float:
    """The mid of the last quote dispatched before ``t``."""
    ts = np.array([x.ts_init for x in tape.quotes], dtype=np.int64)
    last = tape.quotes[int(np.searchsorted(ts, t, side="left")) - 1]
    return (last.bid_price + last.ask_price) / 2
