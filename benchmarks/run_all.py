"""Every benchmark, one after another, each with its peer, and one table of what each measured against its goal.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/run_all.py [--only NAME ...] [--out DIR]``). Each benchmark
runs in its own process with the arguments listed here (sized to finish in a few minutes on a 2-core machine), its
whole output goes to ``DIR/NAME.log`` and its last line, one JSON object, to ``DIR/results.json``; the table is
printed and written to ``DIR/table.md``. Benchmarks run one at a time: two at once would share the two cores and
each would measure the other.

The table reads each benchmark's JSON through a small function of its own (``Bench.headline``): a figure, the ratio
to the peer where there is one, and whether the goal of issue 19 is met. A benchmark whose JSON lacks the keys its
headline reads shows ``?`` rather than a guess, and one that exits non-zero shows its exit code: nothing in the
table is made up when a run goes wrong. Peers missing from the environment (``pip install -e '.[bench]'``) are
skipped by the benchmarks themselves, which say so in their JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
Json = Mapping[str, Any]
Headline = tuple[str, str, bool | None]
"""(figure, ratio to the peer or "", goal met: True / False / None when the benchmark has no goal)."""


def _dig(data: Json, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or None where a key is missing (the table then shows ``?``)."""
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _num(value: Any, fmt: str = ",.0f") -> str:
    return format(value, fmt) if isinstance(value, int | float) and not isinstance(value, bool) else "?"


def _at_least(value: Any, goal: float) -> bool | None:
    return value >= goal if isinstance(value, int | float) else None


def _at_most(value: Any, goal: float) -> bool | None:
    return value <= goal if isinstance(value, int | float) else None


