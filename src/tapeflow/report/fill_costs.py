"""Per fill: what it cost against the arrival mid, split into spread, latency and depth walk (exact integers).

From the run: the fill (price, quantity, side, maker/taker) and its order's arrival mid (``fills.parquet``
``arrival_mid_x2``, the mid when the order left). From the market samples (``order_marks.parquet``): the best bid
and ask when the order left and when its acceptance was seen. Derived here, with doubled prices so every part
stays an exact integer and the parts add up to the total:

- ``total = sign * (price - mid_sent)``: the summary's slippage (positive is a cost);
- ``spread = sign * (touch_sent - mid_sent)``: the half spread, paid by a taker (touch = the far side) and earned
  by a maker (touch = its own side, so it is negative);
- ``latency = sign * (touch_ack - touch_sent)``: how far that touch moved while the order travelled (to the
  acceptance being seen: the entry and ack legs both);
- ``depth_walk = sign * (price - touch_ack)``: beyond the touch; for a taker, walking the book; for a maker, where
  it rested against the touch and how the market moved before it filled.

Fills whose order has no mark or no two-sided book at either moment are left out, and counted.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.report.run_data import RunData

IntArray = npt.NDArray[np.int64]
PARTS = ("spread", "latency", "depth_walk")


class FillCosts(msgspec.Struct, kw_only=True):
    """Parallel arrays over the fills that could be split; money doubled (``_x2``), 1/10,000 dollar a share."""

    ts: IntArray
    quantity: IntArray
    maker: npt.NDArray[np.bool_]
    total_x2: IntArray
    spread_x2: IntArray
    latency_x2: IntArray
    depth_walk_x2: IntArray
    left_out: int


def fill_costs(data: RunData) -> FillCosts | None:
    fills, marks = data.table("fills"), data.table("order_marks")
    if fills is None or marks is None or fills.rows == 0 or marks.rows == 0:
        return None
    keys = list(zip(marks.strings("strategy_id"), marks.strings("client_order_id"), strict=True))
    row_of = {key: i for i, key in enumerate(keys)}
    bid_sent, ask_sent = marks.ints("bid_sent"), marks.ints("ask_sent")
    bid_ack, ask_ack = marks.ints("bid_ack"), marks.ints("ask_ack")
    sides = fills.strings("side")
    liquidity = fills.strings("liquidity_side")
    price, qty, ts = fills.ints("price"), fills.ints("quantity"), fills.ints("ts_event")
    mid = fills.ints("arrival_mid_x2")
    no_mid = fills.has_nulls("arrival_mid_x2")
    fill_keys = zip(fills.strings("strategy_id"), fills.strings("client_order_id"), strict=True)
    rows: list[tuple[int, int, bool, int, int, int, int]] = []
    for i, key in enumerate(fill_keys):
        m = row_of.get(key)
        if m is None or no_mid[i] or mid[i] <= 0:
            continue
        sign = 1 if sides[i] == "BUY" else -1
        maker = liquidity[i] == "MAKER"
        far = (ask_sent[m], ask_ack[m]) if sign > 0 else (bid_sent[m], bid_ack[m])
        near = (bid_sent[m], bid_ack[m]) if sign > 0 else (ask_sent[m], ask_ack[m])
        sent, ack = near if maker else far
        if sent <= 0 or ack <= 0:
            continue
        p = int(price[i])
        rows.append(
            (
                int(ts[i]),
                int(qty[i]),
                maker,
                sign * (2 * p - int(mid[i])),
                sign * (2 * int(sent) - int(mid[i])),
                sign * 2 * (int(ack) - int(sent)),
                sign * 2 * (p - int(ack)),
            )
        )
    if not rows:
        return None
    cols = list(zip(*rows, strict=True))
    return FillCosts(
        ts=np.asarray(cols[0], dtype=np.int64),
        quantity=np.asarray(cols[1], dtype=np.int64),
        maker=np.asarray(cols[2], dtype=np.bool_),
        total_x2=np.asarray(cols[3], dtype=np.int64),
        spread_x2=np.asarray(cols[4], dtype=np.int64),
        latency_x2=np.asarray(cols[5], dtype=np.int64),
        depth_walk_x2=np.asarray(cols[6], dtype=np.int64),
        left_out=fills.rows - len(rows),
    )
