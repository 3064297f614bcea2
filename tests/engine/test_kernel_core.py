"""The compiled kernel loops (``_kernel_core.pyx``) against the pure-Python reference (``Kernel(impl="python")``).

Both kernels run the same random program: feed events of a type and of its subclass, with ties, fed in one ``run``,
one ``run`` per event, as sorted batches or dealt to several sources and merged (each kernel with its own merge);
handlers that emit events, schedule calls, set and cancel timers, subscribe (to a class or its subclass),
unsubscribe and resume handlers mid-run, open and close a ``subscribe_while`` gate, schedule into the past or
raise; an event out of order. They must dispatch the same sequence at the same clock, count the same, and fail with
the same error at the same point.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.engine import Kernel, merge_batches
from tapeflow.engine.kernel import COMPILED_AVAILABLE, CompiledKernel
from tapeflow.model import ConfigError, Event, Signal, TimerFired, Trade
from tapeflow.model.errors import OutOfOrderError
from tests.frames import python_frames

from .helpers import trade

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="the compiled kernel loops were not built")

Action = tuple[str, int, int]
"""(what, delay ns, interval ns): what a handler does on one feed event."""

ACTIONS = st.tuples(
    st.sampled_from(
        [
            "emit",
            "call",
            "timer",
            "tick",
            "cancel",
            "selfcancel",
            "chain",
            "subscribe",
            "unsubscribe",
            "resume",
            "gate",
            "past",
            "raise",
            "nothing",
        ]
    ),
    st.integers(0, 4),
    st.integers(0, 3),
)


class LateTrade(Trade, frozen=True, kw_only=True):
    """A subclass of a feed type: its events reach the subscribers of ``Trade`` and of ``LateTrade``, in their order
    of subscription, through a table entry of its own (the compiled loops remember each type's apart)."""


class HandlerFailedError(Exception):
    """A handler's own error: it must reach the caller of ``run`` unchanged."""


def _feed_event(ts: int, tag: str, *, late: bool) -> Trade:
    if not late:
        return trade(ts, tag)
    return LateTrade(ts_event=ts, ts_init=ts, symbol="AAPL", price=1_000_000, size=100, trade_id=tag)


def _signal(ts: int, name: str) -> Signal:
    return Signal(ts_event=ts, ts_init=ts, strategy_id="s", symbol="AAPL", name=name, value=1.0, reason="test")


def _program(
    impl: str, plan: dict[str, list[Action]], mode: str, tape: list[Trade], cuts: list[int], base: int = 0
) -> Any:
    """Run the program on a kernel of ``impl``, its clock starting at ``base``; everything observable about the run,
    the error and the schedule's heap (its entries' times and sequence numbers, in the list's order) included."""
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    seen: list[str] = []
    timers: list[Any] = []
    listening: list[tuple[type[Event], Callable[[Event], None]]] = []
    stopped: list[tuple[type[Event], Callable[[Event], None]]] = []
    gate: list[str] = []  # a ``subscribe_while`` handler's container, filled and emptied by the program

    def log(tag: str) -> Callable[[Event], None]:
        def on_event(e: Event) -> None:
            label = e.trade_id if isinstance(e, Trade) else e.name if isinstance(e, Signal | TimerFired) else "?"
            seen.append(f"{tag}:{type(e).__name__}:{label}@{e.ts_init}/{kernel.now}")

        return on_event

    by_id: dict[int, Any] = {}

    def set_timer(name: str, at: int, interval: int | None, callback: Callable[[TimerFired], None]) -> None:
        timer = kernel.set_timer(name, at=at, interval=interval, callback=callback)
        by_id[timer.id] = timer
        timers.append(timer)

    def react(e: Trade) -> None:
        now = kernel.now
        for what, delay, interval in plan.get(e.trade_id, []):
            if what == "emit":
                kernel.emit(_signal(now + delay, f"s{e.trade_id}"))
            elif what == "call":
                kernel.call_at(now + delay, lambda tag: seen.append(f"call:{tag}@{kernel.now}"), e.trade_id)
            elif what == "timer":
                cb = lambda f: seen.append(f"cb:{f.name}@{f.ts_init}")  # noqa: E731
                timers.append(
                    kernel.set_timer(f"t{e.trade_id}", at=now + delay, interval=interval or None, callback=cb)
                )
            elif what == "tick":
                ticked = lambda t, tag=e.trade_id: seen.append(f"tick:{tag}@{t}")  # noqa: E731
                timers.append(
                    kernel.set_timer(f"k{e.trade_id}", at=now + delay, interval=interval or None, tick=ticked)
                )
            elif what == "cancel" and timers:
                timers[-1].cancel()
            elif what == "selfcancel":  # a repeating timer cancelled in its own callback, at its (delay+1)-th firing

                def stop(f: TimerFired, n: int = delay + 1) -> None:
                    seen.append(f"stop:{f.name}@{f.ts_init}")
                    if by_id[f.timer_id].fired >= n:
                        by_id[f.timer_id].cancel()

                set_timer(f"c{e.trade_id}", now + delay, interval or 1, stop)
            elif what == "chain":  # its callback emits at its own time and sets a one-shot timer due then too

                def chain(f: TimerFired) -> None:
                    kernel.emit(_signal(f.ts_init, f"chained{f.name}"))
                    set_timer(f"{f.name}'", f.ts_init, None, lambda g: seen.append(f"cb:{g.name}@{g.ts_init}"))

                set_timer(f"h{e.trade_id}", now + delay, interval or None, chain)
            elif what == "subscribe":
                listening.append(([Trade, Signal, Event, LateTrade][delay % 4], log(f"new{e.trade_id}")))
                kernel.subscribe(*listening[-1])
            elif what == "unsubscribe" and listening:
                stopped.append(listening.pop(delay % len(listening)))
                kernel.unsubscribe(*stopped[-1])
            elif what == "resume" and stopped:
                listening.append(stopped.pop())
                kernel.subscribe(*listening[-1])
            elif what == "gate":
                if gate:
                    gate.clear()
                else:
                    gate.append(e.trade_id)
            elif what == "past" and now > 0:
                kernel.emit(_signal(now - 1, "past"))
            elif what == "raise":
                raise HandlerFailedError(f"handler failed at {e.trade_id}")

    kernel.subscribe(Event, log("all"))
    last: dict[str, Trade] = {}
    kernel.keep_last(Trade, "trade_id", last)
    kernel.subscribe_while(Event, log("gated"), timers)  # heard once a handler has set a timer
    kernel.subscribe(Trade, react)
    kernel.subscribe(LateTrade, log("late"))
    kernel.subscribe_while(Trade, log("while"), gate)
    kernel.subscribe(Signal, log("sig"))
    kernel.start(at=base)
    error = None
    try:
        if mode == "run":
            kernel.run(tape)
        elif mode == "single":
            for e in tape:
                kernel.run((e,))
        elif mode == "merged":  # the tape dealt to up to 5 sources (one empty, some ending first), merged
            count = 1 + len(cuts)
            sources = [iter(tape[i::count]) for i in range(count)] + ([iter([])] if len(cuts) % 2 else [])
            kernel.run_sorted(merge_batches(sources, chunk=1 + sum(cuts) % 3, impl=impl))  # type: ignore[arg-type]
        else:
            bounds = sorted({0, len(tape), *(c % (len(tape) + 1) for c in cuts)})
            kernel.run_sorted([tape[a:b] for a, b in pairwise(bounds)])
        kernel.finish(until=kernel.now + 5)
    except Exception as exc:  # compared, not swallowed: both kernels must fail alike
        error = (type(exc).__name__, str(exc))
    heap = [(ts, seq) for ts, seq, _ in kernel._heap]
    return seen, error, kernel.now, kernel.feed_events, kernel.scheduled_events, heap, kernel.next_due(), last


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 3), min_size=1, max_size=25),
    plan=st.dictionaries(st.integers(0, 24).map(str), st.lists(ACTIONS, max_size=3), max_size=12),
    mode=st.sampled_from(["run", "single", "sorted", "merged"]),
    cuts=st.lists(st.integers(0, 30), max_size=4),
    back=st.none() | st.integers(0, 24),
    base=st.sampled_from([0, 1_700_000_000_000_000_000, 2**63 - 10, 2**64 + 3]),
    subclassed=st.sets(st.integers(0, 24)),
)
def test_compiled_loops_dispatch_count_and_fail_as_the_python_reference(
    gaps: list[int],
    plan: dict[str, list[Action]],
    mode: str,
    cuts: list[int],
    back: int | None,
    base: int,
    subclassed: set[int],
) -> None:
    """``base``: times of today (three digits of an int), across 2**63 and beyond 64 bits, where the compiled
    schedule's C comparisons give way to the objects'. ``subclassed``: the feed events that are ``LateTrade``s."""
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    if back is not None and back < len(times) and times[back] > 0:
        times[back] = times[back - 1] - 1 if back > 0 and times[back - 1] > 0 else -1  # one event out of order
    tape = [_feed_event(base + t, str(i), late=i in subclassed) for i, t in enumerate(times)]
    python = _program("python", plan, mode, tape, cuts, base)
    compiled = _program("compiled", plan, mode, tape, cuts, base)
    assert compiled == python


