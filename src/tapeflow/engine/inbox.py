"""The inbox: where events from outside the feed enter the kernel.

A broker's order reports, a process pool's results, a dashboard's or a control socket's commands do not come from
a tape: they arrive on other threads or on the event loop, whenever they arrive. They all enter through one door,
``put(event)``, and which object stands behind it depends on the driver; a component that posts cannot tell:

- ``Inbox`` (live): a thread- and loop-safe queue. The live driver drains it between feed events, in arrival
  order: in real time each event is stamped with its arrival (``ts_init``), in a replay it is scheduled at its own
  ``ts_init``. It wakes a waiting driver through a waker the driver installs, so that nothing here knows asyncio.
- ``ScheduledInbox`` (backtest): ``put`` schedules the event on the kernel at its own ``ts_init``, the time the
  model gave it, so a backtest stays deterministic.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel


class InboxLike(Protocol):
    """What a component posts to: the live ``Inbox`` or a backtest's ``ScheduledInbox``."""

    def put(self, event: Event) -> None: ...

    @property
    def received(self) -> int: ...


def _refuse_non_event(event: object) -> None:
    """Fail where the mistake is made (the poster's thread), not later inside the kernel's loop."""
    if not isinstance(event, Event):
        raise EngineError(f"the inbox takes events, got {type(event).__name__}; wrap it in an Event subclass")


class Inbox:
    """A live run's inbox: ``put`` from any thread or from the event loop, never blocking for more than a lock.

    Events are kept in arrival order (one lock orders them, so each thread's events keep that thread's order) and
    are never dropped: whatever the driver has not drained stays here, counted in ``len(inbox)``.
    """

    __slots__ = ("_lock", "_queue", "_received", "_rung", "_waker")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Event] = deque()
        self._received = 0
        self._waker: Callable[[], None] | None = None
        self._rung = False
        """The waker was called since the last drain: one wake-up per drain, however many puts."""

    @property
    def received(self) -> int:
        """Events put so far, drained or not."""
        return self._received

    def __len__(self) -> int:
        """Events waiting to be drained."""
        return len(self._queue)

    def put(self, event: Event) -> None:
        _refuse_non_event(event)
        with self._lock:
            self._queue.append(event)
            self._received += 1
            waker = None if self._rung else self._waker
            if waker is not None:
                self._rung = True
        if waker is not None:
            waker()  # outside the lock: a waker may take its own locks (the event loop's self-pipe)

    def drain(self) -> list[Event]:
        """Every waiting event, in arrival order; the next ``put`` calls the waker again."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
            self._rung = False
        return events

    def set_waker(self, waker: Callable[[], None] | None) -> None:
        """The live driver's: ``waker()`` is called, on the putting thread, by the first ``put`` after a drain.

        The driver drains (or looks at ``len``) before it waits, so an event put before the waker was installed
        is not missed.
        """
        with self._lock:
            self._waker = waker
            self._rung = False


class ScheduledInbox:
    """A backtest's inbox: ``put`` schedules the event on ``kernel`` at its own ``ts_init`` (``Kernel.emit``).

    A backtest is one thread and deterministic, so a ``put`` from any other thread than the one that made the
    inbox is refused, as is an event dated before the kernel's clock.
    """

    __slots__ = ("_kernel", "_received", "_thread")

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._thread = threading.get_ident()
        self._received = 0

    @property
    def received(self) -> int:
        return self._received

    def put(self, event: Event) -> None:
        _refuse_non_event(event)
        if threading.get_ident() != self._thread:
            raise EngineError(
                "a backtest's inbox was given an event from another thread; a backtest must be deterministic: "
                "model the delay and put the result on the kernel's thread with the ts_init it would arrive at"
            )
        self._kernel.emit(event)
        self._received += 1
