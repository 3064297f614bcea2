"""The account rules' compiled group (``_ledger_core.AccountGroup``, composed by ``risk/fast_group.py``) against its
reference, the parts' own Python text: the same answer for every account, ledger, limit and order drawn, values
past int64 and limits of zero included, and no fallback to the text while everything fits int64 and the day is
known. That the fast check as a whole decides as the rules do is ``test_fused.py``'s subject (the group is on there).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.enums import Side
from tapeflow.risk import account_rules as acc
from tapeflow.risk import fast_group
from tapeflow.risk.context import RiskContext
from tapeflow.risk.fast import BIG, _render
from tapeflow.risk.ledger import open_order_ledger
from tests.risk.helpers import Rig, rendered_parts
from tests.risk.test_fast import every_rule

pytestmark = pytest.mark.skipif(not fast_group.COMPILED_AVAILABLE, reason="the compiled ledger was not built")

EDGES = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**62, -(2**62)]
FITS = 2**40
"""Inputs and limits all within this (and the day known): the group must answer without the text."""

amount = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(-(10**14), 10**14),
    st.integers(-(2**62), 2**62),
    st.integers(-(2**70), 2**70),
    st.sampled_from(EDGES),
)
wild_limit = st.one_of(
    st.none(), st.just(0), st.integers(1, 10**6), st.integers(1, 10**14), st.sampled_from([2**63 - 1, 2**63, 2**70])
)
calm_limit = st.integers(0, 9).flatmap(
    lambda i: st.just(0) if i == 0 else st.none() if i == 1 else st.integers(10**12, 10**13)
)
"""Mostly wide (the parts pass), now and then zero or none."""
calm = {
    "held": st.integers(-(10**4), 10**4),
    "size": st.integers(0, 10**4),
    "ref": st.integers(1, 10**7),
    "value": st.integers(0, 10**10),
    "gross": st.integers(0, 10**11),
    "projected_gross": st.integers(0, 10**12),
    "net": st.integers(-(10**11), 10**11),
    "equity": st.integers(10**9, 10**13),
}
"""An account and an order as they come (mostly passing wide limits); the other half of the draws is ``amount``."""
NAMES = tuple(calm)
CTX = RiskContext(impl="compiled") if fast_group.COMPILED_AVAILABLE else None
"""What the rules are built with (their fast parts bind its calendar); each example draws its own ledger."""


FOCUS = ("position", "symbol_net", "symbol_gross", "gross", "net", "margin", "floor", "loss")
"""What each account rule checks against its limit, in the pipeline's order (``margin``: buying power's equity)."""


def near(value: int) -> st.SearchStrategy[int]:
    """A limit at ``value``'s boundary (a limit is never negative)."""
    return st.sampled_from([max(v, 0) for v in (value - 1, value, value + 1)])


