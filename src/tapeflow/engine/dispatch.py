"""What the kernel's dispatch table holds for an event type: one handler, whatever the number of subscribers.

The kernel builds an entry on first use of a type (``Kernel._resolve``) and calls it for every event of that exact
type, so the step pays one dict lookup (the compiled loops: a comparison among the few types they have used,
``_kernel_core.Handlers``) and one call whether a type has no subscriber, one, or several.

Several subscribers get one generated function calling each in turn, with no loop (``_unrolled``): a quote in the
tick backtest reaches four subscribers, and a ``for`` over a tuple of handlers inside a closure cost about 142 ns
per event for four against 104 ns unrolled (CPython 3.11 here, CPU time, issue 19). The table keeps holding one
callable, not a tuple the kernel would loop over: a one-subscriber type would pay for the loop on every event
(52 ns against 35 measured the same way), and those are most of the kernel's types.

The compiled kernel (``_kernel_core.pyx``) takes the same handlers (``Subscriptions.handlers``) but wraps several
in its ``FanOut``, which its loops unpack and call without a Python frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sized
from operator import attrgetter
from typing import Any

from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event

Handler = Callable[[Any], None]


def combine(handlers: tuple[Handler, ...]) -> Handler:
    """``handlers`` as one callable: a no-op for none, the handler itself for one, a generated fan-out else."""
    if not handlers:
        return _noop
    if len(handlers) == 1:
        return handlers[0]
    return _unrolled(len(handlers))(*handlers)


class Subscriptions:
    """Every subscription of a kernel in its place, and the subscribers of an event type built from them.

    An unsubscribed handler keeps its place, paused: subscribing it again to the same type resumes it there, so
    that the order in which a type's subscribers are called never depends on when a component stopped and started
    listening. Each event type the table has asked for remembers the places that match it, so pausing or resuming
    one costs the rebuild of the few types that place feeds, not a scan of every subscription."""

    __slots__ = ("_by_type", "_dependents", "_paused", "_places", "_sources")

    def __init__(self) -> None:
        self._places: list[tuple[type[Event], Handler]] = []
        self._paused: set[int] = set()
        self._by_type: dict[type[Event], list[int]] = {}
        """By subscribed type: its places, so that an unsubscribe looks at a few, not at every subscription."""
        self._sources: dict[type[Any], tuple[int, ...]] = {}
        """By event type asked for: the places of its subscribers (paused ones too), in order."""
        self._dependents: dict[int, list[type[Any]]] = {}
        """By place: the event types asked for that it feeds."""

    def add(self, event_type: type[Event], handler: Handler) -> list[type[Any]] | None:
        """Subscribe; the event types whose subscribers changed (None: any may have, a new place was taken)."""
        for i in sorted(self._paused):
            cls, paused = self._places[i]
            if cls is event_type and paused == handler:  # the earliest paused place of the pair
                self._paused.discard(i)
                return self._dependents.get(i, [])
        self._by_type.setdefault(event_type, []).append(len(self._places))
        self._places.append((event_type, handler))
        self._sources.clear()
        self._dependents.clear()
        return None

    def remove(self, event_type: type[Event], handler: Handler) -> list[type[Any]]:
        """Pause the latest active subscription of ``handler`` to ``event_type``; the event types it fed."""
        for i in reversed(self._by_type.get(event_type, ())):
            if i not in self._paused and self._places[i][1] == handler:
                self._paused.add(i)
                return self._dependents.get(i, [])
        raise EngineError(f"{handler!r} is not subscribed to {event_type.__name__}: nothing to unsubscribe")

    def __iter__(self) -> Iterator[tuple[type[Event], Handler]]:
        """The active subscriptions, ``(event_type, handler)``, in their places' order (what tests inspect)."""
        paused = self._paused
        return (pair for i, pair in enumerate(self._places) if i not in paused)

    def handlers(self, kind: type[Any]) -> tuple[Handler, ...]:
        """The active subscribers of ``kind`` and of its base classes, in their places' order."""
        sources = self._sources.get(kind)
        if sources is None:
            sources = self._sources[kind] = tuple(i for i, (cls, _) in enumerate(self._places) if issubclass(kind, cls))
            for i in sources:
                self._dependents.setdefault(i, []).append(kind)
        places, paused = self._places, self._paused
        return tuple(places[i][1] for i in sources if i not in paused)


def _noop(event: Event) -> None:
    return None


@functools.cache
def _unrolled(n: int) -> Callable[..., Handler]:
    """A factory ``make(h0, ..., h{n-1})`` of ``dispatch_all(event)``, which calls ``h0(event)`` to
    ``h{n-1}(event)`` in that order. Generated once per arity; the handlers are closure cells, never text."""
    names = [f"h{i}" for i in range(n)]
    source = "\n".join(
        [
            f"def make({', '.join(names)}):",
            "    def dispatch_all(event):",
            *(f"        {name}(event)" for name in names),
            "    return dispatch_all",
        ]
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<tapeflow dispatch of {n}>", "exec"), namespace)  # the text depends on n alone
    make: Callable[..., Handler] = namespace["make"]
    return make


def last_keeper(field: str, last: dict[Any, Any]) -> Handler:
    """A handler keeping in ``last`` the latest event per value of its ``field`` (``Kernel.keep_last``)."""
    key = attrgetter(field)

    def keep(event: Event) -> None:
        last[key(event)] = event

    return keep


def gated(handler: Handler, when: Sized) -> Handler:
    """``handler``, called only while ``when`` is not empty (``Kernel.subscribe_while``)."""

    def gate(event: Event) -> None:
        if when:
            handler(event)

    return gate
