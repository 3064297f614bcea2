from __future__ import annotations

import pytest

from tapeflow.engine import Kernel, SimClock
from tapeflow.model import EngineError, Event, OutOfOrderError, Signal, TimerFired, Trade

from .helpers import trade


def _log(kernel: Kernel) -> list[str]:
    seen: list[str] = []

    def on_event(e: Event) -> None:
        if isinstance(e, Trade):
            seen.append(f"T{e.trade_id}@{e.ts_init}")
        elif isinstance(e, TimerFired):
            seen.append(f"timer:{e.name}@{e.ts_init}")
        elif isinstance(e, Signal):
            seen.append(f"sig:{e.name}@{e.ts_init}")

    kernel.subscribe(Event, on_event)
    return seen


def _signal(ts: int, name: str) -> Signal:
    return Signal(ts_event=ts, ts_init=ts, strategy_id="s", symbol="AAPL", name=name, value=1.0, reason="test")


def test_sim_clock_refuses_to_go_backwards() -> None:
    clock = SimClock(10)
    clock.advance_to(10)
    with pytest.raises(OutOfOrderError, match="ts=9 is earlier than the clock at ts=10"):
        clock.advance_to(9)


def test_out_of_order_feed_event_names_both_timestamps() -> None:
    kernel = Kernel()
    with pytest.raises(OutOfOrderError, match=r"Trade at ts=4 is earlier than the clock at ts=5 \(by 1 ns\)"):
        kernel.run([trade(5), trade(4)])
    assert kernel.feed_events == 1


def test_scheduled_items_run_before_a_feed_event_at_the_same_time() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    kernel.start(at=0)
    kernel.set_timer("t", at=10)
    kernel.emit(_signal(10, "early"))
    kernel.run([trade(5, "a"), trade(10, "b"), trade(11, "c")])
    assert seen == ["Ta@5", "timer:t@10", "sig:early@10", "Tb@10", "Tc@11"]


def test_events_emitted_by_a_handler_run_before_the_next_feed_event() -> None:
    kernel = Kernel()
    seen = _log(kernel)

    def react(e: Trade) -> None:
        kernel.emit(_signal(e.ts_init, f"re-{e.trade_id}"))
        kernel.emit(_signal(e.ts_init + 3, f"late-{e.trade_id}"))

    kernel.subscribe(Trade, react)
    kernel.run([trade(1, "a"), trade(1, "b"), trade(5, "c")])
    kernel.finish()
    assert seen == [
        "Ta@1",
        "sig:re-a@1",
        "Tb@1",
        "sig:re-b@1",
        "sig:late-a@4",
        "sig:late-b@4",
        "Tc@5",
        "sig:re-c@5",
        "sig:late-c@8",  # delivered by finish(): consequences are never dropped
    ]


def test_emitting_into_the_past_is_refused() -> None:
    kernel = Kernel()

    def bad(e: Trade) -> None:
        kernel.emit(_signal(e.ts_init - 1, "past"))

    kernel.subscribe(Trade, bad)
    with pytest.raises(OutOfOrderError, match="emitted Signal at ts=4"):
        kernel.run([trade(5)])


def test_repeating_timer_fires_in_time_order_and_stops_when_cancelled() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    kernel.start(at=0)
    every = kernel.set_timer("every3", interval=3)
    kernel.set_timer("once", at=7)
    kernel.run([trade(8, "x")])
    every.cancel()
    kernel.run([trade(20, "y")])
    assert seen == ["timer:every3@3", "timer:every3@6", "timer:once@7", "Tx@8", "Ty@20"]
    assert every.fired == 2 and not every.active


def test_equal_time_timers_fire_in_the_order_they_were_set() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    kernel.start(at=0)
    for name in ("b", "a", "c"):
        kernel.set_timer(name, at=5)
    kernel.advance(5)
    assert seen == ["timer:b@5", "timer:a@5", "timer:c@5"]


