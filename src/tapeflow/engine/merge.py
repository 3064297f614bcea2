"""Streaming k-way merge of time-sorted event sources.

The order is total and documented: by ``ts_init``, then by the position of the source in the list, then by the
order within the source (file order). It does not depend on chunk sizes or on timing, so a tape merged twice is the
same tape.

Why chunks and a sort instead of a heap of heads: popping a heap costs a Python-level comparison and a tuple per
event, whereas ``list.sort`` on a few already-sorted runs merges them in C (timsort finds the runs). Each round
takes every buffered event strictly earlier than the smallest "last buffered timestamp" of the sources still open;
nothing later can come before them, since each source is sorted. Memory stays bounded by ``chunk`` events per
source (more only when a source has more than ``chunk`` events at one timestamp).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from operator import attrgetter
from typing import TypeVar

from tapeflow.model.errors import OutOfOrderError
from tapeflow.model.events import Event

E = TypeVar("E", bound=Event)

_ts_init = attrgetter("ts_init")


def merge_sorted(sources: Iterable[Iterable[E]], *, chunk: int = 1024) -> Iterator[E]:
    """Merge sources sorted by ``ts_init`` into one sorted stream, streaming (see the module doc for the order)."""
    return chain.from_iterable(merge_batches(sources, chunk=chunk))


def merge_batches(sources: Iterable[Iterable[E]], *, chunk: int = 1024) -> Iterator[list[E]]:
    """Like ``merge_sorted`` but yields lists of consecutive events (cheaper to consume in a tight loop)."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
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
