"""What the feed lets through, without a socket: duplicates dropped, late quotes dropped and late trades kept (both
counted), the backfill's overlap with what was seen live skipped exactly, and trades signed against the quote."""

from __future__ import annotations

import collections

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.live import market_guard
from tapeflow.live.aggressor import AggressorSigner
from tapeflow.live.market_guard import FeedGuard
from tapeflow.model.enums import Aggressor
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Quote, Trade


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


LOOKBACK = 5
"""The guard's lookback in the property below, in the same units as the tape's times and arrivals."""


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3), st.sampled_from(["id", "print", "quote"]), st.integers(100, 101), st.integers(0, 5)
        ),
        max_size=40,
    ),
    st.data(),
)
def test_a_drop_while_items_are_held_back_delivers_every_trade_exactly_once_after_the_backfill(
    rows: list[tuple[int, str, int, int]], data: st.DataObject
) -> None:
    """The stream sends each item up to ``LOOKBACK`` after its time (the delay drawn), the socket drops at ``T``
    (what was not yet sent is lost with it), the new socket subscribes at ``R``: REST then gives every item from
    the guard's starts that exists at ``R``, and the new socket sends what is sent after ``R``, the held items
    published before it included (both carry those). Every trade, the held ones and the genuine identical id-less
    prints included, is delivered exactly once, none taken for a duplicate; no quote twice."""
    ts, tape, sent = 0, [], []
    for i, (step, kind, price, delay) in enumerate(rows):
        ts += step
        if kind == "quote":
            item: Event = quote(ts, 100 + i, 200 + i)  # each unique: the tape's own repeats are the test above
        else:
            item = trade(ts, price, str(i + 1) if kind == "id" else "")
        tape.append(item)
        sent.append(ts + delay)
    order = sorted(range(len(tape)), key=lambda i: (sent[i], i))
    drop = data.draw(st.integers(0, max(sent, default=0) + 1))
    resubscribed = drop + data.draw(st.integers(0, LOOKBACK + 2))
    guard = FeedGuard("test", lookback_ns=LOOKBACK)
    got = guard.admit(msgspec.structs.replace(tape[i], ts_init=sent[i]) for i in order if sent[i] <= drop)
    slots = [("trades", "AAPL"), ("quotes", "AAPL")]
    starts = guard.begin_backfill(slots, dropped_at=drop, base=0)
    rest = [
        msgspec.structs.replace(e, ts_init=resubscribed)
        for e in tape
        if e.ts_event <= resubscribed and e.ts_event >= starts[("trades" if isinstance(e, Trade) else "quotes", "AAPL")]
    ]
    got += guard.admit_backfill(rest)
    got += guard.admit(msgspec.structs.replace(tape[i], ts_init=sent[i]) for i in order if sent[i] > resubscribed)
    trades = [e for e in got if isinstance(e, Trade)]
    assert sorted(_keys(trades)) == sorted(_keys([e for e in tape if isinstance(e, Trade)]))
    quotes = collections.Counter(_keys([e for e in got if isinstance(e, Quote)]))
    assert all(n <= _keys(tape).count(key) for key, n in quotes.items())
    assert guard.quality().duplicates == 0


def test_without_a_lookback_the_backfill_starts_at_the_newest_trade_and_misses_one_held_back() -> None:
    """What the lookback is for: trade 1 held back, trade 2 delivered, the socket drops. From the watermark (the
    lookback reaches past trade 2's arrival) REST gives trade 1; from the newest trade it cannot."""
    held, after = trade(10, 101, "1"), trade(11, 102, "2")
    for lookback, start, recovered in ((0, 11, []), (5, 0, [held])):
        guard = FeedGuard("test", lookback_ns=lookback)
        guard.admit([msgspec.structs.replace(after, ts_init=12)])
        starts = guard.begin_backfill([("trades", "AAPL")], dropped_at=13, base=0)
        assert starts == {("trades", "AAPL"): start}
        rest = [e for e in (held, after) if e.ts_event >= start]
        assert _keys(guard.admit_backfill(rest)) == _keys(recovered)
        assert guard.recovered == len(recovered) and guard.overlap == 1


def test_a_full_window_is_cut_and_said_and_the_overlap_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond ``MAX_RECENT`` items in the lookback the oldest are folded into the watermark early: the backfill
    starts later (dedupe still exact, identical id-less prints included) and ``cut`` names the slot; an overflow
    long before the drop, which the lookback has passed since, cuts nothing."""
    monkeypatch.setattr(market_guard, "MAX_RECENT", 3)
    guard = FeedGuard("test", lookback_ns=1_000)
    same = trade(5, 101)
    live = [trade(1, 100), trade(2, 100), same, same, trade(6, 102)]
    guard.admit([msgspec.structs.replace(e, ts_init=100) for e in live])
    starts = guard.begin_backfill([("trades", "AAPL")], dropped_at=101, base=0)
    assert starts == {("trades", "AAPL"): 2}  # two folded early: the watermark is the second's time
    assert guard.cut == [("trades", "AAPL")]
    rest = [trade(2, 100), same, same, same, trade(6, 102), trade(7, 103)]
    assert _keys(guard.admit_backfill(rest)) == _keys([same, trade(7, 103)])
    guard.admit([msgspec.structs.replace(trade(8, 104), ts_init=5_000)])  # 4,900 later: past the lookback
    guard.begin_backfill([("trades", "AAPL")], dropped_at=5_001, base=0)
    assert guard.cut == []


def test_a_minute_bar_revised_by_late_prints_is_not_delivered_again_by_the_backfill_or_the_stream() -> None:
    def bar(ts: int, volume: int) -> Bar:
        return Bar(ts_event=ts, ts_init=ts, symbol="AAPL", open=1, high=2, low=1, close=2, volume=volume)

    guard = FeedGuard("test", lookback_ns=5)
    assert len(guard.admit([bar(60, 100), bar(120, 300)])) == 2
    guard.begin_backfill([("bars", "AAPL")], dropped_at=121, base=0)
    assert guard.admit_backfill([bar(60, 100), bar(120, 350), bar(180, 50)]) == [bar(180, 50)]
    assert guard.admit([bar(180, 55)]) == []  # the stream repeating the minute REST gave: skipped
    assert guard.quality().duplicates == 0 and guard.overlap == 3
