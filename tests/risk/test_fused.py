"""The fast check (``risk.fast``, composed of every rule's ``fast_check``) against the rule-by-rule pipeline: same
decisions, same rejections, same state.

The fast path only ever decides "passes"; a refusal always comes from the ordered rules. What must hold is that it
never passes an order one of the rules would refuse, and that a pass leaves the same state (token buckets,
duplicate window, open-order ledger, trip windows) as the rules would; the throttles' buckets (compiled on the
fused side where built, the Python reference on the other), the duplicate table and the ledger are compared
directly. Hypothesis draws limits and a stream of commands (submits in two symbols and two strategies, cancels,
modifies, halts, stale and crossed books, limit changes, moves of the account) and runs it through two engines, one
with the fast path and one without, comparing everything they emit; now and then 20 hours pass, so the streams
cross days. Each throttle's rate and burst is drawn on its own, so a throttle that is not the binding one is still
exercised.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model import MarketStatus, OrderType, RiskRejected, Side, TradingStatus
from tapeflow.model.risk_events import KillSwitchChanged, RiskLimitsChanged, UpdateRiskLimit
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig, SymbolLimits
from tapeflow.risk.flow_rules import DuplicateOrder, OrderRate
from tests.risk.helpers import ASK, BID, MS, FakeBook, FakeBooks, FakePortfolio, Rig, ledger_state, throttles_only

SYMBOLS = ("AAPL", "MSFT")

submit = st.tuples(
    st.just("submit"),
    st.one_of(st.integers(1, 300), st.sampled_from([100, 200, 500]), st.integers(1, 3_000)),  # quantity
    st.one_of(st.integers(-50, 50), st.integers(-600, 600)),  # price offset from the bid, in cents
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET]),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["s", "t"]),
    # ms since the last one; 20 h now and then reaches another day (the session and the day's loss baseline)
    st.one_of(st.just(0), st.integers(0, 120), st.sampled_from([1_000, 10_000, 30_000, 72_000_000])),
)
other = st.one_of(
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 1_500), st.integers(-300, 300)),
    st.tuples(st.just("status"), st.sampled_from(SYMBOLS), st.sampled_from(list(MarketStatus))),
    st.tuples(st.just("book"), st.sampled_from(SYMBOLS), st.sampled_from(["ok", "ok", "stale", "crossed", "both"])),
    st.tuples(
        st.just("limit"),
        st.sampled_from(
            [
                ("max_order_quantity", "limit"),
                ("max_position", "limit"),
                ("max_gross_exposure", "limit"),
                ("price_collar", "limit"),
                ("strategy_order_rate", "burst"),
                ("symbol_order_rate", "limit"),
                ("message_rate", "burst"),
                ("message_rate", "limit"),
                ("max_open_orders", "limit"),
            ]
        ),
        st.sampled_from(["", "AAPL"]),
        st.integers(1, 2_000_000),
    ),
    st.tuples(st.just("account"), st.sampled_from(SYMBOLS), st.integers(-3_000, 3_000), st.integers(-50_000, 50_000)),
)


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], times: int) -> st.SearchStrategy[Any]:
    """``common`` ``times`` times as often as ``rare``. Not ``st.one_of(common, common, ..., rare)``: Hypothesis
    flattens nested ``one_of`` and merges equal branches, which left submits at 1 command in 7."""
    return st.integers(0, times).flatmap(lambda i: rare if i == 0 else common)


commands = st.lists(mostly(submit, other, 4), min_size=5, max_size=80)
usd = st.one_of(st.none(), st.integers(1_000, 2_000_000), st.integers(100_000, 5_000_000))


def run_both(
    config: RiskConfig, commands: list[tuple[Any, ...]], books: dict[str, tuple[int, int]], portfolio: FakePortfolio
) -> None:
    """Run ``commands`` through an engine with the fused check and one without; assert they did the same. The one
    without keeps the Python reference of the open-order ledger, the fused one the compiled ledger where built."""
    rigs = [
        Rig(
            config,
            books=FakeBooks(**{symbol: FakeBook(*prices) for symbol, prices in books.items()}),
            portfolio=copy.deepcopy(portfolio),
            fused=fused,
            impl="auto" if fused else "python",
        )
        for fused in (True, False)
    ]
    t = rigs[0].kernel.now
    sent: list[str] = []
    for command in commands:
        kind = command[0]
        for rig in rigs:
            if kind == "submit":
                _, qty, offset, side, order_type, symbol, strategy, gap = command
                if rig is rigs[0]:
                    t += gap * MS
                price = 0 if order_type is OrderType.MARKET else max(BID + offset * 100, 100)
                cmd = rig.submit(qty, price, side, at=t, symbol=symbol, order_type=order_type, strategy=strategy)
                if rig is rigs[0]:
                    sent.append(cmd.client_order_id)
            elif kind == "cancel" and sent:
                rig.cancel(sent[command[1] % len(sent)], at=t)
            elif kind == "modify" and sent:
                rig.modify(sent[command[1] % len(sent)], command[2], BID + command[3] * 100, at=t)
            elif kind == "book":
                book = rig.books.books.get(command[1])
                if book is not None:  # a symbol without a book (bars) has no flags to set
                    book.stale = command[2] in ("stale", "both")
                    book.crossed = command[2] in ("crossed", "both")
            elif kind == "mark":
                rig.portfolio.mark = Fraction(command[1], 2)
                rig.ctx.revalue()
            elif kind == "status":
                rig.kernel.run([TradingStatus(ts_event=t, ts_init=t, symbol=command[1], status=command[2])])
            elif kind == "limit":
                (rule, field), symbol, value = command[1], command[2], command[3]
                event = UpdateRiskLimit(ts_event=t, ts_init=t, rule=rule, field=field, symbol=symbol, value=value)
                rig.kernel.run([event])
            elif kind == "account":
                _, symbol, position, cash_delta = command
                portfolio: FakePortfolio = rig.portfolio
                portfolio.positions[symbol] = position
                portfolio.cash += cash_delta * 10_000
                rig.ctx.revalue()
    fused, reference = rigs

    def seen(rig: Rig) -> list[Any]:
        return [e for e in rig.seen if isinstance(e, (RiskRejected, KillSwitchChanged, RiskLimitsChanged))]

    assert seen(fused) == seen(reference)
    assert [(type(c).__name__, c.client_order_id) for c in fused.venue.sent] == [
        (type(c).__name__, c.client_order_id) for c in reference.venue.sent
    ]
    assert (fused.engine.passed, fused.engine.rejected) == (reference.engine.passed, reference.engine.rejected)
    assert ledger_state(fused.ctx.ledger, empty=False) == ledger_state(reference.ctx.ledger, empty=False)
    assert flow_state(fused) == flow_state(reference)


def flow_state(rig: Rig) -> dict[str, dict[Any, Any]]:
    """Every throttle's buckets and the duplicate table, by rule: the fused rig's compiled ones (where built), the
    reference's in Python."""
    state = {
        r.name: {k: (b.tokens, b.last) for k, b in r.throttle.buckets.items()}
        for r in rig.engine.rules
        if isinstance(r, OrderRate)
    }
    state.update({r.name: dict(r._seen) for r in rig.engine.rules if isinstance(r, DuplicateOrder)})
    return state


