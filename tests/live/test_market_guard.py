"""What the feed lets through, without a socket: duplicates dropped, late quotes dropped and late trades kept (both
counted), the backfill's overlap with what was seen live skipped exactly, and trades signed against the quote."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.live.aggressor import AggressorSigner
from tapeflow.live.market_guard import FeedGuard
from tapeflow.model.enums import Aggressor
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade


def trade(ts: int, price: int, trade_id: str = "", size: int = 100, symbol: str = "AAPL") -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol=symbol, price=price, size=size, trade_id=trade_id)


def quote(ts: int, bid: int, ask: int, symbol: str = "AAPL") -> Quote:
    return Quote(ts_event=ts, ts_init=ts, symbol=symbol, bid_price=bid, bid_size=100, ask_price=ask, ask_size=100)


def test_a_trade_at_or_through_the_quote_is_signed_by_it_inside_the_spread_by_the_tick_test() -> None:
    signer = AggressorSigner()
    assert signer.side("AAPL", 100) is Aggressor.UNKNOWN  # no quote, no previous price
    assert signer.side("AAPL", 101) is Aggressor.BUY  # up-tick
    assert signer.side("AAPL", 101) is Aggressor.BUY  # zero tick: the last non-zero tick
    signer.quote(quote(1, 100, 102))
    assert signer.side("AAPL", 102) is Aggressor.BUY and signer.side("AAPL", 103) is Aggressor.BUY
    assert signer.side("AAPL", 100) is Aggressor.SELL and signer.side("AAPL", 99) is Aggressor.SELL
    assert signer.side("AAPL", 101) is Aggressor.BUY  # inside: up-tick from 99
    signer.quote(quote(2, 101, 101))  # locked: the quote cannot say
    assert signer.side("AAPL", 100) is Aggressor.SELL  # down-tick
    assert signer.side("MSFT", 50) is Aggressor.UNKNOWN  # per symbol
    assert signer.stats.by_quote == 4 and signer.stats.by_tick == 4 and signer.stats.unclassified == 2


def test_repeated_trade_ids_and_identical_quotes_are_dropped_and_counted_id_less_prints_never() -> None:
    guard = FeedGuard("test")
    q = quote(1, 100, 102)
    events: list[Event] = [q, q, trade(2, 101, "7"), trade(2, 101, "7"), trade(3, 101), trade(3, 101)]
    out = guard.admit(events)
    assert out[0] == q and len(out) == 4  # the quote once, the id'd trade once, both id-less prints
    assert guard.quality().duplicates == 2 and guard.quality().events == 4


def test_a_late_quote_is_dropped_a_late_trade_delivered_both_counted_out_of_order() -> None:
    guard = FeedGuard("test")
    out = guard.admit([quote(5, 100, 102), trade(5, 101, "1"), quote(4, 99, 101), trade(4, 100, "2")])
    assert [type(e) for e in out] == [Quote, Trade, Trade]
    assert guard.quality().out_of_order == 2 and guard.last_ts("quotes", "AAPL") == 5


def test_the_backfill_skips_what_was_seen_live_at_the_gap_start_and_live_skips_what_the_backfill_gave() -> None:
    guard = FeedGuard("test")
    same = trade(10, 101)
    guard.admit([quote(9, 100, 102), same, same])  # two identical prints at 10, seen live before the drop
    guard.begin_backfill([("trades", "AAPL"), ("quotes", "AAPL")])
    gap = [quote(9, 100, 102), same, same, same, trade(11, 102), quote(11, 101, 103)]  # REST: start inclusive
    out = guard.admit_backfill(gap)
    assert _keys(out) == _keys([same, trade(11, 102), quote(11, 101, 103)])  # the third print at 10 is new
    live = guard.admit([trade(11, 102), quote(11, 101, 103), trade(12, 103)])  # the socket repeats the cut
    assert _keys(live) == _keys([trade(12, 103)])
    assert guard.overlap == 5 and guard.quality().anomalies == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(100, 105), st.booleans()), max_size=40), st.data())
def test_any_split_of_a_tape_between_live_and_backfill_delivers_each_item_exactly_once(
    rows: list[tuple[int, int, bool]], data: st.DataObject
) -> None:
    ts = 0
    tape: list[Event] = []
    for i, (step, price, is_quote) in enumerate(rows):
        ts += step
        tape.append(quote(ts, price - 1, price + 1) if is_quote else trade(ts, price, str(i + 1)))
    cut = data.draw(st.integers(0, len(tape)))
    resent = data.draw(st.integers(0, len(tape) - cut))
    guard = FeedGuard("test")
    got = guard.admit(tape[:cut])
    gap_start = tape[cut - 1].ts_event if cut else 0
    guard.begin_backfill([("trades", "AAPL"), ("quotes", "AAPL")])
    got += guard.admit_backfill([e for e in tape if e.ts_event >= gap_start])
    got += guard.admit(tape[len(tape) - resent :])  # the live socket repeats the end of what REST gave
    want: list[Event] = []
    last_quote: Quote | None = None
    for e in tape:
        if isinstance(e, Quote):
            if e == last_quote:
                continue  # the same quote again in the same nanosecond: nothing new, dropped
            last_quote = e
        want.append(e)
    assert sorted(_keys(got)) == sorted(_keys(want))
    assert guard.quality().out_of_order == 0


def _keys(events: list[Event]) -> list[tuple[object, ...]]:
    """Events as the wire carries them (the aggressor is the guard's inference)."""
    return [
        (e.ts_event, e.price, e.trade_id, 0) if isinstance(e, Trade) else (e.ts_event, e.bid_price, "q", e.ask_price)
        for e in events
        if isinstance(e, Trade | Quote)
    ]


def test_a_repeated_quote_seen_live_at_the_gap_start_is_not_backfilled_again() -> None:
    """Found by the property test: quotes A, A, B in one nanosecond, all live; REST gives A, A, B again."""
    guard = FeedGuard("test")
    a, b = quote(0, 99, 101), quote(0, 100, 102)
    assert _keys(guard.admit([a, a, b])) == _keys([a, b])
    guard.begin_backfill([("quotes", "AAPL")])
    assert guard.admit_backfill([a, a, b]) == []