def test_kernel_impl_choice_is_visible_and_explicit_choices_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(Kernel(impl="python")) is Kernel and Kernel(impl="python").impl == "python"
    assert type(Kernel(impl="compiled")) is CompiledKernel and Kernel(impl="compiled").impl == "compiled"
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "1")
    assert Kernel().impl == "python"
    assert Kernel(impl="compiled").impl == "compiled"
    monkeypatch.delenv("TAPEFLOW_PURE_PYTHON")
    assert Kernel().impl == "compiled"
    with pytest.raises(ConfigError, match="impl"):
        Kernel(impl="fast")  # type: ignore[arg-type]


def test_compiled_fan_out_calls_every_subscriber_in_order_and_a_handler_error_stops_the_rest() -> None:
    kernel = Kernel(impl="compiled")
    seen: list[str] = []

    def failing(e: Trade) -> None:
        raise HandlerFailedError(e.trade_id)

    kernel.subscribe(Trade, lambda e: seen.append(f"a{e.trade_id}"))
    kernel.subscribe(Event, lambda e: seen.append(f"b{e.ts_init}"))
    kernel.subscribe(Trade, failing)
    kernel.subscribe(Trade, lambda e: seen.append("never"))
    with pytest.raises(HandlerFailedError, match="x"):
        kernel.run_sorted([[trade(1, "x"), trade(2, "y")]])
    assert seen == ["ax", "b1"]
    assert kernel.now == 1