@settings(max_examples=300, deadline=None)
@given(
    commands=commands,
    max_qty=st.one_of(st.none(), st.integers(1, 3_000)),
    aapl_qty=st.one_of(st.none(), st.integers(1, 1_500)),
    max_notional=usd,
    collar=st.one_of(st.none(), st.integers(0, 600)),
    spread=st.one_of(st.none(), st.integers(1, 200)),
    round_lots=st.sampled_from([False, False, True]),
    strategy_rate=st.one_of(st.none(), st.integers(1, 40)),
    strategy_burst=st.one_of(st.integers(1, 3), st.integers(1, 15)),
    symbol_rate=st.one_of(st.none(), st.integers(1, 40)),
    symbol_burst=st.one_of(st.integers(1, 3), st.integers(1, 15)),
    message_rate=st.one_of(st.none(), st.integers(1, 40)),
    message_burst=st.one_of(st.integers(1, 3), st.integers(1, 15)),
    duplicate_ms=st.one_of(st.none(), st.integers(1, 300)),
    max_open=st.one_of(st.none(), st.integers(1, 30)),
    max_position=st.one_of(st.none(), st.integers(1, 4_000)),
    symbol_net=usd,
    symbol_gross=usd,
    gross=usd,
    net=usd,
    margin=st.one_of(st.none(), st.integers(2_500, 10_000)),
    floor=st.one_of(st.none(), st.integers(0, 2_000_000)),
    daily_loss=usd,
    located=st.integers(0, 3_000),
    restricted=st.sampled_from([(), (), ("MSFT",)]),
    require_locate=st.booleans(),
    runaway=st.one_of(st.none(), st.integers(1, 30)),
    loss_kill=usd,
    cash=st.one_of(st.integers(-100_000, 2_000_000), st.just(10_000_000)),
)
def test_fused_and_rule_by_rule_agree(
    commands: list[tuple[Any, ...]],
    max_qty: int | None,
    aapl_qty: int | None,
    max_notional: int | None,
    collar: int | None,
    spread: int | None,
    round_lots: bool,
    strategy_rate: int | None,
    strategy_burst: int,
    symbol_rate: int | None,
    symbol_burst: int,
    message_rate: int | None,
    message_burst: int,
    duplicate_ms: int | None,
    max_open: int | None,
    max_position: int | None,
    symbol_net: int | None,
    symbol_gross: int | None,
    gross: int | None,
    net: int | None,
    margin: int | None,
    floor: int | None,
    daily_loss: int | None,
    located: int,
    restricted: tuple[str, ...],
    require_locate: bool,
    runaway: int | None,
    loss_kill: int | None,
    cash: int,
) -> None:
    config = RiskConfig(
        order=OrderChecks(
            max_quantity=max_qty,
            max_notional_usd=max_notional,
            collar_bps=collar,
            max_spread_bps=spread,
            round_lots_only=round_lots,
            locates={"AAPL": located} if located else {},
            hard_to_borrow=("MSFT",),
            restricted=restricted,
            require_locate=require_locate,
        ),
        account=AccountChecks(
            max_position=max_position,
            max_symbol_net_usd=symbol_net,
            max_symbol_gross_usd=symbol_gross,
            max_gross_usd=gross,
            max_net_usd=net,
            initial_margin_bps=margin,
            maintenance_margin_bps=2_500,
            min_net_liquidation_usd=floor,
            max_daily_loss_usd=daily_loss,
        ),
        flow=FlowChecks(
            strategy_orders_per_second=strategy_rate,
            strategy_burst=strategy_burst,
            symbol_orders_per_second=symbol_rate,
            symbol_burst=symbol_burst,
            messages_per_second=message_rate,
            message_burst=message_burst,
            duplicate_window_ms=duplicate_ms,
            max_open_orders=max_open,
            max_open_orders_total=max_open * 2 if max_open else None,
        ),
        kill_switch=KillSwitchConfig(runaway_orders=runaway, max_rejects=None, max_daily_loss_usd=loss_kill),
        symbols={"AAPL": SymbolLimits(max_quantity=aapl_qty)} if aapl_qty else {},
    )
    books = {"AAPL": (BID, ASK), "MSFT": (BID - 500, BID + 700)}
    run_both(config, commands, books, FakePortfolio(cash=cash * 10_000, positions={"AAPL": 200}))


