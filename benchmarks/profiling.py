"""Time one call, optionally under cProfile, for benchmarks that print where the time goes when asked.

The cyclic garbage collector is run to completion just before the clock starts. Why: a full collection walks every
live object (half a million events in a quotes run, ~30 ms), and whether one lands inside the timed call depended on
how many objects the *setup* happened to allocate: issue 14's risk rules, compiled at assembly, moved one into the
timed region and made identical work (same instruction count under callgrind) read 8% slower. Collections the
timed call causes itself still count.
"""

from __future__ import annotations

import contextlib
import cProfile
import ctypes
import functools
import gc
import io
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

WINDOW_ENV = "TAPEFLOW_CALLGRIND_WINDOW"
"""Set by ``callgrind_counts(window=True)`` for its process: the path of the built ``callgrind_window.c``."""
_WINDOW_SOURCE = Path(__file__).with_name("callgrind_window.c")


def timed_call(fn: Callable[[], object], *, profile: bool = False, top: int = 14) -> tuple[float, str]:
    """Wall seconds of ``fn()`` and, with ``profile``, the ``top`` functions by own time (profiling slows it)."""
    prof = cProfile.Profile() if profile else None
    gc.collect()  # start every variant from the same collector state (see the module docstring)
    start = time.perf_counter()
    if prof is not None:
        prof.enable()
    fn()
    if prof is not None:
        prof.disable()
    elapsed = time.perf_counter() - start
    if prof is None:
        return elapsed, ""
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return elapsed, out.getvalue()


def callgrind_counts(
    argv: Sequence[str], cache: bool = False, window: bool = False, out_file: Path | None = None
) -> dict[str, int]:
    """What valgrind's callgrind counts for the process ``argv``: ``I refs`` (instructions executed) and, with
    ``cache``, its simulated cache's misses (``I1``, ``D1``, ``LLd``, ...): figures that do not move with the load
    of a shared machine, where timings do. Set ``PYTHONHASHSEED`` for repeatable dict layouts.

    With ``window``, only what the process runs inside ``counted_window()`` is counted (valgrind starts without
    instrumentation): a whole process's count is not repeatable (the same run counted twice differed by 4.35M
    instructions, its imports and start-up), and the window leaves that out. ``out_file`` keeps callgrind's
    profile (for ``callgrind_annotate``) where it is otherwise thrown away."""
    flags = ["--cache-sim=yes"] if cache else []
    env = None
    if window:
        flags.append("--instr-atstart=no")
        env = {**os.environ, WINDOW_ENV: str(_window_library())}
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file or '/dev/null'}", *flags, *argv],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    lines = re.finditer(r"== (\w+) +(\w+):\s*([\d,]+)", out.stderr)  # "==pid== D1  misses:  1,234"
    found = {f"{m[1]} {m[2]}": int(m[3].replace(",", "")) for m in lines}
    if "I refs" not in found:
        raise SystemExit(f"valgrind printed no instruction count:\n{out.stderr[-2000:]}")
    return found


def count_tree(src: Path | None) -> str:
    """Make the counted processes import ``src`` (another tree's ``src/``, its cores built in place) when given,
    with one BLAS thread; the tree's name for the output. The old/new comparisons of docs/PERFORMANCE.md are one
    ``bench_*_instructions.py`` run on each tree."""
    if src is not None:
        os.environ["PYTHONPATH"] = str(src.resolve())
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    return str(src) if src is not None else "this tree"


def per_added(counted: dict[int, list[int]], n1: int, n2: int) -> tuple[float, list[float]]:
    """The counts' cost per item added from ``n1`` to ``n2`` items: from the two sizes' medians, and from the i-th
    count of each (the spread); a run's start and end cancel in the difference."""
    median = (statistics.median(counted[n2]) - statistics.median(counted[n1])) / (n2 - n1)
    each = [(b - a) / (n2 - n1) for a, b in zip(counted[n1], counted[n2], strict=True)]
    return median, each