def _tick_timers(impl: str, plan: list[tuple[int, int, int, bool]]) -> Any:
    """Callback-only timers set at (at, interval, cancel after n ticks, raise on the first); a feed of trades
    between them. Everything observable: the ticks, each timer's state, the counters, and the error."""
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    seen: list[str] = []
    timers: list[Any] = []
    kernel.subscribe(Trade, lambda e: seen.append(f"trade@{e.ts_init}/{kernel.now}"))
    kernel.start(at=0)
    for i, (at, interval, cancel_after, fail) in enumerate(plan):

        def tick(now: int, i: int = i, cancel_after: int = cancel_after, fail: bool = fail) -> None:
            seen.append(f"tick{i}@{now}/{kernel.now}/{kernel.scheduled_events}")
            if fail and timers[i].fired == 1:
                raise HandlerFailedError(f"tick {i}")
            if cancel_after and timers[i].fired >= cancel_after:
                timers[i].cancel()

        timers.append(kernel.set_timer(f"k{i}", at=at, interval=interval or None, tick=tick))
    error = None
    try:
        kernel.run_sorted([[trade(t, str(t)) for t in range(0, 40, 3)]])
        kernel.finish(until=45)
    except HandlerFailedError as exc:
        error = str(exc)
    states = [(t.fired, t.when, t.active, t.cancelled) for t in timers]
    return seen, states, error, kernel.now, kernel.scheduled_events, kernel._not_events, kernel.next_due()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 7), st.integers(0, 4), st.just(False)),
        min_size=1,
        max_size=6,
    ),
    st.integers(-1, 5),
)
def test_compiled_timer_firing_ticks_counts_and_reschedules_as_the_python_reference(
    plan: list[tuple[int, int, int, bool]], failing: int
) -> None:
    """The compiled kernel fires callback-only timers itself (``TimerFire``): the same ticks at the same clock, the
    same timer states (fired, next due, cancelled), counters and errors as ``Kernel._fire``."""
    if 0 <= failing < len(plan):
        at, interval, cancel_after, _ = plan[failing]
        plan[failing] = (at, interval, cancel_after, True)
    python = _tick_timers("python", plan)
    compiled = _tick_timers("compiled", plan)
    assert compiled == python
    assert any(s.startswith("tick") for s in python[0])


