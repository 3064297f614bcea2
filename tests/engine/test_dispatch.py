from __future__ import annotations

from tapeflow.engine.dispatch import Handler, Subscriptions, combine
from tapeflow.model import Event, Quote, Trade

from .helpers import trade


def handler_for(kind: type[Event], subscriptions: list[tuple[type[Event], Handler]]) -> Handler:
    """What the kernel's table holds for ``kind``: its subscribers, in their places' order, as one callable."""
    places = Subscriptions()
    for cls, handler in subscriptions:
        places.add(cls, handler)
    return combine(places.handlers(kind))


def test_a_type_with_one_subscriber_gets_that_handler_itself_and_one_with_none_a_no_op() -> None:
    seen: list[Event] = []
    subscriptions: list[tuple[type[Event], Handler]] = [(Trade, seen.append)]
    assert handler_for(Trade, subscriptions) == seen.append  # no wrapper: the step pays one call
    handler_for(Quote, subscriptions)(trade(1))
    assert seen == []


def test_several_subscribers_of_a_type_and_its_bases_are_called_in_subscription_order() -> None:
    order: list[str] = []
    subscriptions: list[tuple[type[Event], Handler]] = [
        (Trade, lambda e: order.append("trade")),
        (Event, lambda e: order.append("all")),
        (Quote, lambda e: order.append("quote")),
        (Trade, lambda e: order.append("trade again")),
    ]
    handler_for(Trade, subscriptions)(trade(1))
    assert order == ["trade", "all", "trade again"]


def test_every_number_of_subscribers_from_two_to_nine_calls_each_once_in_order() -> None:
    for n in range(2, 10):
        calls: list[int] = []
        subscriptions: list[tuple[type[Event], Handler]] = [(Trade, _appender(calls, i)) for i in range(n)]
        handler_for(Trade, subscriptions)(trade(1))
        assert calls == list(range(n))


def _appender(calls: list[int], i: int) -> Handler:
    def handler(event: Event) -> None:
        calls.append(i)

    return handler


def test_a_handler_that_raises_stops_the_later_ones_as_the_loop_did() -> None:
    calls: list[str] = []

    def boom(event: Event) -> None:
        raise RuntimeError("boom")

    subscriptions: list[tuple[type[Event], Handler]] = [
        (Trade, lambda e: calls.append("first")),
        (Trade, boom),
        (Trade, lambda e: calls.append("never")),
    ]
    try:
        handler_for(Trade, subscriptions)(trade(1))
    except RuntimeError:
        pass
    else:
        raise AssertionError("the handler's error was swallowed")
    assert calls == ["first"]