@functools.cache
def _window_library() -> Path:
    """``callgrind_window.c`` built once per process into a temporary directory (valgrind's header and a C
    compiler: ``callgrind_ready(window=True)`` checks both)."""
    built = Path(tempfile.mkdtemp(prefix="tapeflow-cgwin-")) / "callgrind_window.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(built), str(_WINDOW_SOURCE)], check=True)
    return built


@contextlib.contextmanager
def counted_window() -> Iterator[None]:
    """The block a process run by ``callgrind_counts(window=True)`` is counted over; anywhere else, nothing."""
    path = os.environ.get(WINDOW_ENV)
    if not path:
        yield
        return
    lib = ctypes.CDLL(path)
    lib.tapeflow_callgrind_start()
    try:
        yield
    finally:
        lib.tapeflow_callgrind_stop()


def callgrind_ready(window: bool = False) -> bool:
    """True when valgrind is installed (with ``window``, ``callgrind_window.c`` built too), the same dict layouts
    then set for every counted process (``PYTHONHASHSEED``); False with the benchmark's skip printed (its message,
    then its JSON line)."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: skipped (apt install valgrind)")
        print(json.dumps({"skipped": "valgrind missing"}))
        return False
    if window:
        try:
            _window_library()
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"callgrind_window.c could not be built ({exc}): skipped (needs cc and valgrind's headers)")
            print(json.dumps({"skipped": "callgrind_window.c not built"}))
            return False
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return True


def traced_calls(fn: Callable[[], object]) -> dict[str, list[int]]:
    """``fn()`` under ``sys.settrace`` with opcode events: per Python function, [calls, bytecodes run in its own
    frames, bytecodes run while it was on the stack (its callees' counted once, however deep it recurses)]. Counted,
    not timed: the same on any machine and load (what callgrind cannot split by Python function on CPython 3.11)."""
    table: dict[str, list[int]] = {}
    stack: list[tuple[list[int], int]] = []
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
            if stack:
                stack[-1][0][1] += 1
        elif event == "call":
            frame.f_trace_opcodes = True
            code = frame.f_code
            name = f"{code.co_filename.rsplit('src/', 1)[-1]}:{code.co_firstlineno}({code.co_name})"
            row = table.setdefault(name, [0, 0, 0])
            row[0] += 1
            stack.append((row, count))
        elif event == "return" and stack:
            row, start = stack.pop()
            if all(r is not row for r, _ in stack):
                row[2] += count - start
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return table


def calls_table(
    with_work: dict[str, list[int]], without: dict[str, list[int]], n: int, title: str, top: int = 40
) -> tuple[float, int]:
    """Print ``title`` (``{calls}`` and ``{codes}`` filled with the totals), then per unit of work (``n`` of them)
    each function's bytecodes (inclusive, own) and calls: a traced run with the work minus one without; returns
    the calls and bytecodes per unit."""
    n = max(n, 1)
    rows = []
    for name, (c, own, inclusive) in with_work.items():
        c0, own0, inclusive0 = without.get(name, [0, 0, 0])
        rows.append((round((inclusive - inclusive0) / n), round((own - own0) / n), round((c - c0) / n, 2), name))
    rows.sort(key=lambda r: (-r[0], -r[1], r[3]))
    total_calls = round((sum(r[0] for r in with_work.values()) - sum(r[0] for r in without.values())) / n, 1)
    total_codes = round((sum(r[1] for r in with_work.values()) - sum(r[1] for r in without.values())) / n)
    print(title.format(calls=total_calls, codes=total_codes))
    print(f"{'inclusive':>9} {'own':>6} {'calls':>6}  function")
    for inclusive, own, c, name in [r for r in rows if r[0] or r[1]][:top]:
        print(f"{inclusive:9,} {own:6,} {c:6.2f}  {name}")
    return total_calls, total_codes