def test_a_compiled_kernel_class_that_overrides_fire_keeps_its_own() -> None:
    fired: list[int] = []

    class Own(CompiledKernel):
        def _fire(self, timer: Any) -> None:
            fired.append(self.now)

    kernel = Own()
    assert type(kernel._timer_handler()).__name__ == "method"
    assert type(Kernel(impl="compiled")._timer_handler()).__name__ == "TimerFire"
    kernel.set_timer("x", at=5, tick=lambda now: None)
    kernel.advance(10)
    assert fired == [5]


def test_compiled_kernel_schedules_and_runs_calls_with_its_own_steps_unless_a_subclass_runs_calls_itself() -> None:
    """``emit``, ``call_at`` and the ``Call`` handler are the compiled ones (the random programs above hold them to
    the reference's order, counts and errors); a kernel class with its own ``_call`` keeps it."""
    from tapeflow.engine import _kernel_core
    from tapeflow.engine.timers import Call

    kernel = Kernel(impl="compiled")
    assert type(kernel).emit is _kernel_core.emit and type(kernel).call_at is _kernel_core.call_at
    assert type(kernel._resolve(Call)) is _kernel_core.CallRun
    ran: list[object] = []

    class Counting(CompiledKernel):
        __slots__ = ()

        def _call(self, call: Call) -> None:
            ran.append(call.arg)
            super()._call(call)

    own = Counting()
    assert own._resolve(Call) == own._call
    got: list[object] = []
    own.start(at=0)
    own.call_at(3, got.append, "x")
    own.finish(until=5)
    assert ran == ["x"] and got == ["x"] and own.scheduled_events == 0
    with pytest.raises(OutOfOrderError, match="call_at"):
        own.call_at(1, got.append, "late")


def test_compiled_kernel_fires_a_timer_with_an_event_without_the_python_fire(monkeypatch: pytest.MonkeyPatch) -> None:
    """``TimerFire`` runs a ``TimerFired`` timer's whole firing itself (the random programs above hold it to the
    reference's order and counts): ``Kernel._fire`` is not called, for such a timer or for a cancelled one."""
    reference = Kernel._fire
    called: list[str] = []

    def spy(self: Kernel, timer: Any) -> None:
        called.append(timer.name)
        reference(self, timer)

    monkeypatch.setattr(Kernel, "_fire", spy)
    kernel = Kernel(impl="compiled")
    seen: list[tuple[str, int, int, int]] = []
    kernel.subscribe(TimerFired, lambda e: seen.append((e.name, e.timer_id, e.ts_event, e.ts_init)))
    kernel.start(at=0)
    every = kernel.set_timer("every", interval=3, callback=lambda e: seen.append(("cb", e.timer_id, 0, 0)))
    kernel.set_timer("dropped", at=4).cancel()
    kernel.advance(7)
    firing = [("every", every.id, 3, 3), ("cb", every.id, 0, 0)]
    assert seen == [*firing, ("every", every.id, 6, 6), ("cb", every.id, 0, 0)]
    assert called == []
    assert (every.fired, every.when, kernel.scheduled_events, kernel.next_due()) == (2, 9, 2, 9)


