"""A live feed that can be ended from outside: how a graceful stop tells a running node "no more data".

The live driver runs until its source is exhausted, then delivers what the inbox holds, finishes the kernel
(timers due, every emitted event such as late acknowledgements) and stops every component (the audit trail ends its
run). Ending the source is therefore the one clean way to end a run, and this wrapper makes the source endable:
``stop()`` makes the next ``__anext__`` raise ``StopAsyncIteration``, and one already waiting for the inner source
is interrupted (its task is cancelled, the cancellation turned into the end of the feed, and the task's
cancellation count restored, so nothing else in the task sees it). The inner source is abandoned at that point, as
a closed socket would be.

The cost on the hot path is one extra coroutine frame per event; there is no task or future per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StoppableFeed(Generic[T]):
    """Wraps an async iterable; ``stop()`` (on the loop's thread) ends it at the next or current wait."""

    __slots__ = ("_inner", "_stopped", "_take", "_waiting")

    def __init__(self, source: AsyncIterable[T]) -> None:
        self._inner: AsyncIterator[T] = source.__aiter__()
        self._take: Callable[[], T | None] | None = getattr(source, "next_ready", None)
        self._stopped = False
        self._waiting: asyncio.Task[object] | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the feed: at once if it is waiting for the inner source, else at the next event asked for."""
        if self._stopped:
            return
        self._stopped = True
        task = self._waiting
        if task is not None and not task.done():
            task.cancel()

    def next_ready(self) -> T | None:
        """The inner source's next event if it holds one ready (``tapeflow.live.driver.ReadySource``); nothing once
        stopped."""
        take = self._take
        return None if self._stopped or take is None else take()

    def __aiter__(self) -> StoppableFeed[T]:
        return self

    async def __anext__(self) -> T:
        if self._stopped:
            raise StopAsyncIteration
        task = asyncio.current_task()
        self._waiting = task
        try:
            return await self._inner.__anext__()
        except asyncio.CancelledError:
            if not self._stopped or task is None:
                raise
            if task.uncancel() > 0:  # someone else cancelled the task too: theirs stands
                raise
            raise StopAsyncIteration from None  # ours: the feed ended, nobody cancelled the task
        finally:
            self._waiting = None