def _generic(data: Json) -> Headline:
    """Benchmarks without a goal: their top-level numbers, shortened."""
    shown = [
        f"{k}={_num(v, ',.4g')}" for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return (", ".join(shown[:4]) or "see log", "", None)


def _kernel(data: Json) -> Headline:
    merged, timers = data.get("merge_events_per_s"), data.get("scheduled_events_per_s")
    figure = f"merged {_num(merged)}/s, with timers {_num(timers)}/s (wall)"
    met = _at_least(merged, 6e6) and _at_least(timers, 3e6) if merged is not None and timers is not None else None
    return figure, "", met


def _risk(data: Json) -> Headline:
    wall, cpu = data.get("pass-kernel_us"), data.get("pass-kernel_cpu_us")
    return f"{_num(wall, '.2f')} us wall, {_num(cpu, '.2f')} us CPU per passing order", "", _at_most(wall, 5.0)


def _itch(data: Json) -> Headline:
    impl = data.get("implementation", "?")
    cpu, wall = _dig(data, "rates", impl, "cpu_rate_median"), _dig(data, "rates", impl, "wall_rate_median")
    ratio = data.get("cpu_ratio_compiled_over_python")
    figure = f"{_num(wall)}/s wall, {_num(cpu)}/s CPU ({impl})"
    return figure, f"{_num(ratio, '.2f')}x its Python reference (CPU)", _at_least(wall, 2e6)


def _book(data: Json) -> Headline:
    ours = _dig(data, "rates", "tapeflow_apply", "wall")
    ratio = _dig(data, "cpu_ratio_vs_tapeflow_apply", "nautilus_from_raw", "median")
    default = _dig(data, "cpu_ratio_vs_tapeflow_apply", "nautilus_constructors", "median")
    vs = f"{_num(ratio, '.2f')}x Nautilus from_raw, {_num(default, '.2f')}x its constructors (CPU)"
    return f"{_num(ours)} updates/s wall (delta built, checks on)", vs, _at_least(ratio, 2.0)


def _bars(data: Json) -> Headline:
    figure = f"{_num(data.get('tapeflow_wall_bars_per_s'))} bars/s wall (default risk rules)"
    fast, default = _num(data.get("ratio"), ".1f"), _num(data.get("ratio_vs_default"), ".1f")
    vs = f"{fast}x backtrader stdstats=False, {default}x default (CPU)"
    return figure, vs, _at_least(data.get("ratio"), 100.0)


def _lobster(data: Json) -> Headline:
    wall = _dig(data, "results", "replay_verify", "compiled", "wall_msgs_per_s_median")
    cpu = _dig(data, "results", "replay_verify", "compiled", "cpu_msgs_per_s_median")
    ratio = _dig(data, "results", "replay_verify", "ratio", "cpu_median")
    figure = f"zip, every row verified: {_num(wall)}/s wall, {_num(cpu)}/s CPU (compiled)"
    return figure, f"{_num(ratio, '.2f')}x its Python reference (CPU)", _at_least(wall, 1e6)


def _lobster_store(data: Json) -> Headline:
    wall = _dig(data, "results", "store compiled", "wall_msgs_per_s", "median")
    cpu = _dig(data, "results", "store compiled", "cpu_msgs_per_s", "median")
    ratio = _dig(data, "results", "cpu_ratio_vs_zip_compiled", "median")
    figure = f"Parquet store, every row verified: {_num(wall)}/s wall, {_num(cpu)}/s CPU (compiled)"
    return figure, f"{_num(ratio, '.2f')}x the zip replay (CPU)", _at_least(wall, 3e6)


def _quotes(data: Json) -> Headline:
    figure = f"{_num(_dig(data, 'tapeflow', 'wall_quotes_per_s'))} quotes/s wall (default risk rules)"
    risk, fast = data.get("ratio_cpu_nautilus_risk"), data.get("ratio_cpu_nautilus_fast")
    vs = f"{_num(risk, '.1f')}x Nautilus with risk, {_num(fast, '.1f')}x its fast set-up (CPU)"
    return figure, vs, _at_least(risk, 10.0)


def _audit(data: Json) -> Headline:
    writer = data.get("auto_writer", "?")
    wall, cpu = data.get(f"{writer}_wall_slowdown"), data.get(f"{writer}_cpu_slowdown")
    figure = f"{writer} writer: +{_num(_pct(wall), '.1f')}% wall, +{_num(_pct(cpu), '.1f')}% CPU"
    return figure, "", _at_most(wall, 0.10)


def _pct(value: Any) -> float | None:
    return value * 100 if isinstance(value, int | float) else None


def _sweep(data: Json) -> Headline:
    speedup = data.get("speedup")
    return f"{_num(speedup, '.2f')}x from 1 to 2 workers", "", _at_least(speedup, 1.8)


def _ml(data: Json) -> Headline:
    wall = _dig(data, "recording", "1s", "overhead_pct", "median")
    cpu = _dig(data, "recording", "1s", "cpu_overhead_pct", "median")
    fine = _dig(data, "recording", "100ms", "overhead_pct", "median")
    figure = f"recording at 1 s: +{_num(wall, '.1f')}% wall, +{_num(cpu, '.1f')}% CPU; at 100 ms +{_num(fine, '.1f')}%"
    return figure, "", _at_most(wall, 10.0)


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    args: tuple[str, ...]
    goal: str
    headline: Callable[[Json], Headline] = _generic


BENCHES: tuple[Bench, ...] = (
    Bench(
        "kernel",
        "bench_kernel.py",
        ("--events", "1000000", "--runs", "5"),
        ">= 6M merged, >= 3M with timers /s",
        _kernel,
    ),
    Bench(
        "risk", "bench_risk.py", ("--orders", "100000", "--runs", "5"), "<= 5 us per passing order, all rules", _risk
    ),
    Bench("book_l2", "bench_book.py", ("--n", "1000000", "--pairs", "5"), ">= 2x Nautilus, same work", _book),
    Bench("lobster", "bench_lobster.py", ("--repeat", "5"), ">= 1M msgs/s from the zip", _lobster),
    Bench(
        "lobster_store",
        "bench_lobster_store.py",
        ("--pairs", "5"),
        ">= 3M msgs/s from the Parquet store",
        _lobster_store,
    ),
    Bench("itch", "bench_itch.py", ("--messages", "1000000", "--runs", "5"), ">= 2M msgs/s", _itch),
    Bench("parquet", "bench_parquet.py", (), "store read vs original format"),
    Bench(
        "backtest_quotes",
        "bench_backtest_quotes.py",
        ("--quotes", "200000", "--pairs", "5"),
        ">= 10x Nautilus, risk both sides",
        _quotes,
    ),
    Bench(
        "backtest_bars",
        "bench_backtest_bars.py",
        ("--bars", "100000", "--pairs", "5"),
        ">= 100x backtrader stdstats=False",
        _bars,
    ),
    Bench("backtest_lobster", "bench_backtest_lobster.py", (), "a full LOBSTER day, L3 quoter"),
    Bench(
        "audit",
        "bench_audit_backtest.py",
        ("--pairs", "7"),
        "<= 10% wall on the demo backtest, writer included",
        _audit,
    ),
    Bench("paper", "bench_paper.py", (), "paper venue orders/s over loopback"),
    Bench("live", "bench_live.py", ("--seconds", "3", "--paper-seconds", "8"), "tick-to-trade"),
    Bench("ml", "bench_ml.py", ("--repeat", "5", "--parts", "recording"), "feature recording < 10% at 1 s", _ml),
    Bench("sweep", "bench_sweep.py", ("--tasks", "64"), ">= 1.8x from 1 to 2 workers", _sweep),
)


def run_one(bench: Bench, out: Path, python: str) -> dict[str, Any]:
    """Run one benchmark; its log goes to ``out``; returns its JSON (or why there is none) with exit code and time."""
    log = out / f"{bench.name}.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(  # our own scripts, arguments from the table above
            [python, str(HERE / bench.script), *bench.args], stdout=subprocess.PIPE, stderr=sink, text=True, check=False
        )
        sink.write(done.stdout)
    seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    data: dict[str, Any] = {}
    if lines:
        try:
            parsed = json.loads(lines[-1])
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            data = parsed
    return {"name": bench.name, "exit": done.returncode, "seconds": round(seconds, 1), "json": data}


