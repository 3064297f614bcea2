"""The order rules' compiled group (``_order_core.OrderGroup``, composed by ``risk/fast_group.py``) against its
reference, the parts' own Python text: the same answer for every order, limit, status and session window drawn,
values past int64 and limits of zero included, and no fallback to the text while everything fits int64 and the
order is inside the window the text kept. That the fast check as a whole decides as the rules do is
``test_fused.py``'s subject (the group is on there).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.enums import MarketStatus
from tapeflow.model.instruments import TickRule
from tapeflow.risk import fast_group
from tapeflow.risk import order_rules as order
from tapeflow.risk.config import RiskConfig
from tapeflow.risk.context import RiskContext
from tapeflow.risk.fast import BIG
from tapeflow.risk.ledger import open_order_ledger
from tests.risk.helpers import Rig, rendered_parts
from tests.risk.test_fast import every_rule

pytestmark = pytest.mark.skipif(not fast_group.ORDER_AVAILABLE, reason="the compiled cores were not built")

EDGES = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70]
FITS = 2**40
CTX = RiskContext(impl="compiled") if fast_group.ORDER_AVAILABLE else None
LEDGER = open_order_ledger("compiled") if fast_group.ORDER_AVAILABLE else None
STATUSES = [MarketStatus.HALTED, MarketStatus.QUOTING, MarketStatus.TRADING]

amount = st.one_of(st.integers(-(10**3), 10**7), st.integers(-(2**70), 2**70), st.sampled_from(EDGES))
limit = st.one_of(st.none(), st.just(0), st.integers(1, 10**4), st.sampled_from([2**63 - 1, 2**63, 2**70]))


def _calendar_unused(now: int) -> Any:
    raise AssertionError("the text asked the calendar where the group answered")


def text_and_group(rules: list[Any], symbol: str) -> tuple[Any, Any, tuple[int, ...]]:
    """The rules' composed text (a function of ``fast_group.ORDER_ARGS`` answering 1 where every part passes), the
    group built from the same parts (None where it cannot hold them), and the symbol's row of per-symbol limits."""
    env: dict[str, Any] = {"BIG": BIG, **{f"session_of_r{i}": _calendar_unused for i in range(len(rules))}}
    members, codes, columns = rendered_parts(rules, env)
    body = "".join(f"    {line}\n" for code in codes for line in code.splitlines())
    exec(f"def text({', '.join(fast_group.ORDER_ARGS)}):\n{body}    return 1\n", env)
    row = tuple(BIG if r.limit_for(symbol, r.limit) is None else r.limit_for(symbol, r.limit) for r in columns)
    return env["text"], fast_group.order_group(LEDGER, members) if members else None, row


def hours(status: dict[str, MarketStatus], window: list[int], block_halted: bool) -> order.TradingHours:
    """The trading-status rule whose part reads ``status`` and keeps ``window`` (one part, for the text and the
    group alike)."""
    rule = order.TradingHours(CTX, ("regular",), block_halted)  # type: ignore[arg-type]
    part = rule.fast_check()
    part.names["status"] = status  # type: ignore[index]
    part.names["window"][:] = window  # type: ignore[index]
    rule.fast_check = lambda: part  # type: ignore[method-assign]
    return rule


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_compiled_order_group_answers_as_the_parts_python_text(data: Any) -> None:
    draw = data.draw
    wild = draw(st.booleans())
    symbol = draw(st.sampled_from(["AAPL", "MSFT", "GME"]))
    q = draw(amount if wild else st.integers(0, 20_000))
    price = draw(amount if wild else st.sampled_from([0, 9_999, 10_000, 10_050, 1_000_000, 1_000_100, -100]))
    stop_price = draw(amount if wild else st.sampled_from([0, 0, 12_345, 1_000_000]))
    now = draw(amount if wild else st.integers(10**18, 10**18 + 100))
    start = draw(amount if wild else st.integers(10**18 - 10, 10**18 + 100))
    end = draw(amount if wild else st.integers(10**18, 10**18 + 200))
    marketable = draw(st.booleans())
    status = {s: draw(st.sampled_from(STATUSES)) for s in draw(st.sets(st.sampled_from(["AAPL", "MSFT", "GME"])))}
    maximum = order.MaxOrderQuantity(draw(limit))
    if draw(st.booleans()):
        maximum.per_symbol = {"AAPL": draw(st.integers(1, 10**4) | st.sampled_from([2**63, 2**70]))}
    tick = order.TickSize(
        draw(
            st.sampled_from([TickRule(), TickRule(threshold=0, tick_above=1, tick_below=1)])
            | st.builds(TickRule, threshold=st.integers(0, 10**7), tick_above=st.integers(1, 500))
        )
    )
    every = [
        order.MinOrderQuantity(
            draw(st.integers(0, 200) | st.sampled_from([2**63, -(2**63) - 1]) if wild else st.integers(0, 200))
        ),
        maximum,
        order.LotSize(draw(st.integers(1, 300) | st.sampled_from([2**63]) if wild else st.sampled_from([1, 100]))),
        tick,
        order.RestrictedList(draw(st.sets(st.sampled_from(["GME", "AMC", "MSFT"])))),
        hours(status, [start, end], draw(st.booleans())),
    ]
    chosen = [r for r in every if draw(st.booleans())]
    text, group, row = text_and_group(chosen, symbol)
    if group is None:  # no part (no limit set), or a limit this group cannot hold: the text alone runs
        assert not [r for r in chosen if r.fast_check().code] or any(
            isinstance(r, (order.MinOrderQuantity, order.LotSize)) and not -(2**63) <= r.limit < 2**63 for r in chosen
        )
        return
    args = {"q": q, "price": price, "stop_price": stop_price, "symbol": symbol, "marketable": marketable}
    args |= {"now": now, "limits": row}
    answer = group.check(*(args[name] for name in fast_group.ORDER_ARGS))
    assert answer in (-1, 0, 1)
    if answer != -1:
        assert answer == text(**args), (answer, chosen, args)
    window_holds = not any(isinstance(r, order.TradingHours) for r in chosen) or start <= now < end
    if window_holds and all(-FITS < v < FITS for v in (q, price, stop_price, now, start, end, *row)):
        assert answer != -1, (chosen, args)


