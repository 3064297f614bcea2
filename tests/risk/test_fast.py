"""How ``risk/fast.py`` composes the rules' fast checks: which rules it takes, which it leaves to be called, and
the parts it refuses to compose. Whether a fast pass agrees with the rules is ``test_fused.py``'s subject."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

import msgspec
import pytest

from tapeflow.model.enums import Side
from tapeflow.model.orders import SubmitOrder
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig, SymbolLimits
from tapeflow.risk.fast import _unguarded
from tapeflow.risk.order_rules import MaxOrderQuantity
from tapeflow.risk.rules import FastCheck, Rule, Violation
from tests.risk.helpers import BID, SYM, FakePortfolio, Rig
from tests.risk.test_encapsulation import private_reads


def every_rule() -> RiskConfig:
    """Every rule and trip rule on, limits wide: the longest fast check there is."""
    return RiskConfig(
        order=OrderChecks(round_lots_only=True, restricted=("GME",), hard_to_borrow=("AMC",), locates={"AAPL": 500}),
        account=AccountChecks(
            max_gross_usd=10**9,
            max_net_usd=10**9,
            max_symbol_gross_usd=10**9,
            max_symbol_net_usd=10**9,
            min_net_liquidation_usd=1,
            max_daily_loss_usd=10**6,
        ),
        flow=FlowChecks(strategy_orders_per_second=100, symbol_orders_per_second=100, messages_per_second=100),
        kill_switch=KillSwitchConfig(runaway_orders=100, max_rejects=100, max_daily_loss_usd=10**6),
        symbols={"AAPL": SymbolLimits(max_quantity=5_000, max_position=9_000)},
    )


def test_every_built_in_rule_is_composed_and_none_is_left_to_call() -> None:
    rig = Rig(every_rule())
    assert len(rig.engine.rules) == 24
    assert rig.engine._rest == []


def test_the_composed_fast_check_reads_no_private_attribute() -> None:
    """The parts are text, out of reach of ``test_encapsulation``'s scan of the modules: scan what they make."""
    source = textwrap.dedent(inspect.getsource(Rig(every_rule()).engine._check))
    assert "symbol in restricted_r" in source  # the scan sees the composed parts, not an empty function
    assert private_reads(source) == []


def test_the_fast_checks_bound_names_are_its_globals_one_dict_per_engine() -> None:
    """A closure's call copies every free variable into its frame and releases it on return (~80 of them here):
    the bound names are the function's globals instead (issue 19, round 7), one dict per build, so that two
    engines of the same rules share the compiled text and keep their own state."""
    one, two = Rig(every_rule()).engine, Rig(every_rule()).engine
    for check in (one._check, one._check_modify):
        assert check.__code__.co_freevars == () and check.__closure__ is None
    assert one._check.__code__ is two._check.__code__
    assert one._check.__globals__ is not two._check.__globals__
    assert one._check.__globals__["ledger"] is one.context.ledger is not two.context.ledger


class Strict(MaxOrderQuantity):
    """A subclass from outside ``risk/`` that checks more than its base and gives no fast check of its own."""

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.quantity % 7 == 0:
            return Violation(reason="multiples of 7 are unlucky")
        return super().check(command)


def test_a_subclass_from_elsewhere_without_a_fast_check_is_called_and_refuses() -> None:
    rig = Rig(RiskConfig())
    strict = Strict(1_000, name="strict")
    rig.engine.rules.append(strict)
    rig.engine.recompile()
    assert rig.engine._rest == [strict]
    assert not rig.passed(rig.submit(quantity=700))
    assert rig.last_rule() == "strict"
    assert rig.passed(rig.submit(quantity=100))


def test_two_instances_of_one_rule_are_both_in_the_fast_check_with_their_own_limits() -> None:
    rig = Rig(RiskConfig())
    rig.engine.rules += [MaxOrderQuantity(200, name="wide"), MaxOrderQuantity(150, name="narrow")]
    rig.engine.recompile()
    assert rig.engine._rest == []
    assert rig.passed(rig.submit(quantity=100))
    assert not rig.passed(rig.submit(quantity=170))
    assert rig.last_rule() == "narrow"


