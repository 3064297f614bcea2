"""Streaming k-way merge of time-sorted event sources.

The order is total and documented: by ``ts_init``, then by the position of the source in the list, then by the
order within the source (file order). It does not depend on chunk sizes or on timing, so a tape merged twice is the
same tape.

Why chunks and a sort instead of a heap of heads: popping a heap costs a Python-level comparison and a tuple per
event, whereas ``list.sort`` on a few already-sorted runs merges them in C (timsort finds the runs). Each round
takes every buffered event strictly earlier than the smallest "last buffered timestamp" of the sources still open;
nothing later can come before them, since each source is sorted. Memory stays bounded by ``chunk`` events per
source (more only when a source has more than ``chunk`` events at one timestamp).

The generator here is the reference; where the kernel's core is built (and ``TAPEFLOW_PURE_PYTHON`` is not set),
``merge_batches`` runs its compiled twin (``_kernel_core.merge_batches``: the same rounds and reads, each round's
sources merged by a heap of C-integer keys instead of a keyed sort, each source's chunk read into a C array rather
than a list; docs/PERFORMANCE.md, "Round 8, p26-kernel" and "Round 12, p30-kernel").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from operator import attrgetter
from typing import Literal, TypeVar

from tapeflow.config import compiled_cores_wanted
from tapeflow.model.errors import OutOfOrderError
from tapeflow.model.events import Event

try:  # the compiled merge (setup.py builds it); without it the reference below runs
    from tapeflow.engine._kernel_core import merge_batches as compiled_merge_batches

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

E = TypeVar("E", bound=Event)
Impl = Literal["auto", "compiled", "python"]

_ts_init = attrgetter("ts_init")


def merge_sorted(sources: Iterable[Iterable[E]], *, chunk: int = 1024, impl: Impl = "auto") -> Iterator[E]:
    """Merge sources sorted by ``ts_init`` into one sorted stream, streaming (see the module doc for the order)."""
    return chain.from_iterable(merge_batches(sources, chunk=chunk, impl=impl))


def merge_batches(sources: Iterable[Iterable[E]], *, chunk: int = 1024, impl: Impl = "auto") -> Iterator[list[E]]:
    """Like ``merge_sorted`` but yields lists of consecutive events (cheaper to consume in a tight loop).

    ``impl``: ``"python"`` the reference below, ``"compiled"`` the core's twin (the reference when it is not
    built), ``"auto"`` the core unless ``TAPEFLOW_PURE_PYTHON`` is set. Both yield the same batches."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if COMPILED_AVAILABLE and (impl == "compiled" or (impl == "auto" and compiled_cores_wanted())):
        batches: Iterator[list[E]] = compiled_merge_batches(sources, chunk)
        return batches
    return _reference_batches(sources, chunk)


def _reference_batches(sources: Iterable[Iterable[E]], chunk: int) -> Iterator[list[E]]:
    """The merge in Python, the reference (the module doc says how it works)."""
    iters = [iter(s) for s in sources]
    bufs: list[list[E]] = []
    open_: list[bool] = []
    for it in iters:
        buf = list(islice(it, chunk))
        _check_sorted(buf, 0)
        bufs.append(buf)
        open_.append(len(buf) == chunk)
    low = max(1, chunk // 2)
    if len(iters) == 1:
        # One source: no merging needed, only the order check.
        (it,) = iters
        buf = bufs[0]
        while buf:
            yield buf
            last = buf[-1].ts_init
            buf = list(islice(it, chunk))
            _check_sorted(buf, last)
        return
    while True:
        active = [i for i, o in enumerate(open_) if o]
        if not active:
            rest = [e for b in bufs for e in b]
            rest.sort(key=_ts_init)
            if rest:
                yield rest
            return
        cut = min(bufs[i][-1].ts_init for i in active)
        out: list[E] = []
        taken = 0
        for b in bufs:
            if b:
                j = bisect_left(b, cut, key=_ts_init)
                if j:
                    out += b[:j]
                    del b[:j]
                    taken += 1
        if taken > 1:
            out.sort(key=_ts_init)
        if out:
            yield out
        for i in active:
            b = bufs[i]
            if len(b) < low or b[-1].ts_init == cut:
                more = list(islice(iters[i], chunk))
                _check_sorted(more, b[-1].ts_init if b else cut)
                if len(more) < chunk:
                    open_[i] = False
                b += more


def _check_sorted(buf: list[E], floor: int) -> None:
    """A source out of order would be silently reordered by the merge: refuse it, naming both timestamps."""
    if not buf:
        return
    keys = list(map(_ts_init, buf))
    if keys[0] >= floor and keys == sorted(keys):  # both loops in C: a few ns an event
        return
    prev = floor
    for e in buf:
        if e.ts_init < prev:
            raise OutOfOrderError(e.ts_init, prev, f"source event {type(e).__name__}")
        prev = e.ts_init
