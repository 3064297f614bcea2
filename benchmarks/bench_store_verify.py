"""What the Parquet store's "the file read is the file hashed" check costs, in instructions (callgrind).

One workload per process, meant to be run under valgrind's callgrind against this tree's ``src`` and an older one
(``PYTHONPATH=OLD/src``), each minus the ``none`` workload (the same imports, no read):

- ``store``: ``read_store`` of the AMZN_5 LOBSTER day's events, every event built;
- ``table``: ``read_table(..., columns=["price", "size"])`` over a store of 500 one-file symbols;
- ``replay``: the verified compiled replay of the day's ``LobsterBook`` table in the caller's thread
  (``replay(..., read_ahead=False)``: callgrind runs threads one at a time anyway);
- ``make``: write the stores under ``--stores`` (once, not measured).

Run::

    .venv/bin/python benchmarks/bench_store_verify.py make
    for w in none store table replay; do OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null .venv/bin/python benchmarks/bench_store_verify.py $w 2>&1 | grep Collected
    done

Round 14 (p32-ci), against the tree before the check: ``store`` -0.03%, ``replay`` -0.2%, ``table`` +1.5%
instructions (docs/DATA.md, "The file read is the file hashed").
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ZIP = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("workload", choices=["make", "none", "store", "table", "replay"])
    parser.add_argument("--stores", type=Path, default=Path("/tmp/tapeflow_store_verify"))
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("TAPEFLOW_DATA", "../shared/data")))
    args = parser.parse_args()
    from tapeflow.data.parquet_store import read_store, read_table, write_store  # lazy: the none run imports too
    from tapeflow.report.book_replay import replay  # lazy: as above

    root: Path = args.stores
    if args.workload == "make":
        from tapeflow.data.detect import open_events  # lazy: only to make the stores
        from tapeflow.data.lobster_store import write_lobster_book  # lazy: as above
        from tapeflow.model.market import Trade  # lazy: as above

        root.mkdir(parents=True, exist_ok=True)
        zip_path = args.data / ZIP
        write_store(open_events(zip_path)[1], root / "events")
        write_store([], root / "book", tables=lambda w: write_lobster_book(w, zip_path))
        trades = [
            Trade(ts_event=t, ts_init=t, symbol=f"S{i:03d}", price=1_000_000 + t, size=100)
            for t in range(1, 6)
            for i in range(500)
        ]
        write_store(trades, root / "files")
        return
    if args.workload == "store":
        print("events", sum(1 for _ in read_store(root / "events")))
    elif args.workload == "table":
        print("rows", read_table(root / "files", "Trade", columns=["price", "size"]).num_rows)
    elif args.workload == "replay":
        report = replay(root / "book", verify=True, impl="compiled", read_ahead=False)
        print("rows", report.rows, "mismatches", report.mismatches)


if __name__ == "__main__":
    main()
