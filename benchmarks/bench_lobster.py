"""LOBSTER L3 replay benchmark: the largest shared file, zip reading and parsing included, both implementations.

Measures, on ``LOBSTER_SampleFile_AMZN_2012-06-21_5.zip`` (155,935 messages, the largest shared file):

- ``replay_verify`` and ``replay``: ``tapeflow.report.book_replay.replay`` with and without every orderbook row
  compared with the book: unzip, parse, initial book, reveals and every L3 book operation, the path of
  ``tapeflow book replay [--verify]``. Each runs with the compiled block apply and with the Python reference,
  interleaved in pairs (python, compiled, python, ...); the compiled path inflates the orderbook member in a
  thread (process CPU time counts both threads; wall gains where a core is free); CPU-time and wall rates,
  median and spread (min-max) of ``--repeat`` pairs, and the compiled/python CPU-time ratio last. Both must
  find zero mismatches and equal reports (they are the same work: the compiled loop calls the same book, keeps
  every check);
- ``events``: ``iter_events`` (tapeflow event objects for the kernel) applied to an ``L3Book`` (Python only);
- memory: peak RSS of a fresh child process replaying (verify on, compiled) the file and a 4x longer one (the
  day repeated four times, times compressed into the same window, ids shifted): flat when the input streams;
- a calibration of this machine's interpreter (an empty loop, a 3-argument Python call).

Run: ``.venv/bin/python benchmarks/bench_lobster.py [--file PATH] [--repeat 5] [--quick] [--breakdown]``
(``--quick``: no events run and no 4x memory run). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tapeflow.book import L3Book
from tapeflow.data.lobster import COMPILED_AVAILABLE, Impl, LobsterDecoder
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.lobster_parse import LineReader, last_level_fields, parse_block
from tapeflow.data.zip_isal import ISAL_AVAILABLE
from tapeflow.model import Trade, TradingStatus
from tapeflow.report.book_replay import replay

DEFAULT = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def _data_root() -> Path:
    root = Path(os.environ.get("TAPEFLOW_DATA", "../shared/data"))
    return root if root.is_absolute() else (Path(__file__).resolve().parent.parent / root).resolve()


def day_or_skip(file: Path | None, bench: str) -> Path | None:
    """The LOBSTER day to replay (``--file``, or the shared sample); None, with the skip printed as the benchmarks'
    last JSON line, when it is not there."""
    path = file or _data_root() / DEFAULT
    if path.is_file():
        return path
    print(f"skip: {path} not found; set TAPEFLOW_DATA to the shared data folder")
    print(json.dumps({"bench": bench, "skipped": True}))
    return None


def calibrate() -> dict[str, float]:
    n = 2_000_000
    t0 = time.perf_counter()
    for _ in range(n):
        pass
    loop = (time.perf_counter() - t0) / n

    def f(a: int, b: int, c: int) -> None:
        return None

    t0 = time.perf_counter()
    for i in range(n):
        f(i, i, i)
    call = (time.perf_counter() - t0) / n - loop
    return {"empty_loop_ns": loop * 1e9, "python_call_ns": call * 1e9}


class _NullSink:
    """Accepts the decoder's pushes and does nothing: measures the decoder alone."""

    def load(self, bids: object, asks: object, orders: object = (), ts: int = 0) -> None:
        return None

    def add(self, order_id: int, side: object, price: int, size: int, ts: int = 0) -> None:
        return None

    def execute(self, order_id: int, size: int, ts: int = 0) -> bool:
        return True

    def cancel(self, order_id: int, size: int, ts: int = 0) -> bool:
        return True

    def delete(self, order_id: int, ts: int = 0, size: int = 0) -> bool:
        return True

    def discover(self, order_id: int, side: object, price: int, size: int, ts: int = 0) -> None:
        return None

    def reveal(self, side: object, after: int, levels: object, through_end: bool, ts: int = 0) -> int:
        return 0


