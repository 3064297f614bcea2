"""The kill switch: by hand, by event, by signal file, by rule; cancels everything; survives a restart."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.model import CancelOrder, ConfigError, RiskRejected, Side
from tapeflow.model.risk_events import KillSwitchChanged, KillSwitchPersistFailed, SetKillSwitch
from tapeflow.risk.config import AccountChecks, KillSwitchConfig, OrderChecks
from tapeflow.risk.killswitch import INVALID, KillSwitchState, read_state
from tests.risk.helpers import MS, FakePortfolio, Rig
from tests.risk.test_rules import OFF_KILL, cfg, one

pytestmark = pytest.mark.usefixtures("risk_path")  # every test through both paths (conftest.py)


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


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "Input data was truncated"),
        (b"{not json", "JSON is malformed"),
        (b'{"version": 1, "engaged": false, "reason": "", "source": "", "ru', "truncated"),
        (b'{"version": 1, "engaged": "false", "reason": "", "source": "", "rule": "", "ts": 0}', "Expected `bool`"),
        (b'{"version": 2, "engaged": false, "reason": "", "source": "", "rule": "", "ts": 0}', "Invalid enum value 2"),
        (b'{"version": 1, "reason": "", "source": "", "rule": "", "ts": 0}', "missing required field `engaged`"),
        (b'{"engaged": false, "reason": "", "source": "", "rule": "", "ts": 0}', "missing required field `version`"),
        (b'{"version": 1, "engaged": false, "reason": "", "source": "", "rule": "", "ts": -1}', "Expected `int` >= 0"),
    ],
)
def test_invalid_state_file_starts_engaged_and_names_the_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    (tmp_path / "kill.json").write_bytes(content)
    with caplog.at_level(logging.ERROR, logger="tapeflow.risk.engine"):
        rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    [event] = kills(rig)
    assert (event.engaged, event.source) == (True, "restored")
    assert event.reason.startswith(f"kill switch state file {tmp_path / 'kill.json'} is not a valid state (")
    assert problem in event.reason and event.reason.endswith("engaged until reset on purpose")
    assert rig.engine.kill_switch.state.source == INVALID
    assert one(rig) == "kill_switch"
    assert [r.message for r in caplog.records] == [event.reason]


def test_invalid_state_file_is_replaced_by_a_deliberate_reset(tmp_path: Path) -> None:
    (tmp_path / "kill.json").write_bytes(b"\x00garbage")
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    assert rig.engine.reset_kill_switch("file checked, it was a disk error")
    assert one(rig) is None
    assert read_state(tmp_path / "kill.json").engaged is False


@pytest.mark.parametrize("where", ["directory", "under_a_file"])
def test_unwritable_state_path_refuses_the_start_in_one_line(tmp_path: Path, where: str) -> None:
    if where == "directory":
        state = tmp_path / "kill.json"
        state.mkdir()
        why = "it is a directory"
    else:
        (tmp_path / "plain").write_text("a file, not a directory")
        state = tmp_path / "plain" / "kill.json"
        why = "a parent of it is a file, not a directory"
    config = cfg(kill_switch=KillSwitchConfig(runaway_orders=None, max_rejects=None, state_file=str(state)))
    with pytest.raises(ConfigError) as info:
        Rig(config)
    assert str(info.value) == (
        f"{state}: field `risk.kill_switch.state_file`: the kill switch state cannot be written there ({why}); "
        "point it at a file in a writable directory"
    )
    assert read_state(state).engaged  # and a reader of that path would see it engaged, never off


def test_engage_cancels_first_and_a_failed_write_keeps_it_engaged_with_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The state file's place is taken by a directory after the start (as a disk going read-only would): the
    write fails, yet orders are refused, open ones are cancelled, and the failure is an event and an error log."""
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    resting = rig.submit(quantity=100)
    (tmp_path / "kill.json").mkdir()
    with caplog.at_level(logging.ERROR, logger="tapeflow.risk.engine"):
        assert rig.engine.kill("desk saw a loop")
    rig.kernel.advance(rig.kernel.now)
    [cancel] = [c for c in rig.venue.sent if isinstance(c, CancelOrder)]
    assert cancel.client_order_id == resting.client_order_id
    [failed] = [e for e in rig.seen if isinstance(e, KillSwitchPersistFailed)]
    assert (failed.path, failed.action, failed.engaged) == (str(tmp_path / "kill.json"), "engage", True)
    assert failed.error.startswith("Is a directory")
    [changed] = kills(rig)
    assert rig.seen.index(changed) < rig.seen.index(failed)  # recorded as engaged, then the alarm
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "kill switch state not written" in caplog.records[0].getMessage()
    assert "stays engaged" in caplog.records[0].getMessage()
    assert rig.engine.kill_switch.engaged and one(rig, quantity=101) == "kill_switch"
    assert rig.engine.stats()["kill_switch"]["persist_failures"] == 1


