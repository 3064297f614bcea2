"""The backtest driver: merge the sources and hand the whole tape to the kernel in one ``run``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_batches
from tapeflow.model.events import Event


def run_backtest(kernel: Kernel, sources: Sequence[Iterable[Event]], *, until: int | None = None) -> Kernel:
    """Start the kernel, replay every source in ``(ts_init, source index, file order)``, finish, stop.

    ``until`` is the end of the simulated session: timers due after it never fire. Emitted events still queued at
    the end (acks, fills) are delivered regardless.
    """
    batches = merge_batches(sources)
    first = next(batches, None)
    kernel.start(at=None if first is None else first[0].ts_init)
    try:
        if first is not None:
            kernel.run_sorted(chain((first,), batches))
        kernel.finish(until)
    finally:
        kernel.stop()
    return kernel