def test_finish_drops_timers_after_until_but_fires_those_before() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    kernel.start(at=0)
    kernel.set_timer("tick", interval=10)
    kernel.run([trade(15)])
    kernel.finish(until=35)
    assert seen == ["timer:tick@10", "T15@15", "timer:tick@20", "timer:tick@30"]
    assert kernel.next_due() is None


def test_finish_ends_when_a_timer_due_with_a_queued_call_schedules_another_call() -> None:
    kernel = Kernel()
    calls: list[int] = []

    def later(_: object) -> None:
        calls.append(kernel.now)

    kernel.start(at=0)
    kernel.set_timer("sample", interval=10, callback=lambda e: kernel.call_at(e.ts_init + 10, later))
    kernel.run([trade(15)])
    kernel.finish()
    assert calls == [20]  # the call scheduled by the tick at 10 runs; the tick due with it at 20 is dropped
    assert kernel.next_due() is None


def test_timer_callback_runs_after_subscribers() -> None:
    kernel = Kernel()
    order: list[str] = []
    kernel.subscribe(TimerFired, lambda e: order.append("subscriber"))
    kernel.start(at=0)
    kernel.set_timer("cb", at=1, callback=lambda e: order.append(f"callback:{e.name}"))
    kernel.advance(1)
    assert order == ["subscriber", "callback:cb"]


def test_timer_arguments_are_validated() -> None:
    kernel = Kernel()
    kernel.start(at=100)
    with pytest.raises(EngineError, match="give `at`"):
        kernel.set_timer("x")
    with pytest.raises(EngineError, match="interval must be positive"):
        kernel.set_timer("x", interval=0)
    with pytest.raises(OutOfOrderError, match="timer 'x' at ts=5"):
        kernel.set_timer("x", at=5)


def test_a_callback_only_timer_ticks_in_the_order_a_callback_timer_fires_and_dispatches_no_event() -> None:
    def schedule(kernel: Kernel, seen: list[str], tick: bool) -> None:
        def note(name: str) -> None:
            seen.append(f"{name}@{kernel.now}")

        kernel.start(at=0)
        kernel.set_timer("a", interval=5)
        if tick:
            kernel.set_timer("b", interval=5, tick=lambda now: note(f"b:{now}"))
        else:
            kernel.set_timer("b", interval=5, callback=lambda e: note(f"b:{e.ts_init}"))
        kernel.set_timer("c", at=10)
        kernel.call_at(10, lambda _: note("call"))
        kernel.run([trade(12, "x")])
        kernel.finish(until=16)

    orders = []
    for tick in (False, True):
        kernel = Kernel()
        seen = _log(kernel)
        schedule(kernel, seen, tick)
        orders.append(seen)
        assert kernel.next_due() is None  # dropped at the end like any timer
    with_event, callback_only = orders
    assert [s for s in with_event if not s.startswith("timer:b")] == callback_only
    # at 10, what was set at 0 comes before the repeats set again at 5
    assert callback_only == [
        "timer:a@5", "b:5@5", "timer:c@10", "call@10", "timer:a@10", "b:10@10", "Tx@12", "timer:a@15", "b:15@15"
    ]  # fmt: skip


def test_a_callback_only_timer_counts_as_no_scheduled_event_and_refuses_a_callback_too() -> None:
    kernel = Kernel()
    kernel.start(at=0)
    ticks: list[int] = []
    kernel.set_timer("t", interval=2, tick=ticks.append)
    kernel.advance(6)
    assert ticks == [2, 4, 6] and kernel.scheduled_events == 0
    with pytest.raises(EngineError, match="not both"):
        kernel.set_timer("u", interval=2, callback=lambda e: None, tick=ticks.append)