def test_engage_survives_any_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    rig.submit(quantity=100)

    def full_disk(path: object, state: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("tapeflow.risk.killswitch.write_state", full_disk)
    assert rig.engine.kill("runaway")
    rig.kernel.advance(rig.kernel.now)
    assert sum(isinstance(c, CancelOrder) for c in rig.venue.sent) == 1
    [failed] = [e for e in rig.seen if isinstance(e, KillSwitchPersistFailed)]
    assert failed.error == f"No space left on device: {tmp_path / 'kill.json'}"
    assert one(rig, quantity=101) == "kill_switch"


def test_a_reset_that_cannot_be_written_does_not_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path)))
    rig.engine.kill("stop")

    def read_only(path: object, state: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("tapeflow.risk.killswitch.write_state", read_only)
    assert not rig.engine.reset_kill_switch("resume")
    rig.kernel.advance(rig.kernel.now)
    [failed] = [e for e in rig.seen if isinstance(e, KillSwitchPersistFailed)]
    assert (failed.action, failed.engaged) == ("reset", True)
    assert one(rig) == "kill_switch"
    assert read_state(tmp_path / "kill.json").engaged  # the file still says engaged too


def test_cli_status_shows_an_invalid_state_as_engaged_and_engage_repairs_it(tmp_path: Path) -> None:
    state = tmp_path / "kill.json"
    state.write_text('{"engaged": false}')  # not a complete state: never read as off
    runner = CliRunner()
    result = runner.invoke(app, ["kill", "--state", str(state), "--status", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["engaged"], shown["source"]) == (True, INVALID)
    assert runner.invoke(app, ["kill", "--state", str(state), "-r", "desk"]).exit_code == 0
    assert read_state(state) == KillSwitchState(
        engaged=True, reason="desk", source="manual:cli", ts=read_state(state).ts
    )


def test_cli_kill_on_an_unwritable_path_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    state = tmp_path / "plain" / "kill.json"
    result = CliRunner().invoke(app, ["kill", "--state", str(state), "-r", "stop"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {state}: cannot write: a parent of it is a file, not a directory; "
        "pass a --state path in a writable directory\n"
    )


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


def counting(rig: Rig, method: str) -> list[int]:
    """The times ``rig.ctx.<method>`` is called from now on (it still answers as before)."""
    calls: list[int] = []
    original = getattr(rig.ctx, method)

    def counted() -> int:
        calls.append(rig.kernel.now)
        result: int = original()
        return result

    setattr(rig.ctx, method, counted)
    return calls


@pytest.mark.parametrize("fused", [True, False])
def test_the_loss_trip_takes_the_days_baseline_once_and_trips_on_a_later_pass(tmp_path: Path, fused: bool) -> None:
    """The fast path keeps the day's baseline with the day's bounds (issue 19, round 7): after the day's first
    pass a pass reads the equity alone, not ``daily_loss``; a loss reached later that day still trips the switch
    on the next pass, as rule by rule."""
    portfolio = FakePortfolio()
    rig = Rig(cfg(kill_switch=kill_cfg(tmp_path, max_daily_loss_usd=10_000)), portfolio=portfolio, fused=fused)
    calls = counting(rig, "daily_loss")
    for i in range(3):
        assert one(rig, quantity=100 + i, at=rig.kernel.now + MS) is None
    assert not kills(rig)
    assert len(calls) == (1 if fused else 3)
    portfolio.cash -= 10_000 * 10_000
    assert one(rig, quantity=200, at=rig.kernel.now + MS) is None  # the order passes; the trip sees the loss after
    assert [(k.rule, k.reason) for k in kills(rig)] == [
        ("daily_loss_kill", "today's loss $10000.00 reached the kill limit of $10000.00")
    ]
    assert one(rig, quantity=300, at=rig.kernel.now + MS) == "kill_switch"


@pytest.mark.parametrize("fused", [True, False])
def test_the_loss_trip_reads_the_account_after_execution_without_calling_the_contexts_equity(
    tmp_path: Path, fused: bool
) -> None:
    """A venue that fills in the call moves the account while the order is executed: the loss trip sees the
    account after it on the same pass, as rule by rule, not the equity the check read before it (the floor rule),
    and the fast path reads it without ``ctx.equity()``'s calls (issue 19, round 11)."""
    portfolio = FakePortfolio(positions={"AAPL": 10})
    floor = AccountChecks(max_position=None, initial_margin_bps=None, min_net_liquidation_usd=1)  # reads equity
    kill = kill_cfg(tmp_path, max_daily_loss_usd=10_000)
    rig = Rig(cfg(account=floor, kill_switch=kill), portfolio=portfolio, fused=fused)
    equity_calls = counting(rig, "equity")
    assert one(rig, quantity=100, at=rig.kernel.now + MS) is None
    assert not kills(rig)
    send = rig.venue.send

    def fill_at_a_loss(command: object) -> None:  # the fill's loss lands while the order is being executed
        send(command)
        portfolio.cash -= 9_999 * 10_000  # and $1 on the 10 shares held: the net must be read again too
        portfolio.mark -= 1_000
        rig.ctx.moved.append(command)

    rig.venue.send = fill_at_a_loss  # type: ignore[method-assign]
    before = len(equity_calls)
    assert one(rig, quantity=200, at=rig.kernel.now + MS) is None
    assert [(k.rule, k.reason) for k in kills(rig)] == [
        ("daily_loss_kill", "today's loss $10000.00 reached the kill limit of $10000.00")
    ]
    assert (len(equity_calls) == before) is fused  # rule by rule, daily_loss reads it


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