def table_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, figure, vs peer, goal, met) per result, from each benchmark's own headline reader."""
    by_name = {b.name: b for b in BENCHES}
    rows = []
    for result in results:
        bench = by_name[result["name"]]
        if result["exit"] != 0:
            rows.append((bench.name, f"exit {result['exit']} (see log)", "", bench.goal, "?"))
            continue
        if not result["json"]:
            rows.append((bench.name, "no JSON line (see log)", "", bench.goal, "?"))
            continue
        if "skipped" in result["json"]:
            rows.append((bench.name, f"skipped: {result['json']['skipped']}", "", bench.goal, "-"))
            continue
        figure, ratio, met = bench.headline(result["json"])
        rows.append((bench.name, figure, ratio, bench.goal, {True: "yes", False: "NO", None: "-"}[met]))
    return rows


def markdown(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = "| benchmark | figure | vs peer | goal | met |\n|---|---|---|---|---|\n"
    return head + "".join("| " + " | ".join(row) + " |\n" for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="names to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--table", action="store_true", help="only redraw the table from OUT/results.json")
    args = parser.parse_args()
    if args.table:
        saved = args.out / "results.json"
        if not saved.is_file():
            print(f"run_all: {saved} not found; run the benchmarks first (make bench)", file=sys.stderr)
            return 2
        table = markdown(table_rows(json.loads(saved.read_text(encoding="utf-8"))))
        (args.out / "table.md").write_text(table, encoding="utf-8")
        print(table, end="")
        return 0
    names = {b.name for b in BENCHES}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        print(f"run_all: unknown benchmark {', '.join(unknown)}; known: {', '.join(sorted(names))}", file=sys.stderr)
        return 2
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for bench in chosen:
        print(f"running {bench.name}: {bench.script} {' '.join(bench.args)}", file=sys.stderr, flush=True)
        results.append(run_one(bench, args.out, sys.executable))
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    table = markdown(table_rows(results))
    (args.out / "table.md").write_text(table, encoding="utf-8")
    print(table, end="")
    print(json.dumps({"bench": "run_all", "ran": len(results), "failed": sum(r["exit"] != 0 for r in results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
