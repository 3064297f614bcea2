"""An iterator's items made in a thread, a bounded number ahead of the caller.

Why: the LOBSTER readers' slow steps release the GIL (zlib inflating a zip member, pyarrow decoding a Parquet
batch), so on a machine with a core to spare a thread does them while the replay loop runs: wall time drops,
CPU time does not (both threads count). Memory stays flat: at most ``depth`` items wait, and one more is in the
thread's hands. An exception raised while producing is raised again, unchanged, by the ``next`` that would have
returned the item it stopped, so the caller turns it into the same one-line error as without the thread.
``close`` stops and joins the thread (the producer's ``finally`` runs in it), also when the caller stops early
or fails.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

T = TypeVar("T")

_POLL_S: Final = 0.05
"""How long the thread waits on a full queue before it looks at the stop flag again."""


class _Failed:
    """The producer's exception, on its way to the caller."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END: Final = object()


class Prefetch(Generic[T]):
    """Iterates over what ``produce()`` yields; ``produce`` is called and iterated in a thread named ``name``."""

    def __init__(self, produce: Callable[[], Iterator[T]], *, depth: int, name: str) -> None:
        self._produce = produce
        self._queue: queue.Queue[T | _Failed | object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        items = None
        try:
            items = self._produce()
            for item in items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the caller, which raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early: its own cleanup runs here, in its thread
                close()

    def _put(self, item: object) -> bool:
        """Wait for room; False once the caller has closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _Failed):
            self._ended = True
            raise item.exc
        if item is _END:
            self._ended = True
            raise StopIteration
        return item  # type: ignore[return-value]  # neither marker: one of produce's items

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread and wait for it (at most one item's production and one poll)."""
        self._stop.set()
        self._thread.join()
