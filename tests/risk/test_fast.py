"""How ``risk/fast.py`` composes the rules' fast checks: which rules it takes, which it leaves to be called, and
the parts it refuses to compose. Whether a fast pass agrees with the rules is ``test_fused.py``'s subject."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from tapeflow.model.orders import SubmitOrder
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig, SymbolLimits
from tapeflow.risk.order_rules import MaxOrderQuantity
from tapeflow.risk.rules import FastCheck, Rule, Violation
from tests.risk.helpers import Rig
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
