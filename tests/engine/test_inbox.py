from __future__ import annotations

import threading

import pytest

from tapeflow.engine import Inbox, Kernel, ScheduledInbox
from tapeflow.model import EngineError, Event, OutOfOrderError, Signal

from .helpers import trade


def _signal(ts: int, name: str) -> Signal:
    return Signal(ts_event=ts, ts_init=ts, strategy_id="outside", symbol="AAPL", name=name, value=1.0, reason="test")


def test_puts_from_several_threads_all_arrive_in_each_threads_order_and_none_is_lost() -> None:
    inbox = Inbox()
    threads, per_thread = 4, 5_000
    drained: list[Event] = []
    start = threading.Barrier(threads + 1)

    def post(tag: int) -> None:
        start.wait()
        for i in range(per_thread):
            inbox.put(_signal(i, f"{tag}"))

    workers = [threading.Thread(target=post, args=(tag,)) for tag in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers):
        drained += inbox.drain()  # drained while the threads put: nothing falls between two drains
    for worker in workers:
        worker.join()
    drained += inbox.drain()

    assert inbox.received == len(drained) == threads * per_thread
    assert len(inbox) == 0
    for tag in range(threads):
        assert [e.ts_init for e in drained if isinstance(e, Signal) and e.name == f"{tag}"] == list(range(per_thread))


def test_the_waker_is_called_once_after_each_drain_however_many_puts() -> None:
    inbox = Inbox()
    inbox.put(_signal(1, "before the waker"))
    rings: list[int] = []
    inbox.set_waker(lambda: rings.append(len(inbox)))
    inbox.put(_signal(2, "a"))
    inbox.put(_signal(3, "b"))
    assert rings == [2]  # called after the event was queued; the second put did not ring again
    assert [e.ts_init for e in inbox.drain()] == [1, 2, 3]
    inbox.put(_signal(4, "c"))
    assert rings == [2, 1]
    inbox.set_waker(None)
    inbox.put(_signal(5, "d"))
    assert rings == [2, 1] and len(inbox) == 2 and inbox.received == 5


def test_a_non_event_is_refused_on_the_putting_thread() -> None:
    inbox = Inbox()
    with pytest.raises(EngineError, match="the inbox takes events, got dict"):
        inbox.put({"fill": 1})  # type: ignore[arg-type]
    assert inbox.received == 0 and len(inbox) == 0


def test_scheduled_inbox_dispatches_each_event_at_its_own_ts_init_between_feed_events() -> None:
    kernel = Kernel()
    seen: list[str] = []
    kernel.subscribe(Event, lambda e: seen.append(f"{type(e).__name__}@{e.ts_init}"))
    inbox = ScheduledInbox(kernel)
    kernel.start(at=0)
    inbox.put(_signal(7, "late"))
    inbox.put(_signal(3, "early"))
    kernel.run([trade(5), trade(9)])
    assert seen == ["Signal@3", "Trade@5", "Signal@7", "Trade@9"]
    assert inbox.received == 2 and kernel.scheduled_events == 2


def test_scheduled_inbox_refuses_an_event_dated_before_the_clock() -> None:
    kernel = Kernel()
    kernel.start(at=10)
    inbox = ScheduledInbox(kernel)
    with pytest.raises(OutOfOrderError, match="emitted Signal at ts=9"):
        inbox.put(_signal(9, "stale"))
    assert inbox.received == 0


def test_scheduled_inbox_refuses_a_put_from_another_thread() -> None:
    kernel = Kernel()
    inbox = ScheduledInbox(kernel)
    errors: list[Exception] = []

    def post() -> None:
        try:
            inbox.put(_signal(1, "from a pool"))
        except EngineError as exc:
            errors.append(exc)

    worker = threading.Thread(target=post)
    worker.start()
    worker.join()
    assert len(errors) == 1 and "another thread" in str(errors[0])
    assert inbox.received == 0 and kernel.next_due() is None