def ceil_bps(amount: int, bps: int) -> int:
    return -(-amount * bps // 10_000)


def rules(
    ctx: RiskContext, draw: Any, limit: Any, at: dict[str, int], rates: tuple[int | None, int], focus: str
) -> list[Any]:
    """The built-in account rules in the pipeline's order, each with a drawn limit (None: none, as configured), now
    and then at the boundary of the value it checks (``at``)."""

    def pick(name: str) -> Any:
        """One rule's limit at its boundary, the others drawn (mostly wide, in a calm draw: they pass)."""
        if name == focus:
            return draw(near(at[name]))
        if name == "floor" and limit is calm_limit:
            return draw(st.none() | st.integers(0, 10**9))
        return draw(limit)

    out: list[Any] = [
        acc.PositionLimit(ctx, pick("position")),
        acc.SymbolNetExposure(ctx, pick("symbol_net")),
        acc.SymbolGrossExposure(ctx, pick("symbol_gross")),
        acc.GrossExposure(ctx, pick("gross")),
        acc.NetExposure(ctx, pick("net")),
        acc.BuyingPower(ctx, *rates),
        acc.NetLiquidationFloor(ctx, pick("floor")),
        acc.DailyLoss(ctx, pick("loss")),
    ]
    for rule, name in zip(out[:3], ("position", "symbol_net", "symbol_gross"), strict=True):  # per-symbol overrides
        override = draw(st.none() | (near(at[name]) if name == focus else limit))
        if override is not None:
            rule.per_symbol = {"AAPL": override}
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_compiled_group_answers_as_the_parts_python_text(data: Any) -> None:
    draw = data.draw
    ledger = open_order_ledger("compiled")
    wild = draw(st.booleans())
    for i in range(draw(st.integers(0, 4))):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        price = draw(amount.filter(lambda v: v > 0) if wild else st.integers(1, 10**7))
        quantity = draw(st.integers(1, 10**6 if wild else 10**3))
        ledger.add("s", f"o{i}", draw(st.sampled_from(["AAPL", "MSFT"])), side, quantity, price)
    modifying = draw(st.booleans())
    is_buy, symbol = draw(st.booleans()), draw(st.sampled_from(["AAPL", "MSFT"]))
    values = {name: draw(amount if wild else calm[name]) for name in NAMES}
    own = {"own_notional": 0, "own_buy": 0, "own_sell": 0}
    if modifying:
        small = st.integers(0, 10**9)
        own = {name: draw(amount if wild else small) for name in ("own_notional", "own_buy", "own_sell")}
    focus = draw(st.sampled_from(FOCUS))
    """The one rule whose limit (or, for buying power, the equity) is drawn at its boundary."""
    maintenance = draw(st.integers(0, 10_000) | st.sampled_from([2**63, 0]))
    initial = draw(st.none() | st.just(0) | st.integers(1, 10_000) | st.sampled_from([2**63]))
    if not wild and focus == "margin":  # equity at one margin's boundary, the other margin nowhere near it
        if draw(st.booleans()):
            maintenance, initial = 0, draw(st.integers(1, 10_000))
            values["equity"] = draw(near(ceil_bps(values["projected_gross"], initial)))
        else:
            maintenance, initial, values["projected_gross"] = draw(st.integers(1, 10_000)), 1, 0
            values["equity"] = draw(near(ceil_bps(values["gross"], maintenance)))
    loss_at = draw(amount if wild else st.integers(0, 10**10))
    sides = [ledger.buys.get(symbol), ledger.sells.get(symbol)]
    v = values
    buy, sell = ledger.buy_notional - own["own_buy"], ledger.sell_notional - own["own_sell"]
    at = {
        "position": v["size"],
        "symbol_net": v["size"] * v["ref"],
        "symbol_gross": abs(v["held"]) * v["ref"]
        + v["value"]
        + sum(s.notional for s in sides if s)
        - own["own_notional"],
        "gross": v["projected_gross"],
        "net": abs(v["net"] + buy + v["value"] if is_buy else v["net"] - sell - v["value"]),
        "floor": v["equity"],
        "loss": loss_at,
    }
    every = rules(CTX, draw, wild_limit if wild else calm_limit, at, (initial, maintenance), focus)
    chosen = [r for r, name in zip(every, FOCUS, strict=True) if name == focus or draw(st.booleans())]
    env: dict[str, Any] = {"BIG": BIG, "ledger": ledger, "buys_get": ledger.buys.get, "sells_get": ledger.sells.get}
    members, codes, columns = rendered_parts(chosen, env, modifying=modifying)
    if not members:
        return
    group = fast_group.account_group(ledger, members)
    row = tuple(BIG if (r.limit_for(symbol, r.limit)) is None else r.limit_for(symbol, r.limit) for r in columns)
    day = members[-1][1].names.get("day") if type(members[-1][0]) is acc.DailyLoss else None
    now = draw(amount if wild else st.integers(0, 10**18))
    if day is not None:
        start = draw(amount) if wild else now - draw(st.integers(0, 10**12))
        end = draw(st.sampled_from([start + 10**12, now + 1, now, 2**70]) if wild else st.just(now + 1))
        day[:] = [start, end, values["equity"] + loss_at]
    args = {"is_buy": is_buy, "symbol": symbol, **values, "now": now, "limits": row, **own}

    body = "".join(f"    {line}\n" for code in codes for line in code.splitlines())
    namespace = dict(env)
    exec(f"def text({', '.join(fast_group.ARGS)}):\n    reducing = False\n{body}    return 1\n", namespace)
    day_before = list(day) if day is not None else None
    expected = namespace["text"](**args)
    if day is not None:
        day[:] = day_before  # the text may take a new day's baseline; the group is asked the same question
    if group is None:  # a rate or floor past int64: the composer keeps the text alone
        assert any(isinstance(r, (acc.BuyingPower, acc.NetLiquidationFloor)) for r, _, _ in members)
        return
    answer = group.check(*(args[name] for name in fast_group.ARGS))
    assert answer in (-1, 0, 1)
    if answer != -1:
        assert answer == expected, (answer, expected, codes, args)
    fits = all(-FITS < v < FITS for v in [*values.values(), *own.values(), *row, now])
    fits = fits and all(-FITS < r.limit < FITS for r, _, _ in members if r.limit is not None)
    fits = fits and all(-FITS < s.notional < FITS for s in [*ledger.buys.values(), *ledger.sells.values()])
    fits = fits and all(-FITS < t < FITS for t in (ledger.buy_notional, ledger.sell_notional))
    if day is not None:
        fits = fits and day[0] <= now < day[1] and all(-FITS < v < FITS for v in day)
    if fits:
        assert answer != -1, (codes, args)


def test_buying_power_and_the_floor_answer_as_their_text_at_every_boundary() -> None:
    """The margins' rounding (Python floors, C truncates) and the compares at equality, case by case: the random
    draws above reach them too rarely for a mutant of either to fail there."""
    ledger = open_order_ledger("compiled")
    cases = 0
    for gross, projected in [(1, 1), (9_999, 10_001), (123_456_789, 987_654_321), (10_000, 20_000), (0, 0)]:
        for maintenance, initial in [(1, 1), (2_500, 5_000), (9_999, 7), (0, 10_000)]:
            for equity in {ceil_bps(gross, maintenance) + d for d in (-1, 0, 1)} | {
                ceil_bps(projected, initial) + d for d in (-1, 0, 1)
            }:
                for floor in (None, equity, equity + 1):
                    rules = [acc.BuyingPower(CTX, initial, maintenance), acc.NetLiquidationFloor(CTX, floor)]
                    parts = [(r, r.fast_check()) for r in rules]
                    members = [(r, p, -1) for r, p in parts if p.code]
                    env: dict[str, Any] = {}
                    codes = []
                    for i, (_, part, _) in enumerate(members):
                        codes.append(_render(part.code, "", frozenset(part.names), f"_r{i}", -1)[0])
                        env.update({f"{name}_r{i}": value for name, value in part.names.items()})
                    body = "".join(f"    {line}\n" for code in codes for line in code.splitlines())
                    exec(f"def text(gross, projected_gross, equity):\n    reducing = False\n{body}    return 1\n", env)
                    args = dict.fromkeys(fast_group.ARGS, 0) | {"limits": (), "symbol": "AAPL"}
                    args |= {"gross": gross, "projected_gross": projected, "equity": equity}
                    group = fast_group.account_group(ledger, members)
                    answer = group.check(*(args[name] for name in fast_group.ARGS))
                    assert answer == env["text"](gross, projected, equity), (gross, projected, equity, floor)
                    cases += 1
    assert cases > 250


def test_a_modifys_net_exposure_answers_as_its_text_at_the_limit() -> None:
    """Both sides of a modify, its own open notional taken off its side's (``own_buy``, ``own_sell``), at the limit:
    the random draws above reach a sell modify there too rarely for a mutant of the sign to fail."""
    ledger = open_order_ledger("compiled")
    ledger.add("s", "o0", "AAPL", Side.SELL, 100, 1_000_000)
    ledger.add("s", "o1", "AAPL", Side.BUY, 50, 1_000_000)
    value, cases = 20_000_000, 0
    for is_buy in (True, False):
        for own in (0, 30_000_000, 50_000_000):
            for net in (-(5 * 10**8), 0, 7 * 10**8):
                buy, sell = ledger.buy_notional - own, ledger.sell_notional - own
                exposure = net + buy + value if is_buy else net - sell - value
                for limit in {max(abs(exposure) + d, 0) for d in (-1, 0, 1)}:
                    rule = acc.NetExposure(CTX, limit)
                    part = rule.fast_check_modify()
                    code = _render(part.code, "", frozenset(part.names), "_r0", -1)[0]
                    env: dict[str, Any] = {"ledger": ledger, **{f"{k}_r0": v for k, v in part.names.items()}}
                    body = "".join(f"    {line}\n" for line in code.splitlines())
                    exec(
                        f"def text(is_buy, net, value, own_buy, own_sell):\n    reducing = False\n{body}    return 1\n",
                        env,
                    )
                    args = dict.fromkeys(fast_group.ARGS, 0) | {"limits": (), "symbol": "AAPL"}
                    args |= {"is_buy": is_buy, "net": net, "value": value, "own_buy": own, "own_sell": own}
                    group = fast_group.account_group(ledger, [(rule, part, -1)])
                    expected = env["text"](is_buy, net, value, own, own)
                    assert group.check(*(args[name] for name in fast_group.ARGS)) == expected, (is_buy, own, net, limit)
                    cases += 1
    assert cases == 54


def test_the_pipelines_account_rules_are_one_compiled_call_in_both_fast_checks() -> None:
    """Every built-in account rule on: one group, called once in the submit and once in the modify check (so
    ``test_fused.py``'s streams run through it), the parts' text kept after it."""
    engine = Rig(every_rule()).engine
    for check in (engine._check, engine._check_modify):
        groups = [
            n for n in check.__globals__ if n.startswith("group_") and "AccountGroup" in repr(check.__globals__[n])
        ]
        assert len(groups) == 1
        assert check.__globals__[groups[0]].__self__.__class__.__name__ == "AccountGroup"
        assert check.__code__.co_names.count(groups[0]) == 1
        assert "exposure_r" in "".join(check.__code__.co_varnames)  # the text, for the group's -1


def test_without_the_compiled_ledger_the_account_rules_stay_text(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Rig(every_rule(), impl="python").engine
    assert not [name for name in engine._check.__globals__ if name.startswith("group_")]