def test_compiled_schedule_keeps_no_reference_to_what_it_ran() -> None:
    """The compiled heap takes its last entry out of the list by hand: an event emitted and dispatched is held by
    nothing of the kernel's afterwards (a reference lost or kept here would show as a changed count)."""
    import sys

    kernel = Kernel(impl="compiled")
    kernel.subscribe(Signal, lambda e: None)
    kernel.start(at=0)
    signals = [_signal(t, str(t)) for t in (1, 1, 2)]
    before = [sys.getrefcount(s) for s in signals]
    list(map(kernel.emit, signals))  # no loop variable left holding the last one
    kernel.run_sorted([[trade(2, "a")], [trade(3, "b")]])  # the feed's drains pop every entry; the next event ends
    assert kernel._heap == [] and kernel.scheduled_events == 3
    assert [sys.getrefcount(s) for s in signals] == before


@pytest.mark.parametrize("base", [0, 1_700_000_000_000_000_000, 2**63 - 3, 2**64, 2**90])
def test_compiled_schedule_orders_times_of_any_size_as_the_python_heap(base: int) -> None:
    """Scheduled times compared as C integers, from their digits, or (beyond 64 bits) as objects: every event
    emitted out of order comes out in time order, ties in the order emitted, on both kernels."""
    order = [5, 3, 3, 0, 4, 1, 2, 6, 1]
    runs = []
    for impl in ("python", "compiled"):
        kernel = Kernel(impl=impl)  # type: ignore[arg-type]
        seen: list[str] = []
        kernel.subscribe(Signal, lambda e, seen=seen: seen.append(f"{e.ts_init - base}:{e.name}"))
        kernel.start(at=base)
        for i, t in enumerate(order):
            kernel.emit(_signal(base + t, str(i)))
        kernel.run_sorted([[trade(base + 3, "a")], [trade(base + 7, "b")]])
        runs.append(seen)
    expected = [f"{t}:{i}" for t, i in sorted((t, i) for i, t in enumerate(order))]
    assert runs == [expected, expected]


def test_compiled_dispatch_remembers_each_type_and_forgets_when_a_handler_changes_the_subscriptions() -> None:
    """The compiled loops find a type's table entry among the types they have used (``Handlers``), by identity; a
    subscription or unsubscription inside a handler empties that memo, so the next event of a type already seen
    reaches the table's subscribers as they are then, as on the Python kernel (the random programs above hold the
    rest of the dispatch to the reference)."""
    runs = []
    for impl, mode in [("python", "run"), ("compiled", "run"), ("compiled", "sorted")]:
        kernel = Kernel(impl=impl)  # type: ignore[arg-type]
        seen: list[str] = []

        def late(e: Trade, seen: list[str] = seen) -> None:
            seen.append(f"late:{e.trade_id}")

        def on_trade(e: Trade, kernel: Kernel = kernel, seen: list[str] = seen, late: Any = late) -> None:
            seen.append(f"trade:{e.trade_id}")
            if e.trade_id == "b":
                kernel.subscribe(Event, late)
            elif e.trade_id == "d":
                kernel.unsubscribe(Event, late)

        kernel.subscribe(Trade, on_trade)
        tape = [trade(t, tag) for t, tag in enumerate("abcde")]
        kernel.run(tape) if mode == "run" else kernel.run_sorted([tape[:2], tape[2:]])
        runs.append(seen)
        if impl == "compiled":
            assert len(kernel._handlers) == 1  # Trade's entry, remembered again after each change
    expected = ["trade:a", "trade:b", "trade:c", "late:c", "trade:d", "late:d", "trade:e"]
    assert runs == [expected, expected, expected]


