"""Where ``pyarrow.dataset`` serves the Parquet store: partition filtering and projected column scans.

Run: ``.venv/bin/python benchmarks/bench_store_dataset.py [TAPEFLOW_DATA]``; best of ``REPEAT`` alternated runs
(a shared 2-core machine swings by a third). Compares, on the same verified file lists:

- filtering by symbol and date: a comprehension over the manifest (what ``read_store`` does) against building a
  hive-partitioned dataset from the paths and filtering its fragments;
- a projected scan of one event type: one dataset scan (what ``read_table`` does) against ``pq.read_table`` per
  file and a concatenation.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.data.detect import open_events
from tapeflow.data.parquet_store import write_store
from tapeflow.data.store_manifest import load_manifest
from tapeflow.data.store_schema import EVENT_TYPES, schema
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade

REPEAT = 5
_HIVE = ds.HivePartitioning(pa.schema([("symbol", pa.string()), ("date", pa.string())]), segment_encoding="uri")
_DATE = ds.HivePartitioning(pa.schema([("date", pa.string())]), segment_encoding="uri")


def _many_symbols() -> Iterator[Event]:
    """4,000 symbols over two New York days, a trade or a quote each: 8,000 one-batch files."""
    day = 1_700_000_000_000_000_000
    for i in range(16_000):
        ts = day + (i // 8000) * 86_400_000_000_000 + i
        sym = f"S{i % 4000}"
        if i % 2:
            yield Trade(ts_event=ts, ts_init=ts, symbol=sym, price=10_000 + i, size=1)
        else:
            yield Quote(ts_event=ts, ts_init=ts, symbol=sym, bid_price=1, bid_size=1, ask_price=2, ask_size=1)


def _best(fns: list[Callable[[], Any]]) -> list[float]:
    best = [float("inf")] * len(fns)
    for _ in range(REPEAT):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def _scan(root: Path, typ: str, cols: list[str]) -> tuple[float, float]:
    files = [(root / e.path).as_posix() for e in load_manifest(root).files if e.type == typ]
    full = pa.schema([*schema(EVENT_TYPES[typ]).arrow, pa.field("date", pa.string())])

    def dataset() -> pa.Table:
        d = ds.dataset(files, schema=full, format="parquet", partitioning=_DATE, partition_base_dir=root.as_posix())
        return d.to_table(columns=["_seq", *cols, "date"]).sort_by("_seq")

    def per_file() -> pa.Table:
        parts = []
        for f in files:
            t = pq.read_table(f, columns=["_seq", *cols])
            parts.append(t.append_column("date", pa.array([f.split("date=")[1][:10]] * t.num_rows, pa.string())))
        return pa.concat_tables(parts).sort_by("_seq")

    assert dataset().equals(per_file())
    a, b = _best([dataset, per_file])
    print(
        f"scan {typ} {cols} of {len(files):,} files: dataset {a * 1e3:.1f} ms, pq.read_table per file {b * 1e3:.1f} ms"
    )
    return a, b


def _filter(root: Path) -> tuple[float, float]:
    manifest = load_manifest(root)
    wanted, days = {"S7", "S1234", "S3999"}, {manifest.files[0].date}
    paths = [(root / e.path).as_posix() for e in manifest.files]

    def comprehension() -> int:
        return len([e for e in manifest.files if e.symbol in wanted and e.date in days])

    def dataset() -> int:
        sch = pa.schema([("_seq", pa.int64()), ("symbol", pa.string()), ("date", pa.string())])
        d = ds.dataset(paths, schema=sch, format="parquet", partitioning=_HIVE, partition_base_dir=root.as_posix())
        flt = pc.field("symbol").isin(list(wanted)) & pc.field("date").isin(list(days))
        return len(list(d.get_fragments(filter=flt)))

    assert comprehension() == dataset()
    a, b = _best([comprehension, dataset])
    print(f"filter 3 symbols, 1 day of {len(paths):,} files: manifest {a * 1e3:.2f} ms, dataset {b * 1e3:.1f} ms")
    return a, b


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TAPEFLOW_DATA", "../shared/data"))
    with tempfile.TemporaryDirectory() as tmp:
        many = Path(tmp) / "many"
        write_store(_many_symbols(), many)
        filter_ms = _filter(many)
        many_ms = _scan(many, "Trade", ["price", "size"])
        taq = Path(tmp) / "taq"
        write_store(open_events(data / "lean-algoseek-us-equity/tick/bac/20131007_trade.zip")[1], taq)
        taq_ms = _scan(taq, "Quote", ["bid_price", "ask_price"])
    figures = {
        "filter_manifest_ms": filter_ms[0] * 1e3,
        "filter_dataset_ms": filter_ms[1] * 1e3,
        "scan_many_dataset_ms": many_ms[0] * 1e3,
        "scan_many_per_file_ms": many_ms[1] * 1e3,
        "scan_taq_dataset_ms": taq_ms[0] * 1e3,
        "scan_taq_per_file_ms": taq_ms[1] * 1e3,
    }
    print(json.dumps({"benchmark": "store_dataset", **{k: round(v, 2) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