def test_subscription_to_a_base_class_sees_subclasses_in_subscription_order() -> None:
    kernel = Kernel()
    order: list[str] = []
    kernel.subscribe(Event, lambda e: order.append("all"))
    kernel.subscribe(Trade, lambda e: order.append("trade"))
    kernel.run([trade(1)])
    kernel.subscribe(Trade, lambda e: order.append("late"))  # the dispatch table is rebuilt
    kernel.run([trade(2)])
    assert order == ["all", "trade", "all", "trade", "late"]


def test_components_start_in_order_and_stop_in_reverse() -> None:
    calls: list[str] = []

    class C:
        def __init__(self, name: str) -> None:
            self.name = name

        def attach(self, kernel: Kernel) -> None:
            calls.append(f"attach {self.name}")

        def on_start(self) -> None:
            calls.append(f"start {self.name}")

        def on_stop(self) -> None:
            calls.append(f"stop {self.name}")

    kernel = Kernel()
    kernel.add(C("a"))
    kernel.add(C("b"))
    kernel.start()
    with pytest.raises(EngineError, match="already started"):
        kernel.start()
    kernel.stop()
    kernel.stop()  # idempotent
    assert calls == ["attach a", "attach b", "start a", "start b", "stop b", "stop a"]


def test_one_run_call_and_one_call_per_event_dispatch_identically() -> None:
    def build() -> tuple[Kernel, list[str]]:
        kernel = Kernel()
        seen = _log(kernel)
        kernel.subscribe(Trade, lambda e: kernel.emit(_signal(e.ts_init + 2, e.trade_id)))
        kernel.start(at=0)
        kernel.set_timer("t", interval=3)
        return kernel, seen

    tape = [trade(t, str(i)) for i, t in enumerate([1, 1, 2, 4, 4, 9, 12, 12, 13])]
    k1, whole = build()
    k1.run(tape)
    k1.finish(until=20)
    k2, single = build()
    for e in tape:
        k2.run((e,))
    k2.finish(until=20)
    assert whole == single
    assert len(whole) > len(tape)


def test_run_sorted_refuses_a_batch_that_starts_before_the_clock_after_dispatching_the_earlier_ones() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    with pytest.raises(OutOfOrderError, match=r"Trade at ts=4 is earlier than the clock at ts=6"):
        kernel.run_sorted([[trade(5, "a"), trade(6, "b")], [], [trade(4, "c")]])
    assert seen == ["Ta@5", "Tb@6"]
    assert kernel.feed_events == 2


def test_run_checks_every_event_of_a_generator_and_counts_those_dispatched() -> None:
    kernel = Kernel()
    seen = _log(kernel)
    with pytest.raises(OutOfOrderError, match=r"Trade at ts=2 is earlier than the clock at ts=3"):
        kernel.run(trade(t, str(t)) for t in (1, 3, 2, 4))
    assert seen == ["T1@1", "T3@3"]
    assert kernel.feed_events == 2


def test_scheduled_events_count_emitted_events_and_firings_not_calls_or_cancelled_timers() -> None:
    kernel = Kernel()
    calls: list[object] = []
    kernel.start(at=0)
    kernel.emit(_signal(1, "s"))
    kernel.call_at(2, calls.append, "call")
    kernel.set_timer("fires", at=3)
    kernel.set_timer("cancelled", at=3).cancel()
    kernel.run([trade(5)])
    assert calls == ["call"]
    assert (kernel.feed_events, kernel.scheduled_events) == (1, 2)