bursty = st.one_of(st.just(0), st.just(0), st.integers(0, 300), st.sampled_from([1_000, 5_000, 30_000]))
flow_submit = st.tuples(
    st.just("submit"),
    st.integers(1, 500),
    st.just(0),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.just(OrderType.LIMIT),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["s", "t"]),
    bursty,
)
flow_commands = st.lists(
    mostly(flow_submit, st.tuples(st.just("cancel"), st.integers(0, 50)), 3),
    min_size=5,
    max_size=80,
)
throttle = st.tuples(st.one_of(st.none(), st.integers(1, 20)), st.one_of(st.integers(1, 3), st.integers(1, 30)))


@settings(max_examples=200, deadline=None)
@given(commands=flow_commands, message=throttle, strategy=throttle, symbol=throttle)
def test_fused_and_rule_by_rule_agree_on_throttles(
    commands: list[tuple[Any, ...]],
    message: tuple[int | None, int],
    strategy: tuple[int | None, int],
    symbol: tuple[int | None, int],
) -> None:
    """Only the throttles on, each with its own rate and burst, and bursts of orders after idle time: whichever
    bucket binds, the fused path spends and refills it exactly as the rules do (the wide test above rarely
    drives one bucket to empty with every other limit out of the way)."""
    config = throttles_only(message, strategy, symbol)
    run_both(config, commands, {"AAPL": (BID, ASK), "MSFT": (BID, ASK)}, FakePortfolio())


def test_fused_path_is_taken_for_an_ordinary_order() -> None:
    """Guard against a fused check that silently always falls back (it would still agree with the rules)."""
    rig = Rig(RiskConfig())
    assert rig.passed(rig.submit(quantity=100))  # the first order of a day sets the day's loss baseline

    def refuse(command: object) -> None:
        raise AssertionError("the rule-by-rule pipeline ran for an order the fused check passes")

    for rule in rig.engine.rules:
        rule.check = refuse  # type: ignore[method-assign]
    assert rig.passed(rig.submit(quantity=101))
    assert rig.engine.passed == 2


