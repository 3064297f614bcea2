from __future__ import annotations

from tapeflow.engine.dispatch import Handler, handler_for
from tapeflow.model import Event, Quote, Trade

from .helpers import trade


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