def test_feeding_sorted_batches_and_single_events_dispatch_timers_calls_and_emits_identically() -> None:
    def build() -> tuple[Kernel, list[str]]:
        kernel = Kernel()
        seen = _log(kernel)

        def react(e: Trade) -> None:
            kernel.emit(_signal(e.ts_init + 1, e.trade_id))
            kernel.call_at(e.ts_init + 1, lambda tag: seen.append(f"call:{tag}@{kernel.now}"), e.trade_id)

        kernel.subscribe(Trade, react)
        kernel.start(at=0)
        kernel.set_timer("t", interval=2, callback=lambda e: seen.append(f"cb@{e.ts_init}"))
        kernel.set_timer("never", at=3).cancel()
        return kernel, seen

    tape = [trade(t, str(i)) for i, t in enumerate([1, 1, 2, 3, 3, 6, 7])]
    batched, whole = build()
    batched.run_sorted([tape[:3], tape[3:5], tape[5:]])
    batched.finish(until=9)
    single, one_by_one = build()
    for e in tape:
        single.run((e,))
    single.finish(until=9)
    assert whole == one_by_one
    assert {"timer:t@2", "cb@2", "sig:0@2", "call:0@2"} <= set(whole)
    assert (batched.feed_events, batched.scheduled_events) == (single.feed_events, single.scheduled_events) == (7, 11)


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_an_unsubscribed_handler_hears_nothing_until_subscribed_again_and_then_keeps_its_place(impl: str) -> None:
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    order: list[str] = []

    def first(e: Trade) -> None:
        order.append(f"first{e.trade_id}")

    def second(e: Event) -> None:
        order.append(f"second{e.ts_init}")

    def third(e: Trade) -> None:
        order.append(f"third{e.trade_id}")

    for event_type, handler in ((Trade, first), (Event, second), (Trade, third)):
        kernel.subscribe(event_type, handler)
    kernel.run([trade(1, "a")])
    kernel.unsubscribe(Event, second)
    kernel.run([trade(2, "b")])
    kernel.subscribe(Event, second)  # back between first and third, where it was
    kernel.run([trade(3, "c")])
    assert order == ["firsta", "second1", "thirda", "firstb", "thirdb", "firstc", "second3", "thirdc"]


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_unsubscribing_inside_a_handler_holds_from_the_next_event_and_an_unknown_handler_is_refused(impl: str) -> None:
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    seen: list[str] = []

    def once(e: Trade) -> None:
        seen.append(f"once{e.trade_id}")
        kernel.unsubscribe(Trade, once)

    kernel.subscribe(Trade, once)
    kernel.subscribe(Trade, lambda e: seen.append(f"all{e.trade_id}"))
    kernel.run([trade(1, "a"), trade(2, "b")])
    assert seen == ["oncea", "alla", "allb"]
    with pytest.raises(EngineError, match="not subscribed"):
        kernel.unsubscribe(Trade, once)
    with pytest.raises(EngineError, match="not subscribed"):
        kernel.unsubscribe(Signal, once)


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_keep_last_holds_the_latest_event_per_field_value_in_its_subscription_place(impl: str) -> None:
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    last: dict[str, Trade] = {}
    seen: list[int] = []
    kernel.subscribe(Trade, lambda e: seen.append(len(last)))
    kernel.keep_last(Trade, "symbol", last)
    kernel.subscribe(Trade, lambda e: seen.append(len(last)))
    kernel.run([trade(1, "a", "AAPL"), trade(2, "b", "MSFT"), trade(3, "c", "AAPL")])
    assert {s: e.trade_id for s, e in last.items()} == {"AAPL": "c", "MSFT": "b"}
    assert seen == [0, 1, 1, 2, 2, 2]  # before the keeper: the last of the others; after it: this one too


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_a_handler_subscribed_while_a_container_is_filled_hears_only_the_events_that_find_it_filled(
    impl: str,
) -> None:
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    waiting: dict[str, int] = {}
    heard: list[str] = []
    kernel.subscribe(Trade, lambda e: waiting.update({e.trade_id: 1}) if e.trade_id == "b" else None)
    kernel.subscribe_while(Trade, lambda e: heard.append(e.trade_id), waiting)
    kernel.subscribe(Trade, lambda e: waiting.clear() if e.trade_id == "c" else None)
    kernel.run([trade(1, "a"), trade(2, "b"), trade(3, "c"), trade(4, "d")])
    assert heard == ["b", "c"]  # the gate is read when the event reaches it, after the earlier subscribers
