"""The Parquet side of the results: columns, schemas and the atomic write, apart from the collector that fills them.

Why apart: the collector (``results.py``) is about what events mean for orders and fills; this module is about
how they land on disk, where the pinned column types and dictionaries make the same run give byte-identical files.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tapeflow.model.orders import OrderFilled


def int_table(columns: Mapping[str, Sequence[int]]) -> Any:
    """A table of int64 columns (the equity curve)."""
    return pa.table({name: _ints(values) for name, values in columns.items()})


def fills_table(fills: Sequence[OrderFilled], mids_x2: Sequence[int | None]) -> Any:
    """``fills.parquet``: one row per fill, with the arrival mid (doubled) of its order."""
    columns = {
        "ts_init": _ints([f.ts_init for f in fills]),
        "ts_event": _ints([f.ts_event for f in fills]),
        "strategy_id": pa.array([f.strategy_id for f in fills], pa.string()),
        "client_order_id": pa.array([f.client_order_id for f in fills], pa.string()),
        "symbol": _dict_strings([f.symbol for f in fills]),
        "side": _enum_column([f.side for f in fills], Side),
        "price": _ints([f.price for f in fills]),
        "quantity": _ints([f.quantity for f in fills]),
        "leaves_quantity": _ints([f.leaves_quantity for f in fills]),
        "liquidity_side": _enum_column([f.liquidity_side for f in fills], LiquiditySide),
        "fee": _ints([f.fee for f in fills]),
        "arrival_mid_x2": _ints(mids_x2),
        "trade_id": pa.array([f.trade_id for f in fills], pa.string()),
        "venue_order_id": pa.array([f.venue_order_id for f in fills], pa.string()),
        "venue": _dict_strings([f.venue for f in fills]),
        "queue_ahead_at_arrival": _ints([f.queue_ahead_at_arrival for f in fills]),  # -1: the venue did not say
    }
    return pa.table(columns)


def _ints(values: Sequence[int] | Sequence[int | None]) -> Any:
    return pa.array(values, pa.int64())


def _dict_strings(values: list[str]) -> Any:
    """Dictionary-encoded strings, dictionary in order of first appearance (deterministic)."""
    return pa.array(values, pa.string()).dictionary_encode()


def _enum_column(values: list[Any], enum_type: type[enum.Enum]) -> Any:
    """Dictionary column whose dictionary is every member in declaration order, so files of one schema agree."""
    members = list(enum_type)
    index = {member: i for i, member in enumerate(members)}
    codes = pa.array([None if v is None else index[v] for v in values], pa.int8())
    return pa.DictionaryArray.from_arrays(codes, pa.array([m.value for m in members], pa.string()))


def orders_table(records: Iterable[Any]) -> Any:
    """``orders.parquet``: one row per order record (``results.OrderRecord``), statuses as one dictionary."""
    rows = list(records)
    return pa.table(
        {
            "ts_submit": _ints([r.ts_submit for r in rows]),
            "strategy_id": pa.array([r.strategy_id for r in rows], pa.string()),
            "client_order_id": pa.array([r.client_order_id for r in rows], pa.string()),
            "symbol": _dict_strings([r.symbol for r in rows]),
            "side": _enum_column([r.side for r in rows], Side),
            "order_type": _enum_column([r.order_type for r in rows], OrderType),
            "time_in_force": _enum_column([r.time_in_force for r in rows], TimeInForce),
            "quantity": _ints([r.quantity for r in rows]),
            "price": _ints([r.price for r in rows]),
            "stop_price": _ints([r.stop_price for r in rows]),
            "arrival_mid_x2": _ints([r.arrival_mid_x2 for r in rows]),
            "status": _enum_column([r.status for r in rows], OrderStatus),
            "filled_quantity": _ints([r.filled_quantity for r in rows]),
            "filled_notional": _ints([r.filled_notional for r in rows]),
            "fees": _ints([r.fees for r in rows]),
            "ts_accepted": _ints([r.ts_accepted for r in rows]),
            "ts_done": _ints([r.ts_done for r in rows]),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "ts_decided": _ints([r.ts_decided for r in rows]),
            "ts_arrived": _ints([r.ts_arrived for r in rows]),
        }
    )


def write_table_atomic(table: Any, path: Path) -> Path:
    """Write ``table`` beside ``path`` under a temporary name, flush it to disk, then rename it into place.

    Readers see the old file or the new one, never half of one, even after a crash (the data is on disk before
    the rename is). The temporary is opened normally, not with ``mkstemp``, so the result gets the permissions
    the umask gives any other output file rather than 0600.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(
            table,
            str(tmp),
            compression="zstd",
            use_dictionary=True,
            write_statistics=True,
            version="2.6",
        )
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
