"""Time one call, optionally under cProfile, for benchmarks that print where the time goes when asked.

The cyclic garbage collector is run to completion just before the clock starts. Why: a full collection walks every
live object (half a million events in a quotes run, ~30 ms), and whether one lands inside the timed call depended on
how many objects the *setup* happened to allocate: issue 14's risk rules, compiled at assembly, moved one into the
timed region and made identical work (same instruction count under callgrind) read 8% slower. Collections the
timed call causes itself still count.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence


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


def callgrind_counts(argv: Sequence[str], cache: bool = False) -> dict[str, int]:
    """What valgrind's callgrind counts for the process ``argv``: ``I refs`` (instructions executed) and, with
    ``cache``, its simulated cache's misses (``I1``, ``D1``, ``LLd``, ...): figures that do not move with the load
    of a shared machine, where timings do. Set ``PYTHONHASHSEED`` for repeatable dict layouts."""
    flags = ["--cache-sim=yes"] if cache else []
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *flags, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = re.finditer(r"== (\w+) +(\w+):\s*([\d,]+)", out.stderr)  # "==pid== D1  misses:  1,234"
    found = {f"{m[1]} {m[2]}": int(m[3].replace(",", "")) for m in lines}
    if "I refs" not in found:
        raise SystemExit(f"valgrind printed no instruction count:\n{out.stderr[-2000:]}")
    return found


def callgrind_ready() -> bool:
    """True when valgrind is installed, the same dict layouts then set for every counted process
    (``PYTHONHASHSEED``); False with the benchmark's skip printed (its message, then its JSON line)."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: skipped (apt install valgrind)")
        print(json.dumps({"skipped": "valgrind missing"}))
        return False
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return True
