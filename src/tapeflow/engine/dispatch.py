"""What the kernel's dispatch table holds for an event type: one handler, whatever the number of subscribers.

The kernel builds an entry on first use of a type (``Kernel._resolve``) and calls it for every event of that exact
type, so the step pays one dict lookup and one call whether a type has no subscriber, one, or several.

Several subscribers get one generated function calling each in turn, with no loop (``_unrolled``): a quote in the
tick backtest reaches four subscribers, and a ``for`` over a tuple of handlers inside a closure cost about 142 ns
per event for four against 104 ns unrolled (CPython 3.11 here, CPU time, issue 19). The table keeps holding one
callable, not a tuple the kernel would loop over: a one-subscriber type would pay for the loop on every event
(52 ns against 35 measured the same way), and those are most of the kernel's types.

The compiled kernel (``_kernel_core.pyx``) builds its entries with ``handlers_of`` too, but wraps several handlers
in its ``FanOut``, which its loops unpack and call without a Python frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from tapeflow.model.events import Event

Handler = Callable[[Any], None]


def handlers_of(kind: type[Any], subscriptions: Sequence[tuple[type[Event], Handler]]) -> tuple[Handler, ...]:
    """The subscribers of ``kind`` and of its base classes, in subscription order."""
    return tuple(h for cls, h in subscriptions if issubclass(kind, cls))


def handler_for(kind: type[Any], subscriptions: Sequence[tuple[type[Event], Handler]]) -> Handler:
    """The subscribers of ``kind`` and of its base classes, in subscription order, as one callable."""
    handlers = handlers_of(kind, subscriptions)
    if not handlers:
        return _noop
    if len(handlers) == 1:
        return handlers[0]
    return _unrolled(len(handlers))(*handlers)


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
