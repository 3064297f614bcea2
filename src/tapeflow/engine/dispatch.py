"""What the kernel's dispatch table holds for an event type: one handler, whatever the number of subscribers.

The kernel builds an entry on first use of a type (``Kernel._resolve``) and calls it for every event of that exact
type, so the step pays one dict lookup and one call whether a type has no subscriber, one, or several.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tapeflow.model.events import Event

Handler = Callable[[Any], None]


def handler_for(kind: type[Any], subscriptions: Sequence[tuple[type[Event], Handler]]) -> Handler:
    """The subscribers of ``kind`` and of its base classes, in subscription order, as one callable."""
    handlers = tuple(h for cls, h in subscriptions if issubclass(kind, cls))
    if not handlers:
        return _noop
    if len(handlers) == 1:
        return handlers[0]
    return _fanout(handlers)


def _noop(event: Event) -> None:
    return None


def _fanout(handlers: tuple[Handler, ...]) -> Handler:
    def dispatch_all(event: Event) -> None:
        for handler in handlers:
            handler(event)

    return dispatch_all
