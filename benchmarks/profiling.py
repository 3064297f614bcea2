"""Time one call, optionally under cProfile, for benchmarks that print where the time goes when asked."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable


def timed_call(fn: Callable[[], object], *, profile: bool = False, top: int = 14) -> tuple[float, str]:
    """Wall seconds of ``fn()`` and, with ``profile``, the ``top`` functions by own time (profiling slows it)."""
    prof = cProfile.Profile() if profile else None
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
