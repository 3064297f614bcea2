"""The kernel: one queue, one step, driven by a backtest or a live driver.

Events come from two places:

- the *feed*: time-sorted events handed to ``run`` (by the backtest driver from ``merge_sorted``, by the live driver
  one arrival at a time);
- the *schedule*: a heap of ``(ts, seq, item)`` holding events that components ``emit`` (orders, fills, signals,
  with or without modelled latency) and timers.

Order is strict ``(ts, seq)``: before a feed event at ``ts`` is dispatched, every scheduled item due at or before
``ts`` runs, in time order, equal times in the order they were scheduled (``seq``). After the last event of a
``run``, items due at or before the current time run too. Because of that rule, feeding a tape in one ``run`` call
or in one call per event gives the same dispatch order: that is what lets the live driver and the backtest share
this code and produce byte-identical output.

Handlers are found through a dispatch table keyed by the event's exact type, built on first use from the
subscriptions of that type and of its base classes (subscribing to ``Event`` sees everything), in subscription
order.

One dispatch path: whatever the kernel runs (feed event, emitted event, timer, ``call_at``) is looked up in that
table by exact type and called; a ``Timer`` finds ``_fire``, a ``Call`` finds ``_call``. ``_feed`` feeds (behind
``run`` and ``run_sorted``), ``_drain`` runs the schedule. Measured on CPython 3.11 (``benchmarks/bench_kernel.py``;
a step costs about 60 ns): the loops inline the lookup because a call per item costs about 30 ns; ``run_sorted``
checks the clock once per proven run because ``ts < now`` on nanosecond ints costs about 13 ns a step; and ``_feed``
keeps one inner loop per mode, because one shared loop testing a mode flag per step was 2 % slower (both kernels in
one process, CPU time) and 2-5 % in wall time.

The same two loops exist compiled (``_kernel_core.pyx``; the profile in docs/PERFORMANCE.md says why): a kernel
built with ``impl="compiled"`` (or ``"auto"``, the default, when the core was built and ``TAPEFLOW_PURE_PYTHON``
is not set) is a ``CompiledKernel``, whose ``_feed``, ``_drain``, ``emit`` and ``call_at`` are the compiled functions
and whose table holds a ``FanOut`` for a type with several subscribers (and ``TimerFire`` and ``CallRun`` for timers
and calls); everything else is this module's code on the same state.
This module's loops are the reference: tests require the identical dispatch sequence, clock and errors from both.
``Kernel.impl`` says which ran.

Why this module is long: the reference loops, the wiring (subscribe, unsubscribe and the handlers the compiled
loops run without a call) and the choice of implementation must sit beside each other, or the compiled kernel's
subclass would be in a module the choice in ``Kernel.__new__`` imports from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Sized
from heapq import heappop, heappush
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from tapeflow.config import compiled_core_chosen
from tapeflow.engine.clock import Clock, SimClock
from tapeflow.engine.dispatch import Handler, Subscriptions, combine, gated, last_keeper
from tapeflow.engine.timers import Call, Timer, first_due
from tapeflow.model.errors import EngineError, OutOfOrderError
from tapeflow.model.events import Event, TimerFired

try:  # the compiled loops (setup.py builds them); without them the Python reference runs
    from tapeflow.engine._kernel_core import CallRun, FanOut, Gated, Handlers, LastBy, TimerFire, drain, feed
    from tapeflow.engine._kernel_core import call_at as compiled_call_at
    from tapeflow.engine._kernel_core import emit as compiled_emit
    from tapeflow.engine._kernel_core import now as compiled_now

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

E = TypeVar("E", bound=Event)
Impl = Literal["auto", "compiled", "python"]


class Component(Protocol):
    """Something that lives on the kernel: subscribes in ``attach``, is told when the run starts and stops."""

    def attach(self, kernel: Kernel) -> None: ...

    def on_start(self) -> None: ...

    def on_stop(self) -> None: ...


class Kernel:
    """Synchronous, deterministic event loop. See the module docstring for the ordering contract.

    Slotted: the compiled loops count through the slots' offsets (``_kernel_core.TimerFire``)."""

    __slots__ = (
        "_components",
        "_heap",
        "_not_events",
        "_popped",
        "_running",
        "_seq",
        "_subscriptions",
        "_table",
        "_time",
        "_upkeep",
        "clock",
        "feed_events",
    )

    impl: ClassVar[Literal["compiled", "python"]] = "python"
    """Which loops this kernel runs."""

    def __new__(cls, clock: Clock | None = None, impl: Impl = "auto") -> Kernel:
        """``impl``: "python" is the reference loops; "compiled" the compiled ones (``ConfigError`` when they were
        not built); "auto" the compiled ones when built, unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``.
        A subclass gets what it asks for."""
        compiled = compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled kernel core")
        if cls is not Kernel:
            return super().__new__(cls)
        return super().__new__(CompiledKernel if compiled else cls)

    def __init__(self, clock: Clock | None = None, impl: Impl = "auto") -> None:
        self._time = SimClock()
        """Event time, always: orders the queue whatever clock components are shown."""
        self.clock: Clock = clock if clock is not None else self._time
        self._subscriptions = Subscriptions()
        self._table: dict[type[Any], Handler] = {}
        self._heap: list[tuple[int, int, Event | Timer | Call]] = []
        self._seq = 0
        self._components: list[Component] = []
        self._upkeep: list[Callable[[], None]] = []
        self._running = False
        self.feed_events = 0
        """Feed events dispatched so far."""
        self._popped = 0
        self._not_events = 0  # schedule items run that were no event: calls, cancelled and callback-only timers

    # -- wiring -------------------------------------------------------------------------------------------------

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` for every event of ``event_type`` or a subclass, after earlier subscribers."""
        self._forget(self._subscriptions.add(event_type, handler))

    def unsubscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Stop calling ``handler`` for ``event_type`` (its latest such subscription; ``EngineError`` if none).

        The subscription keeps its place: subscribing the same handler to the same type again resumes it there,
        among the other subscribers, not after them. Safe inside a handler: the event being dispatched still
        reaches the subscribers it was going to reach; the change holds from the next event of the type on."""
        self._forget(self._subscriptions.remove(event_type, handler))

    def keep_last(self, event_type: type[E], field: str, last: dict[Any, E]) -> None:
        """Keep in ``last`` the latest event of ``event_type`` per value of its ``field``, as a subscriber in this
        place: for a component that needs only that (the simulated exchange's last bar of each symbol, for
        marks), it costs the compiled kernel a dict store an event, no call."""
        self.subscribe(event_type, self._keeper(field, last))

    _keeper = staticmethod(last_keeper)

    def subscribe_while(self, event_type: type[E], handler: Callable[[E], None], when: Sized) -> None:
        """Subscribe ``handler`` to ``event_type``, called only while ``when`` (a container the component fills
        and empties) is not empty: for a handler with work only then (the simulated exchange's bar handler, while an
        order waits for a bar). The compiled kernel tests ``when`` itself, no call; cheaper than unsubscribing and
        subscribing again around each order, which costs a few microseconds each time (docs/PERFORMANCE.md)."""
        self.subscribe(event_type, self._gate(handler, when))

    _gate = staticmethod(gated)

    def _forget(self, kinds: list[type[Any]] | None) -> None:
        """Drop the table entries whose subscribers changed (None: all), rebuilt on their next event."""
        if kinds is None:
            self._table.clear()
            return
        table = self._table
        for kind in kinds:
            table.pop(kind, None)

    def add(self, component: Component) -> None:
        self._components.append(component)
        component.attach(self)
        on_upkeep = getattr(component, "on_upkeep", None)
        if on_upkeep is not None:
            self._upkeep.append(on_upkeep)

    def upkeep(self) -> None:
        """Call ``on_upkeep()`` of the components that have one: a live driver's wall-clock call for work that must
        not wait for the next event (a lone audit record). Not on the schedule, where a pending item would cost
        every feed event a comparison; a backtest never calls it."""
        for hook in self._upkeep:
            hook()

    _combine = staticmethod(combine)
    """Several subscribers as one callable (the compiled kernel's is its ``FanOut``)."""

    def _resolve(self, kind: type[Any]) -> Handler:
        if kind is Timer:
            handler: Handler = self._timer_handler()
        elif kind is Call:
            handler = self._call_handler()
        else:
            handler = self._combine(self._subscriptions.handlers(kind))
        self._table[kind] = handler
        return handler

    # -- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def scheduled_events(self) -> int:
        """Emitted events and timer firings dispatched so far."""
        return self._popped - self._not_events

    @property
    def now(self) -> int:
        """Event time: ``ts_init`` of the event being handled (or of the last one)."""
        return self._time._now

    def start(self, at: int | None = None) -> None:
        """Start the components at event time ``at`` (the first event's or the wall clock's); they set their first
        timers in ``on_start``, relative to it."""
        if self._running:
            raise EngineError("kernel already started; call stop() before starting it again")
        if at is not None:
            self._time.advance_to(at)
        self._running = True
        for component in self._components:
            component.on_start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        for component in reversed(self._components):
            component.on_stop()

    # -- scheduling ---------------------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue ``event`` for dispatch at its ``ts_init`` (now or later, never earlier)."""
        ts = event.ts_init
        if ts < self._time._now:
            raise OutOfOrderError(
                ts, self._time._now, f"emitted {type(event).__name__}", "a component cannot schedule into the past"
            )
        heappush(self._heap, (ts, self._seq, event))
        self._seq += 1

    def call_at(self, ts: int, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Run ``fn(arg)`` at ``ts`` in ``(ts, seq)`` order with everything else, dispatching nothing: a component's
        own delayed work no one should see as an event (an order reaching the simulated exchange after latency)."""
        if ts < self._time._now:
            raise OutOfOrderError(ts, self._time._now, "call_at", "a component cannot schedule into the past")
        heappush(self._heap, (ts, self._seq, Call(fn, arg)))
        self._seq += 1

    def set_timer(
        self,
        name: str,
        *,
        at: int | None = None,
        interval: int | None = None,
        callback: Callable[[TimerFired], None] | None = None,
        tick: Callable[[int], None] | None = None,
    ) -> Timer:
        """A one-shot timer at ``at``, or a repeating one every ``interval`` ns (first at ``at`` or now+interval);
        firing dispatches a ``TimerFired`` to its subscribers, then calls ``callback``; or, given ``tick`` instead,
        only calls ``tick(now)`` (callback-only: no event, same place in the order)."""
        timer = Timer(name, self._seq, first_due(name, self._time._now, at, interval), interval, callback, tick)
        heappush(self._heap, (timer.when, self._seq, timer))
        self._seq += 1
        return timer

    def next_due(self) -> int | None:
        """Time of the earliest scheduled item (live drivers sleep until then), or None."""
        heap = self._heap
        while heap and type(heap[0][2]) is Timer and heap[0][2].cancelled:
            heappop(heap)
        return heap[0][0] if heap else None

    # -- running ------------------------------------------------------------------------------------------------

    def run(self, events: Iterable[Event]) -> None:
        """Dispatch ``events`` (sorted by ``ts_init``, each checked) with everything scheduled in between."""
        self._feed((events,), True)

    def run_sorted(self, batches: Iterable[Sequence[Event]]) -> None:
        """``run`` for lists already proven in order (``merge_batches`` checks every source as it reads it): each
        sorted by ``ts_init``, starting at or after the end of the previous one. Only the first event of each list
        is checked against the clock. The backtest driver's; ``tests/live/test_live_equals_backtest.py`` proves it
        dispatches exactly as ``run`` fed one event at a time does."""
        self._feed(batches, False)

    def _feed(self, batches: Iterable[Iterable[Event]], checking: bool) -> None:
        """The feed: ``checking``, every event against the clock (``run``); else each proven list by its first."""
        heap = self._heap
        table = self._table
        time = self._time
        count = 0
        try:
            for batch in batches:
                if checking:
                    for event in batch:
                        ts = event.ts_init
                        if ts < time._now:
                            raise OutOfOrderError(ts, time._now, type(event).__name__)
                        count += 1
                        if heap and heap[0][0] <= ts:
                            self._drain(ts)
                        time._now = ts
                        try:
                            handler = table[type(event)]
                        except KeyError:
                            handler = self._resolve(type(event))
                        handler(event)
                    continue
                if not batch:
                    continue
                first = batch[0].ts_init  # type: ignore[index]
                if first < time._now:
                    raise OutOfOrderError(first, time._now, type(batch[0]).__name__)  # type: ignore[index]
                for event in batch:
                    ts = event.ts_init
                    if heap and heap[0][0] <= ts:
                        self._drain(ts)
                    time._now = ts
                    try:
                        handler = table[type(event)]
                    except KeyError:
                        handler = self._resolve(type(event))
                    handler(event)
                count += len(batch)  # type: ignore[arg-type]
        finally:
            self.feed_events += count
        now = time._now
        if heap and heap[0][0] <= now:
            self._drain(now)

    def advance(self, ts: int) -> None:
        """Move event time to ``ts``, running everything scheduled up to it (live drivers on a timer wake-up)."""
        if ts < self._time._now:
            raise OutOfOrderError(ts, self._time._now, "advance")
        self._drain(ts)
        self._time._now = ts

    def finish(self, until: int | None = None) -> None:
        """End of input: fire timers due up to ``until`` (default: now) and deliver every event still queued.

        Timers due after ``until`` are dropped (the run is over before they come due); emitted events are never
        dropped, however late, because they are consequences of what already happened (an ack, a fill).
        """
        limit = self._time._now if until is None else until
        self.advance(max(limit, self._time._now))
        heap = self._heap
        while heap:
            if type(heap[0][2]) is Timer:
                heappop(heap)
                continue
            # one item at a time: a drain to its time would also fire a timer due then, and a timer whose work
            # schedules a call (a feature sample's label) would keep the run alive forever
            ts, _, item = heappop(heap)
            self._time._now = ts
            self._popped += 1
            try:
                handler = self._table[type(item)]
            except KeyError:
                handler = self._resolve(type(item))
            handler(item)

    def _drain(self, limit: int) -> None:
        """The schedule loop: every item due at or before ``limit``, in ``(ts, seq)`` order, through the table."""
        heap = self._heap
        table = self._table
        time = self._time
        popped = 0
        try:
            while heap and heap[0][0] <= limit:
                ts, _, item = heappop(heap)
                time._now = ts
                popped += 1
                try:
                    handler = table[type(item)]
                except KeyError:
                    handler = self._resolve(type(item))
                handler(item)
        finally:
            self._popped += popped

    def _fire(self, timer: Timer) -> None:
        """A timer came due: subscribers see a ``TimerFired``, then the callback runs (a callback-only timer: its
        ``tick`` alone); a repeating timer is scheduled again first (after whatever else is due at its next time)."""
        if timer.cancelled:
            self._not_events += 1
            return
        now = self._time._now
        timer.fired += 1
        if timer.interval is not None:
            timer.when = now + timer.interval
            heappush(self._heap, (timer.when, self._seq, timer))
            self._seq += 1
        tick = timer.tick
        if tick is not None:  # callback-only: no event built or dispatched
            self._not_events += 1
            tick(now)
            return
        fired = TimerFired(ts_event=now, ts_init=now, name=timer.name, timer_id=timer.id)
        try:
            handler = self._table[TimerFired]
        except KeyError:
            handler = self._resolve(TimerFired)
        handler(fired)
        if timer.callback is not None:
            timer.callback(fired)

    def _call(self, call: Call) -> None:
        self._not_events += 1
        call.fn(call.arg)

    def _timer_handler(self) -> Handler:
        """What the table runs for a ``Timer``: ``_fire`` (the compiled kernel's ``TimerFire`` runs its steps)."""
        return self._fire

    def _call_handler(self) -> Handler:
        """What the table runs for a ``Call``: ``_call`` (the compiled kernel's ``CallRun`` runs its steps)."""
        return self._call


class CompiledKernel(Kernel):
    """A ``Kernel`` whose feed and schedule loops are the compiled ones; built by ``Kernel(impl="compiled"|"auto")``.

    Several subscribers of a type are one ``FanOut`` in the table (called by the compiled loops without a frame of
    its own, by the Python methods through its ``__call__``) instead of a generated function."""

    impl: ClassVar[Literal["compiled", "python"]] = "compiled"
    __slots__ = ("_handlers",)

    def __init__(self, clock: Clock | None = None, impl: Impl = "auto") -> None:
        super().__init__(clock, impl)
        self._handlers: Any = Handlers(self)
        """The table's entries the compiled loops have used, found by the type's identity (``Handlers``)."""

    def _forget(self, kinds: list[type[Any]] | None) -> None:
        """The table's entries go, and first every entry the compiled loops remember: ``_forget`` is the only place
        the table loses or changes an entry (``_resolve`` adds one for a type it does not hold)."""
        self._handlers.clear()
        super()._forget(kinds)

    if COMPILED_AVAILABLE:
        _feed: Any = feed
        _drain: Any = drain
        # ``emit`` and ``call_at``: the same steps as the reference's, without their Python frames (issue 19)
        emit: Any = compiled_emit
        call_at: Any = compiled_call_at
        now: Any = property(compiled_now)  # ``Kernel.now`` without its Python frame (issue 19, round 11)

    @staticmethod
    def _combine(handlers: tuple[Handler, ...]) -> Handler:
        # none is an empty ``FanOut`` too, which the loops pass over without a call (``combine``'s no-op is a Python
        # frame: a strategy's ``Signal`` that nothing in a backtest subscribes to paid one on every order, round 11)
        return handlers[0] if len(handlers) == 1 else FanOut(handlers)

    @staticmethod
    def _keeper(field: str, last: dict[Any, Any]) -> Handler:
        return LastBy(field, last)

    def _timer_handler(self) -> Handler:
        """``TimerFire``: a timer fired without ``_fire``'s Python frame (the same steps, its ``TimerFired``
        dispatched by the compiled loops); a class that overrides ``_fire`` keeps its own."""
        if type(self)._fire is not Kernel._fire:
            return self._fire
        return TimerFire(self)

    def _call_handler(self) -> Handler:
        """``CallRun``: a ``Call`` run without ``_call``'s Python frame (the same steps); a class that overrides
        ``_call`` keeps its own."""
        if type(self)._call is not Kernel._call:
            return self._call
        return CallRun(self)

    @staticmethod
    def _gate(handler: Handler, when: Sized) -> Handler:
        return Gated(handler, when)