marks = st.tuples(
    st.just("mark"),
    st.one_of(  # never None here: the fake portfolio cannot value a position without a mark (see the next test)
        st.integers(-600, 600).map(lambda cents: 2 * (BID + cents * 100)),  # on the orders' price grid: ties
        st.integers(2 * BID - 80_000, 2 * BID + 80_000),
        st.sampled_from([1, 2, 2 * BID + 1]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    commands=st.lists(mostly(submit, st.one_of(other, marks, marks), 3), min_size=5, max_size=80),
    collar=st.one_of(st.none(), st.just(0), st.integers(0, 600)),
    spread=st.one_of(st.none(), st.integers(1, 200)),
    max_notional=usd,
    max_position=st.one_of(st.none(), st.integers(1, 4_000)),
    symbol_net=usd,
    symbol_gross=usd,
    margin=st.one_of(st.none(), st.integers(2_500, 10_000)),
    cash=st.one_of(st.integers(-100_000, 2_000_000), st.just(10_000_000)),
)
def test_fused_and_rule_by_rule_agree_on_a_symbol_valued_at_its_mark(
    commands: list[tuple[Any, ...]],
    collar: int | None,
    spread: int | None,
    max_notional: int | None,
    max_position: int | None,
    symbol_net: int | None,
    symbol_gross: int | None,
    margin: int | None,
    cash: int,
) -> None:
    """MSFT keeps no book (a bar backtest's case): market orders are valued, and limit orders collared, at the
    portfolio's mark, which moves (halves, far away, ties with the orders' prices). The fast path now handles that
    case itself instead of always leaving it to the rules, so it must decide every such order as they do."""
    config = RiskConfig(
        order=OrderChecks(max_notional_usd=max_notional, collar_bps=collar, max_spread_bps=spread),
        account=AccountChecks(
            max_position=max_position,
            max_symbol_net_usd=symbol_net,
            max_symbol_gross_usd=symbol_gross,
            initial_margin_bps=margin,
            maintenance_margin_bps=2_500,
        ),
    )
    run_both(config, commands, {"AAPL": (BID, ASK)}, FakePortfolio(cash=cash * 10_000, positions={"MSFT": 300}))


def test_fused_path_is_taken_for_a_market_order_without_a_book() -> None:
    """Guard: a market order on a symbol with no book but a mark (bars) passes by the fast path, valued at the
    mark rounded up, with the default rules (price collar included)."""
    portfolio = FakePortfolio()
    portfolio.mark = Fraction(2 * BID + 1, 2)
    rig = Rig(RiskConfig(), books=FakeBooks(MSFT=FakeBook()), portfolio=portfolio)
    assert rig.passed(rig.submit(quantity=100, price=0, order_type=OrderType.MARKET))

    def refuse(command: object) -> None:
        raise AssertionError("the rule-by-rule pipeline ran for an order the fused check passes")

    for rule in rig.engine.rules:
        rule.check = refuse  # type: ignore[method-assign]
    order = rig.submit(quantity=101, price=0, order_type=OrderType.MARKET)
    assert rig.passed(order)
    assert rig.ctx.ledger.entry(order.client_order_id) == ("s", "AAPL", Side.BUY, 101, BID + 1)


def test_without_a_book_or_a_mark_both_paths_refuse_at_the_price_collar() -> None:
    """No book and no mark: nothing to value or collar the order at; the fast path leaves it to the rules."""
    decided = []
    for fused in (True, False):
        portfolio = FakePortfolio()
        portfolio.mark = None
        rig = Rig(RiskConfig(), books=FakeBooks(MSFT=FakeBook()), portfolio=portfolio, fused=fused)
        for order_type, price in ((OrderType.MARKET, 0), (OrderType.LIMIT, BID)):
            rig.submit(quantity=100, price=price, order_type=order_type)
        decided.append([(e.rule, e.reason) for e in rig.seen if isinstance(e, RiskRejected)])
    assert decided[0] == decided[1]
    assert [rule for rule, _ in decided[0]] == ["price_collar", "price_collar"]


def test_fused_path_is_taken_for_an_ordinary_modify() -> None:
    """Guard: a modify the rules would pass is decided by the composed modify check, not rule by rule, and leaves
    the ledger as the rules would (the random streams above check that its decisions agree)."""
    rig = Rig(RiskConfig())
    first = rig.submit(quantity=100)
    assert rig.passed(first)
    reference = Rig(RiskConfig(), fused=False)
    assert reference.passed(reference.submit(quantity=100))

    def refuse(command: object) -> None:
        raise AssertionError("the rule-by-rule pipeline ran for a modify the fused check passes")

    for rule in rig.engine.rules:
        rule.check = refuse  # type: ignore[method-assign]
    for r in (rig, reference):
        r.modify(first.client_order_id, 150, BID - 100)
    assert [type(c).__name__ for c in rig.venue.sent] == ["SubmitOrder", "ModifyOrder"]
    assert rig.engine.passed == reference.engine.passed == 2
    assert rig.ctx.ledger.entries() == reference.ctx.ledger.entries()
    assert rig.ctx.ledger.entry(first.client_order_id) == ("s", "AAPL", Side.BUY, 150, BID - 100)


near = st.one_of(st.none(), st.integers(15_000, 90_000))
"""Dollar limits in the range this test's orders and positions reach (a few hundred shares at ~$100)."""
small_submit = st.tuples(
    st.just("submit"),
    st.integers(1, 600),
    st.integers(-50, 50),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["s", "t"]),
    st.sampled_from([0, 10, 1_000]),
)


modify_heavy = st.lists(
    mostly(
        st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 900), st.integers(-50, 50)),
        st.one_of(small_submit, small_submit, st.tuples(st.just("cancel"), st.integers(0, 50)), other),
        1,
    ),
    min_size=5,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    commands=modify_heavy,
    max_position=st.one_of(st.none(), st.integers(1, 3_000)),
    symbol_net=near,
    symbol_gross=near,
    gross=near,
    net=near,
    margin=st.one_of(st.none(), st.integers(2_500, 10_000)),
    message_rate=st.one_of(st.none(), st.integers(1, 40)),
    message_burst=st.integers(1, 15),
    located=st.integers(0, 3_000),
    cash=st.one_of(st.integers(-100_000, 2_000_000), st.just(10_000_000)),
)
def test_fused_and_rule_by_rule_agree_on_modifies_near_the_account_limits(
    commands: list[tuple[Any, ...]],
    max_position: int | None,
    symbol_net: int | None,
    symbol_gross: int | None,
    gross: int | None,
    net: int | None,
    margin: int | None,
    message_rate: int | None,
    message_burst: int,
    located: int,
    cash: int,
) -> None:
    """Half the commands modify an order already sent: the composed modify check leaves the order's own open
    shares and notional out of the account values (``SHARED_MODIFY``), counts it on the message rate only, and
    must pass exactly what the rules pass (the wide test above sends few modifies near a limit)."""
    config = RiskConfig(
        order=OrderChecks(max_quantity=None, max_notional_usd=None, locates={"AAPL": located} if located else {}),
        account=AccountChecks(
            max_position=max_position,
            max_symbol_net_usd=symbol_net,
            max_symbol_gross_usd=symbol_gross,
            max_gross_usd=gross,
            max_net_usd=net,
            initial_margin_bps=margin,
            maintenance_margin_bps=2_500,
        ),
        flow=FlowChecks(messages_per_second=message_rate, message_burst=message_burst, duplicate_window_ms=None),
    )
    books = {"AAPL": (BID, ASK), "MSFT": (BID - 500, BID + 700)}
    run_both(config, commands, books, FakePortfolio(cash=cash * 10_000, positions={"AAPL": 200}))