def test_each_order_part_answers_as_its_text_at_its_boundary() -> None:
    """Each compare at equality and one either side, alone in a group: the random draws above reach some of them too
    rarely for a mutant of one compare to fail there."""
    rule_612 = TickRule()
    cases = 0

    def same(rules: list[Any], **given: Any) -> None:
        nonlocal cases
        text, group, row = text_and_group(rules, given.get("symbol", "AAPL"))
        args = {"q": 100, "price": 0, "stop_price": 0, "symbol": "AAPL", "marketable": False, "now": 5} | given
        args["limits"] = row
        answer = group.check(*(args[name] for name in fast_group.ORDER_ARGS))
        assert answer == text(**args), (rules, args)
        cases += 1

    for q in (99, 100, 101):
        same([order.MinOrderQuantity(100)], q=q)
        same([order.MaxOrderQuantity(100)], q=q)
        overridden = order.MaxOrderQuantity(10**6)
        overridden.per_symbol = {"AAPL": 100}
        same([overridden], q=q)
        same([order.LotSize(100)], q=q)
        same([order.LotSize(100)], q=q - 100)
    # 1,001 is on the grid above (7) and not below (3): the regime chosen at the threshold decides there
    for tick in (rule_612, TickRule(threshold=1_001, tick_above=7, tick_below=3)):
        t = tick.threshold
        for price in (t - 1, t, t + 1, t + 100, t - 100, 1, 0, -1, -100):
            same([order.TickSize(tick)], price=price)
            same([order.TickSize(tick)], stop_price=price)
    for symbol in ("GME", "AAPL"):
        same([order.RestrictedList({"GME"})], symbol=symbol)
    for st_ in (*STATUSES, None):
        for marketable in (True, False):
            for block_halted in (True, False):
                status = {"AAPL": st_} if st_ is not None else {}
                same([hours(status, [5, 10], block_halted)], marketable=marketable)
    for now in (4, 5, 9, 10):
        _, group, _ = text_and_group([hours({}, [5, 10], True)], "AAPL")
        args = {"q": 1, "price": 0, "stop_price": 0, "symbol": "AAPL", "marketable": False, "now": now, "limits": ()}
        answer = group.check(*(args[name] for name in fast_group.ORDER_ARGS))
        assert answer == (1 if 5 <= now < 10 else -1), now  # outside: the text asks the calendar
        cases += 1
    assert cases == 73


def test_the_pipelines_first_order_rules_are_one_compiled_call_in_both_fast_checks() -> None:
    """Every built-in rule on: the six first order rules one group, called once in each check, their text after it;
    the account rules another."""
    engine = Rig(every_rule()).engine
    for check in (engine._check, engine._check_modify):
        groups = {
            check.__globals__[n].__self__.__class__.__name__: n for n in check.__globals__ if n.startswith("group_")
        }
        assert sorted(groups) == ["AccountGroup", "OrderGroup"]
        assert groups["OrderGroup"] == "group_r0"
        assert check.__code__.co_names.count("group_r0") == 1
        assert "session_r5" in check.__code__.co_varnames  # the text, for the group's -1


def test_the_bar_backtests_default_order_rules_are_one_group_too() -> None:
    engine = Rig(RiskConfig()).engine
    names = [n for n in engine._check.__globals__ if n.startswith("group_")]
    assert names == ["group_r0"]
    assert type(engine._check.__globals__["group_r0"].__self__).__name__ == "OrderGroup"