def breakdown(path: Path, repeat: int = 3) -> dict[str, float]:
    """CPU ns per message of each stage, cumulative (best of ``repeat``)."""
    lf = open_lobster(path)

    def inflate(parse: bool) -> None:
        with zipfile.ZipFile(lf.path) as zf, zf.open(lf.message_member) as mf, zf.open(lf.orderbook_member) as bf:
            messages, books = LineReader(mf, "m", 1 << 20), LineReader(bf, "b", 3 << 20)
            row = 0
            while True:
                block, n = messages.raw_block(row)
                if not n:
                    break
                lines = books.take(n, row)
                if parse:
                    parse_block(block, n, "m", row + 1, 0)
                    last_level_fields(lines, lf.levels)
                row += n

    def decode(sink: object) -> None:
        for _ in LobsterDecoder(lf, sink).run():  # type: ignore[arg-type]
            pass

    stages = {
        "inflate_and_rows": lambda: inflate(False),
        "parse_and_reveal_scan": lambda: inflate(True),
        "decode_loop_null_sink": lambda: decode(_NullSink()),
        "l3_book": lambda: decode(L3Book("BENCH")),
    }
    rows = LobsterDecoder(lf, _NullSink())
    for _ in rows.run():
        pass
    out: dict[str, float] = {}
    gc.disable()
    for name, fn in stages.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        out[name] = best / rows.counts.rows * 1e9
    gc.enable()
    return out


def bench_events(path: Path) -> tuple[int, float]:
    book = L3Book("BENCH")
    apply = book.apply
    n = 0
    gc.disable()
    t0 = time.perf_counter()
    for event in iter_events(path):
        n += 1
        if not isinstance(event, Trade | TradingStatus):
            apply(event)
    elapsed = time.perf_counter() - t0
    gc.enable()
    return n, elapsed


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):>11,.0f} [{min(values):,.0f}-{max(values):,.0f}]"


def paired(path: Path, verify: bool, repeat: int) -> dict[str, dict[str, float | str]]:
    """``repeat`` interleaved (python, compiled) replays; per implementation CPU and wall msgs/s."""
    impls: list[Impl] = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
    cpu: dict[str, list[float]] = {i: [] for i in impls}
    wall: dict[str, list[float]] = {i: [] for i in impls}
    reports = {}
    for _ in range(repeat):
        for impl in impls:
            t0, w0 = time.process_time(), time.perf_counter()
            report = replay(path, verify=verify, impl=impl)
            c, w = time.process_time() - t0, time.perf_counter() - w0
            assert report.impl == impl and report.mismatches == 0
            cpu[impl].append(report.rows / c)
            wall[impl].append(report.rows / w)
            reports[impl] = report
    differ = [
        f
        for f in reports["python"].__struct_fields__
        if f not in ("elapsed_s", "msgs_per_s", "impl")
        and getattr(reports["python"], f) != getattr(reports[impls[-1]], f)
    ]
    assert not differ, f"the implementations' reports differ in {differ}"
    out: dict[str, dict[str, float | str]] = {}
    for impl in impls:
        out[impl] = {
            "cpu_msgs_per_s_median": statistics.median(cpu[impl]),
            "cpu_min": min(cpu[impl]),
            "cpu_max": max(cpu[impl]),
            "wall_msgs_per_s_median": statistics.median(wall[impl]),
            "wall_min": min(wall[impl]),
            "wall_max": max(wall[impl]),
        }
        name = "replay_verify" if verify else "replay"
        print(f"{name:14s} {impl:8s} CPU {_spread(cpu[impl])} msgs/s   wall {_spread(wall[impl])} msgs/s")
    if "compiled" in out:
        ratios = [c / p for c, p in zip(cpu["compiled"], cpu["python"], strict=True)]
        out["ratio"] = {"cpu_median": statistics.median(ratios), "cpu_min": min(ratios), "cpu_max": max(ratios)}
        print(
            f"{'':14s} compiled/python CPU-time ratio {statistics.median(ratios):.2f}x "
            f"[{min(ratios):.2f}-{max(ratios):.2f}] over {repeat} pairs"
        )
    return out


