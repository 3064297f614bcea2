"""The backtest driver: merge the sources and hand the whole tape to the kernel in one ``run``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain

from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_batches
from tapeflow.model.events import Event

OnBatch = Callable[[list[Event]], None]
"""Sees each batch of feed events (sorted) just before the kernel dispatches it."""


def run_backtest(
    kernel: Kernel,
    sources: Sequence[Iterable[Event]],
    *,
    until: int | None = None,
    on_batch: OnBatch | None = None,
) -> Kernel:
    """Start the kernel, replay every source in ``(ts_init, source index, file order)``, finish, stop.

    ``until`` is the end of the simulated session: timers due after it never fire. Emitted events still queued at
    the end (acks, fills) are delivered regardless. ``on_batch`` sees each batch before it is dispatched, after
    the kernel started: work that follows the data's clock (the portfolio's equity samples) pays per batch, not
    per event.
    """
    batches = merge_batches(sources)
    first = next(batches, None)
    kernel.start(at=None if first is None else first[0].ts_init)
    try:
        if first is not None:
            tape: Iterator[list[Event]] = chain((first,), batches)
            kernel.run_sorted(tape if on_batch is None else _observed(tape, on_batch))
        kernel.finish(until)
    finally:
        kernel.stop()
    return kernel


def _observed(batches: Iterator[list[Event]], on_batch: OnBatch) -> Iterator[list[Event]]:
    for batch in batches:
        on_batch(batch)
        yield batch