@pytest.mark.parametrize(
    "account",
    [
        AccountChecks(max_position=400, initial_margin_bps=None),
        AccountChecks(max_position=None, initial_margin_bps=None, max_gross_usd=40_000),
        AccountChecks(max_position=None, initial_margin_bps=None, max_symbol_gross_usd=40_000),
        AccountChecks(max_position=None, initial_margin_bps=None, max_net_usd=40_000),
        AccountChecks(max_position=None, initial_margin_bps=None, max_symbol_net_usd=40_000),
    ],
)
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("new_quantity", [150, 399, 400, 401, 450])
def test_a_modify_at_each_account_limit_is_decided_as_the_rules_decide(
    account: AccountChecks, side: Side, new_quantity: int
) -> None:
    """The order's own open shares and notional leave the account values exactly once: 200 open at $100 (the
    limits are 400 shares, $40,000), modified to just under, at and over the limit."""
    config = RiskConfig(
        order=OrderChecks(max_quantity=None, max_notional_usd=None, locates={"AAPL": 10_000}), account=account
    )
    commands = [("submit", 200, 0, side, OrderType.LIMIT, "AAPL", "s", 0), ("modify", 0, new_quantity, 0)]
    run_both(config, commands, {"AAPL": (BID, ASK)}, FakePortfolio(positions={}))