class Declares(Rule):
    """A hand-made rule that gives a fast check of its own (``part``)."""

    name = "declares"

    def __init__(self, part: FastCheck) -> None:
        super().__init__()
        self.part = part

    def check(self, command: SubmitOrder) -> Violation | None:
        return None

    def fast_check(self) -> FastCheck:
        return self.part


@pytest.mark.parametrize(
    ("part", "why"),
    [
        (FastCheck("if nobody > q:\n    return 0"), "reads names nobody binds: ['nobody']"),
        (FastCheck("ref = 1"), "binds shared names ['ref']"),
    ],
)
def test_a_part_that_reads_an_unbound_name_or_binds_a_shared_one_is_refused(part: FastCheck, why: str) -> None:
    rig = Rig(RiskConfig())
    rig.engine.rules.append(Declares(part))
    with pytest.raises(ValueError, match=why.replace("[", r"\[").replace("]", r"\]")):
        rig.engine.recompile()


def test_a_hand_made_fast_check_is_composed_with_its_own_names() -> None:
    rig = Rig(RiskConfig())
    rig.engine.rules.append(Declares(FastCheck("if q > most:\n    return 0", {"most": 150})))
    rig.engine.recompile()
    assert rig.engine._rest == []
    assert rig.passed(rig.submit(quantity=100))
    assert rig.passed(rig.submit(quantity=200))  # the fast check steps aside; the rule itself lets it through


class CountingPortfolio(FakePortfolio):
    """Counts how often the account is valued (the costliest shared work of the fast check)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.valued = 0

    def gross_exposure(self) -> int:
        self.valued += 1
        return super().gross_exposure()

    def net_exposure(self) -> int:
        self.valued += 1
        return super().net_exposure()


def account_rig(*extra: Rule) -> tuple[Rig, CountingPortfolio]:
    portfolio = CountingPortfolio(positions={SYM: 300})
    # every rule, and the trip rules but the loss kill, which values the account after each pass (by design)
    config = msgspec.structs.replace(every_rule(), kill_switch=KillSwitchConfig(runaway_orders=100, max_rejects=100))
    rig = Rig(config, portfolio=portfolio)
    rig.engine.rules += list(extra)
    rig.engine.recompile()
    assert rig.passed(rig.submit(quantity=100, side=Side.BUY))  # the day's loss baseline, taken rule by rule
    return rig, portfolio


def test_a_reducing_order_passes_the_fast_check_without_the_account_being_valued() -> None:
    rig, portfolio = account_rig()
    for rule in rig.engine.rules:
        rule.check = refuse  # type: ignore[method-assign]
    rig.ctx.revalue()  # a mark moved: the account must be valued again before an account rule reads it
    valued = portfolio.valued
    assert rig.passed(rig.submit(quantity=100, side=Side.SELL))  # 300 held: a sale of 100 can only reduce
    assert portfolio.valued == valued
    assert rig.passed(rig.submit(quantity=100, side=Side.BUY, price=BID + 100))  # not reducing: the limits apply
    assert portfolio.valued > valued


def test_a_part_reading_an_account_value_for_a_reducing_order_has_it_computed_for_every_order() -> None:
    """Were the account values left under the guard, this part would fail with an unbound name on a reducing
    order; the composer sees the unguarded read and computes them for every order instead."""
    rig, portfolio = account_rig(Declares(FastCheck("if equity < 0:\n    return 0")))
    rig.ctx.revalue()
    valued = portfolio.valued
    assert rig.passed(rig.submit(quantity=100, side=Side.SELL))
    assert portfolio.valued > valued


def refuse(command: object) -> None:
    raise AssertionError("the rule-by-rule pipeline ran for an order the fused check passes")


@pytest.mark.parametrize(
    ("code", "unguarded"),
    [
        ("if not reducing and equity < limit:\n    return 0", set()),
        ("if not reducing:\n    if gross > net:\n        return 0", set()),
        ("if equity < limit:\n    return 0", {"equity"}),
        ("if reducing and net > 0:\n    return 0", {"net"}),
        ("if not reducing:\n    pass\nelse:\n    x = projected_gross", {"projected_gross"}),
        ("if q > 1 and not reducing and gross > 0:\n    return 0", {"gross"}),
        ("x = size * ref", set()),
    ],
)
def test_account_values_read_outside_the_not_reducing_guard_are_found(code: str, unguarded: set[str]) -> None:
    assert _unguarded(code) == unguarded
