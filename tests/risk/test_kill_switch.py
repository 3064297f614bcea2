"""The kill switch: by hand, by event, by signal file, by rule; cancels everything; survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.model import CancelOrder, ConfigError, RiskRejected, Side
from tapeflow.model.risk_events import KillSwitchChanged, SetKillSwitch
from tapeflow.risk.config import KillSwitchConfig, OrderChecks
from tests.risk.helpers import MS, FakePortfolio, Rig
from tests.risk.test_rules import OFF_KILL, cfg, one


def kill_cfg(tmp_path: Path, **kw: object) -> KillSwitchConfig:
    base = {"runaway_orders": None, "max_rejects": None, "state_file": str(tmp_path / "kill.json")}
    return KillSwitchConfig(**{**base, **kw})  # type: ignore[arg-type]


def kills(rig: Rig) -> list[KillSwitchChanged]:
    return [e for e in rig.seen if isinstance(e, KillSwitchChanged)]


def test_kill_blocks_new_orders_cancels_open_ones_and_lets_cancels_through(tmp_path: Path) -> None:
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    a, b = rig.submit(quantity=100), rig.submit(quantity=101)
    assert rig.engine.kill("operator saw a loop")
    assert not rig.engine.kill("again")  # already on: the first reason stays
    cancels = [c for c in rig.venue.sent if isinstance(c, CancelOrder)]
    assert sorted(c.client_order_id for c in cancels) == sorted([a.client_order_id, b.client_order_id])
    assert one(rig, quantity=102) == "kill_switch"
    reject = [e for e in rig.seen if isinstance(e, RiskRejected)][-1]
    assert reject.stage == "flow" and "operator saw a loop" in reject.reason
    rig.cancel(a.client_order_id)  # a strategy's own cancel still passes
    assert sum(isinstance(c, CancelOrder) for c in rig.venue.sent) == 3
    [event] = kills(rig)
    assert (event.engaged, event.source, event.cancelled_orders) == (True, "manual", 2)


def test_kill_switch_survives_a_restart_until_reset(tmp_path: Path) -> None:
    config = cfg(kill_switch=kill_cfg(tmp_path))
    first = Rig(config)
    first.engine.kill("runaway in the first session")
    state = json.loads((tmp_path / "kill.json").read_text())
    assert state["engaged"] is True and state["reason"] == "runaway in the first session"

    second = Rig(config)  # a restart: same state file
    assert [(k.engaged, k.source) for k in kills(second)] == [(True, "restored")]
    assert one(second) == "kill_switch"
    assert second.engine.reset_kill_switch("post-mortem done, limits lowered")
    assert one(second, quantity=101) is None

    third = Rig(config)
    assert kills(third) == [] and one(third) is None


def test_unreadable_state_file_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "kill.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"kill\.json.*unreadable"):
        Rig(cfg(kill_switch=kill_cfg(tmp_path)))


def test_signal_file_engages_at_the_next_check(tmp_path: Path) -> None:
    signal = tmp_path / "STOP"
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path, signal_file=str(signal), signal_check_ms=50)))
    t = rig.kernel.now
    assert one(rig, at=t) is None
    signal.touch()
    assert one(rig, quantity=101, at=t + 10 * MS) is None  # checked at most every 50 ms
    assert one(rig, quantity=102, at=t + 50 * MS) == "kill_switch"
    assert kills(rig)[0].source == "signal_file"
    rig.engine.reset_kill_switch("cleared")
    assert not signal.exists()


def test_signal_timer_engages_a_node_that_sends_nothing(tmp_path: Path) -> None:
    signal = tmp_path / "STOP"
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path, signal_file=str(signal), signal_check_ms=50)))
    signal.touch()
    rig.kernel.advance(rig.kernel.now + 100 * MS)
    assert [k.source for k in kills(rig)] == ["signal_file"]


def test_set_kill_switch_event(tmp_path: Path) -> None:
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    now = rig.kernel.now
    rig.kernel.run([SetKillSwitch(ts_event=now, ts_init=now, engaged=True, reason="desk call")])
    assert one(rig) == "kill_switch"
    rig.kernel.run([SetKillSwitch(ts_event=now, ts_init=now, engaged=False, reason="resume")])
    assert one(rig, quantity=101) is None
    assert [(k.engaged, k.source) for k in kills(rig)] == [(True, "manual"), (False, "reset")]


@pytest.mark.parametrize(("rejects", "tripped"), [(2, False), (3, False), (4, True)])
def test_repeated_rejects_trip(tmp_path: Path, rejects: int, tripped: bool) -> None:
    order = OrderChecks(max_quantity=100, max_notional_usd=None, collar_bps=None)
    rig = Rig(cfg(order=order, kill_switch=kill_cfg(tmp_path, max_rejects=3, reject_window_ms=1_000)))
    for i in range(rejects):
        one(rig, quantity=1_000 + i)
    assert bool(kills(rig)) is tripped
    if tripped:
        assert kills(rig)[0].rule == "repeated_rejects"


@pytest.mark.parametrize(("loss", "tripped"), [(9_999, False), (10_000, True), (10_001, True)])
def test_loss_trip(tmp_path: Path, loss: int, tripped: bool) -> None:
    portfolio = FakePortfolio()
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path, max_daily_loss_usd=10_000)), portfolio=portfolio)
    portfolio.cash -= loss * 10_000
    one(rig, side=Side.BUY)
    assert bool(kills(rig)) is tripped


def test_cli_kill_is_seen_by_the_next_start_and_reset_needs_a_reason(tmp_path: Path) -> None:
    state = str(tmp_path / "kill.json")
    runner = CliRunner()
    result = runner.invoke(app, ["kill", "--state", state, "--reason", "manual stop", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["engaged"] is True
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    assert kills(rig)[0].reason == "manual stop" and one(rig) == "kill_switch"
    assert runner.invoke(app, ["kill", "--state", state, "--reset"]).exit_code == 2
    assert runner.invoke(app, ["kill", "--state", state, "--reset", "-r", "ok"]).exit_code == 0
    assert one(Rig(cfg(kill_switch=kill_cfg(tmp_path)))) is None
    assert OFF_KILL.runaway_orders is None