def longer_copy(path: Path, times: int, out: Path) -> Path:
    """The day ``times`` times over in one zip: each copy's times compressed into its share of the window, its
    order ids shifted (so copies do not reuse ids); the orderbook rows as they are (so the replay sees each
    copy start from the previous copy's end book: most rows of copies 2-4 mismatch, counted; the work per row
    is the same kind, and the point is the memory)."""
    lf = open_lobster(path)
    with zipfile.ZipFile(path) as zf:
        messages = zf.read(lf.message_member).decode().splitlines()
        books = zf.read(lf.orderbook_member)
    start, window = lf.start_ms * 1_000_000, (lf.end_ms - lf.start_ms) * 1_000_000
    out_lines = []
    for k in range(times):
        shift = k * window // times
        for line in messages:
            f = line.split(",")
            whole, _, frac = f[0].partition(".")
            ns = int(whole) * 10**9 + int((frac + "000000000")[:9])
            ns = start + (ns - start) // times + shift
            f[0] = f"{ns // 10**9}.{ns % 10**9:09d}"
            if f[2] != "0":
                f[2] = str(int(f[2]) + k * 10**10)
            out_lines.append(",".join(f))
    target = out / path.name.replace(".zip", f"_x{times}.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(lf.message_member, "\n".join(out_lines) + "\n")
        with zf.open(lf.orderbook_member, "w") as member:
            for _ in range(times):
                member.write(books)
    return target


_CHILD = """
import json, resource, sys
from tapeflow.report.book_replay import replay
r = replay(sys.argv[1], verify=True, impl=sys.argv[2])
print(json.dumps({"rows": r.rows, "mismatches": r.mismatches, "impl": r.impl,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_rss(path: Path, impl: str) -> dict[str, float]:
    """Peak RSS of a fresh process that imports tapeflow and replays ``path`` (its own peak, not ours)."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), impl], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def memory(path: Path, impl: str) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        big = longer_copy(path, 4, Path(tmp))
        out = {"1x": peak_rss(path, impl), "4x": peak_rss(big, impl)}
    seam = ": copies 2-4 start from the previous copy's end book, not the day's first"
    for name, r in out.items():
        print(
            f"peak RSS {name}: {r['peak_rss_mib']:7.1f} MiB  ({r['rows']:,.0f} rows, {impl}, "
            f"{r['mismatches']:,.0f} mismatches{seam if name == '4x' else ''})"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="No events run, no 4x memory run.")
    parser.add_argument("--breakdown", action="store_true", help="Also time each stage (CPU ns per message).")
    args = parser.parse_args()
    path = day_or_skip(args.file, "lobster_replay")
    if path is None:
        return

    cal = calibrate()
    print(f"calibration: empty loop {cal['empty_loop_ns']:.0f} ns, 3-arg Python call {cal['python_call_ns']:.0f} ns")
    inflater = "ISA-L (isal)" if ISAL_AVAILABLE else "zlib through zipfile (isal not installed)"
    compiled = (
        f", compiled (members inflated by {inflater}; the orderbook member in a thread: less wall, the same CPU"
        " time, both threads count)"
    )
    print(f"implementations: python (reference){compiled if COMPILED_AVAILABLE else ' only: cores not built'}")
    results: dict[str, object] = {}
    for name, verify in (("replay_verify", True), ("replay", False)):
        results[name] = paired(path, verify, args.repeat)
    if not args.quick:
        runs = [bench_events(path) for _ in range(args.repeat)]
        rates = [n / t for n, t in runs]
        results["events"] = {"events": runs[0][0], "median_wall_events_per_s": statistics.median(rates)}
        print(f"events (python) {_spread(rates)} events/s wall, {runs[0][0]:,} events")
        results["memory"] = memory(path, "compiled" if COMPILED_AVAILABLE else "python")
    stages = breakdown(path) if args.breakdown else {}
    for name, ns in stages.items():
        print(f"  cumulative CPU ns/msg up to {name:24s} {ns:8,.0f}")
    verify_ratio = results["replay_verify"]
    print(
        json.dumps(
            {
                "bench": "lobster_replay",
                "file": path.name,
                "repeat": args.repeat,
                "compiled_available": COMPILED_AVAILABLE,
                "compiled_inflate_thread": COMPILED_AVAILABLE,
                "compiled_inflater": "isal" if ISAL_AVAILABLE else "zlib",
                "calibration": cal,
                "breakdown_ns_per_msg": stages,
                "results": results,
                "ratio_verify_cpu": verify_ratio.get("ratio") if isinstance(verify_ratio, dict) else None,
            }
        )
    )


if __name__ == "__main__":
    main()