def test_compiled_dispatch_remembers_a_bounded_number_of_types_and_dispatches_the_others_from_the_table() -> None:
    import msgspec

    kinds = [msgspec.defstruct(f"Kind{i}", [], bases=(Signal,), frozen=True, kw_only=True) for i in range(20)]
    runs = []
    for impl in ("python", "compiled"):
        kernel = Kernel(impl=impl)  # type: ignore[arg-type]
        seen: list[str] = []
        kernel.subscribe(Signal, lambda e, seen=seen: seen.append(f"{type(e).__name__}@{e.ts_init}"))
        events = [
            kind(ts_event=t, ts_init=t, strategy_id="s", symbol="X", name="n", value=1.0, reason="r")
            for t, kind in enumerate(kinds * 2)
        ]
        kernel.run(events)
        runs.append(seen)
        if impl == "compiled":
            assert len(kernel._handlers) == 16
    assert runs[0] == runs[1] and len(runs[0]) == 40


def test_compiled_dispatch_calls_functions_methods_builtins_and_callable_objects_and_passes_their_errors() -> None:
    """The compiled loops call a handler through its own vectorcall when it has one (a function, a bound method, a
    builtin's), and any other callable (an object with ``__call__``) as Python would; an error reaches the caller."""

    class Recorder:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def __call__(self, e: Trade) -> None:
            self.seen.append(f"object:{e.trade_id}")

        def method(self, e: Signal) -> None:
            self.seen.append(f"method:{e.name}")

    for impl in ("python", "compiled"):
        kernel = Kernel(impl=impl)  # type: ignore[arg-type]
        recorder = Recorder()
        raw: list[Event] = []
        kernel.subscribe(Trade, recorder)
        kernel.subscribe(Signal, recorder.method)
        kernel.subscribe(TimerFired, raw.append)
        kernel.start(at=0)
        kernel.set_timer("t", at=2)
        kernel.emit(_signal(1, "s"))
        kernel.run([trade(1, "a"), trade(3, "b")])
        assert recorder.seen == ["method:s", "object:a", "object:b"]
        assert [(type(e).__name__, e.ts_init) for e in raw] == [("TimerFired", 2)]

        def fail(e: Trade) -> None:
            raise HandlerFailedError(e.trade_id)

        kernel.subscribe(Trade, fail)
        with pytest.raises(HandlerFailedError, match="c"):
            kernel.run([trade(4, "c")])
        assert recorder.seen[-1] == "object:c"


def test_compiled_kernel_reads_now_schedules_calls_and_passes_unheard_events_without_a_python_frame() -> None:
    """Round 11 (issue 19): the compiled kernel's ``now``, the ``Call`` its ``call_at`` schedules and the table entry
    of a type nobody subscribes to (a strategy's ``Signal`` in a backtest without an audit trail) run no Python
    frame; what they give is the Python reference's (the random programs above hold dispatch and counts to it)."""
    seen: dict[str, list[object]] = {}
    frames: dict[str, list[str]] = {}
    for impl in ("compiled", "python"):
        kernel = Kernel(impl=impl)  # type: ignore[arg-type]
        got: list[object] = seen.setdefault(impl, [])
        kernel.start(at=0)
        kernel.run([trade(5, "a")])

        def work(kernel: Kernel = kernel, got: list[object] = got) -> None:
            got.append(kernel.now)
            kernel.call_at(7, got.append, "called")
            kernel.emit(_signal(6, "nobody listens"))
            kernel.advance(9)
            got.append(kernel.now)

        frames[impl] = python_frames(work)
        assert kernel.scheduled_events == 1
    assert seen["compiled"] == seen["python"] == [5, "called", 9]
    assert {"now", "__init__", "_noop"} <= set(frames["python"])  # the reference's frames, which the core avoids
    assert not {"now", "__init__", "_noop"} & set(frames["compiled"]), frames["compiled"]
