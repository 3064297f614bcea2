"""The store's LobsterBook table written with other Parquet encodings: its size, and the CPU time a verified replay
spends reading it and hashing it.

Why: the replay reads the table's 4 x N + 6 int64 columns batch by batch and checks the file's SHA-256 first (the
store's manifest); both are outside the compiled loop and together ~100 ns a message. A format that decodes
faster but is larger moves time from the read into the hash, so each variant is timed for both.

On ``LOBSTER_SampleFile_AMZN_2012-06-21_5.zip`` (155,935 messages), its table converted once as ``tapeflow data
convert`` writes it (untimed), then written again with each variant (the same rows, schema and row groups):
``delta`` is the store's own (``lobster_store.write_options``). Timed, in rounds, the variants in a rotated
order: the read as ``StoreDecoder.run`` does it (``iter_batches`` of ``BATCH_ROWS`` rows on one thread, every
int column to numpy, the text columns' null counts) and the SHA-256 as ``verify_file`` does it
(``store_manifest.sha256_of``). CPU time, median [min-max] ns a message.

Run: ``.venv/bin/python benchmarks/bench_lobster_store_formats.py [--file PATH] [--rounds 7]``.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from bench_lobster import day_or_skip
from tapeflow.data import lobster_store
from tapeflow.data.lobster_store import write_lobster_book
from tapeflow.data.store_manifest import sha256_of
from tapeflow.data.store_writer import ROW_GROUP, write_store


def variants(levels: int) -> dict[str, dict[str, Any]]:
    """``pq.write_table`` keywords of each format, ``delta`` the store's."""
    ints = [*lobster_store.MESSAGE_COLUMNS, *lobster_store.book_columns(levels)]

    def plain(compression: str, encoding: str = "PLAIN", **more: Any) -> dict[str, Any]:
        return {"use_dictionary": False, "compression": compression, "column_encoding": dict.fromkeys(ints, encoding),
                **more}  # fmt: skip

    return {
        "delta": lobster_store.write_options(levels),
        "plain": plain("none"),
        "plain-lz4": plain("lz4"),
        "plain-snappy": plain("snappy"),
        "plain-zstd1": plain("zstd", compression_level=1),
        "dictionary": {"use_dictionary": ints, "compression": "none"},
        "dictionary-lz4": {"use_dictionary": ints, "compression": "lz4"},
        "bss-lz4": plain("lz4", "BYTE_STREAM_SPLIT"),
        "bss-zstd1": plain("zstd", "BYTE_STREAM_SPLIT", compression_level=1),
    }


def read_like_the_replay(path: Path) -> int:
    """What ``StoreDecoder.run`` reads of the table; its rows."""
    rows = 0
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=lobster_store.BATCH_ROWS, use_threads=False):
            [batch.column(i).to_numpy() for i in range(batch.num_columns - 2)]
            [batch.column(i).null_count for i in range(batch.num_columns - 2, batch.num_columns)]
            rows += batch.num_rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    path = day_or_skip(args.file, "lobster_store_formats")
    if path is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        write_store([], store, tables=lambda w: write_lobster_book(w, path))
        table = pq.read_table(next(store.rglob("LobsterBook.parquet")))
        levels = (table.num_columns - len(lobster_store.MESSAGE_COLUMNS) - 2) // 4  # and the two text columns
        files = {}
        for name, options in variants(levels).items():
            files[name] = Path(tmp) / f"{name}.parquet"
            pq.write_table(table, files[name], row_group_size=ROW_GROUP, **options)
        rows = table.num_rows
        read: dict[str, list[float]] = {name: [] for name in files}
        sha: dict[str, list[float]] = {name: [] for name in files}
        names = list(files)
        for k in range(args.rounds):
            for name in names[k % len(names) :] + names[: k % len(names)]:
                gc.collect()
                t0 = time.process_time()
                assert read_like_the_replay(files[name]) == rows
                read[name].append((time.process_time() - t0) / rows * 1e9)
                t0 = time.process_time()
                sha256_of(files[name])
                sha[name].append((time.process_time() - t0) / rows * 1e9)
        out: dict[str, Any] = {}
        for name in names:
            r, h = statistics.median(read[name]), statistics.median(sha[name])
            size = files[name].stat().st_size
            out[name] = {"mib": size / 2**20, "read_ns": r, "sha256_ns": h, "sum_ns": r + h}
            print(f"{name:15s} {size / 2**20:6.2f} MiB   read {r:6.1f} ns a message [{min(read[name]):.1f}-"
                  f"{max(read[name]):.1f}]   SHA-256 {h:5.1f} [{min(sha[name]):.1f}-{max(sha[name]):.1f}]   "
                  f"both {r + h:6.1f}")  # fmt: skip
    best = min(out, key=lambda n: out[n]["sum_ns"])
    print(f"fewest CPU ns a message to read and hash: {best}")
    print(json.dumps({"bench": "lobster_store_formats", "file": path.name, "rows": rows, "rounds": args.rounds,
                      "best": best, "results": out}))  # fmt: skip


if __name__ == "__main__":
    main()
