"""Fuzz: the kill switch halts whenever its state is in doubt, and cancels open orders even when it cannot persist.

- Hypothesis takes a valid state file and corrupts it (truncation, byte flips, a field removed, a field of the
  wrong type, another version, an extra field). The reader must never say "off" unless the damaged bytes still
  are a complete, valid state that says off, judged by an independent check written with the standard ``json``
  module; a corrupted *engaged* state must always read as engaged.
- Hypothesis draws unwritable state paths (a directory in the file's place, a file where a directory must be,
  and a disk that refuses the write): building the switch is a one-line ``ConfigError`` naming the path and the
  field, or the switch is engaged; never a switch that starts off and fails later.
- A backtest on real LOBSTER data (AAPL, 2012-06-21) with a resting order: the state file's place is taken by a
  directory after the start, the switch is engaged mid-run, and the resting order is cancelled all the same.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.data.lobster_events import iter_events
from tapeflow.model import ConfigError, Event, OrderCancelled, RiskRejected
from tapeflow.model.risk_events import KillSwitchChanged, KillSwitchPersistFailed, SetKillSwitch
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import KillSwitchConfig, RiskConfig
from tapeflow.risk.killswitch import INVALID, KillSwitch, KillSwitchState, encode_state, read_state
from tapeflow.strategy.base import Strategy

FIELDS = ("version", "engaged", "reason", "source", "rule", "ts")
TYPES: dict[str, type] = {"version": int, "engaged": bool, "reason": str, "source": str, "rule": str, "ts": int}

states = st.builds(
    KillSwitchState,
    engaged=st.booleans(),
    reason=st.text(max_size=40),
    source=st.sampled_from(["manual", "rule", "signal_file", "reset", "manual:cli"]),
    rule=st.sampled_from(["", "runaway", "repeated_rejects"]),
    ts=st.integers(0, 2**63 - 1),
)
wrong_values = st.sampled_from(["x", "", 1, 0, -1, 1.5, 1.0, None, [], {}, True, False])
corruptions = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1)),
    st.tuples(st.just("remove"), st.sampled_from(FIELDS)),
    st.tuples(st.just("retype"), st.sampled_from(FIELDS), wrong_values),
    st.tuples(st.just("version"), st.one_of(st.integers(-5, 5), st.integers(2, 2**40)).filter(lambda v: v != 1)),
    st.tuples(st.just("extra"), st.sampled_from(["checksum", "engaged_", "Engaged"])),
)


def corrupt(data: bytes, how: tuple[Any, ...]) -> bytes:
    kind = how[0]
    if kind == "truncate":
        return data[: int(how[1] * len(data))]
    if kind == "flip":
        out = bytearray(data)
        for where, mask in how[1]:
            out[int(where * len(out))] ^= mask
        return bytes(out)
    obj = json.loads(data)
    if kind == "remove":
        del obj[how[1]]
    elif kind == "retype":
        obj[how[1]] = how[2]
    elif kind == "version":
        obj["version"] = how[1]
    else:
        obj[how[1]] = False
    return json.dumps(obj).encode()


def judge(data: bytes) -> KillSwitchState | None:
    """The independent judge: the state when ``data`` is a complete version-1 state, every field of its type."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(obj, dict) or set(obj) != set(FIELDS):
        return None
    for name, kind in TYPES.items():
        value = obj[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return None
    if obj.pop("version") != 1 or obj["ts"] < 0:
        return None
    return KillSwitchState(**obj)


@settings(max_examples=400, deadline=None)
@given(state=states, how=corruptions)
def test_a_corrupted_state_file_never_reads_as_off(state: KillSwitchState, how: tuple[Any, ...]) -> None:
    damaged = corrupt(encode_state(state), how)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kill.json"
        path.write_bytes(damaged)
        read = read_state(path)
        switch = KillSwitch(path)
    assert switch.engaged is read.engaged and switch.restored is read.engaged
    expected = judge(damaged)
    if expected is None:  # not a valid, complete state: engaged, and says why
        assert (read.engaged, read.source) == (True, INVALID)
        assert read.reason.startswith(f"kill switch state file {path} is not a valid state (")
    else:  # still a valid state (a flip inside a text, a field given another value of its type): read as it is
        assert read == expected
    if state.engaged and how[0] in ("truncate", "flip", "remove", "version", "extra"):
        assert read.engaged  # damage never turns an engaged switch off


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["directory", "under_a_file", "refused"]),
    depth=st.integers(0, 2),
    error=st.sampled_from([errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EIO]),
    existing=st.one_of(st.none(), states),
)
def test_an_unwritable_state_path_halts(kind: str, depth: int, error: int, existing: KillSwitchState | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if kind == "directory":
            path = root / "kill.json"
            path.mkdir()
        elif kind == "under_a_file":
            (root / "plain").write_text("not a directory")
            path = root.joinpath("plain", *(["sub"] * depth), "kill.json")
        else:
            path = root / "kill.json"
            if existing is not None:
                path.write_bytes(encode_state(existing))
        refusal = OSError(error, "refused by the disk")
        with (
            mock.patch("tempfile.mkstemp", side_effect=refusal) if kind == "refused" else contextlib.nullcontext(),
            pytest.raises(ConfigError) as info,
        ):
            KillSwitch(path)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"{path}: field `risk.kill_switch.state_file`: the kill switch state cannot be")
        if kind != "refused":
            assert read_state(path).engaged  # a reader of that path sees it engaged, never off


class RestingThenKill(Strategy):
    """One resting buy well under the bid on the first two-sided book; the desk engages the switch later."""

    def __init__(self, kill_after: int) -> None:
        super().__init__("rester")
        self.kill_after = kill_after
        self.updates = 0
        self.resting: str | None = None
        self.refused: list[RiskRejected] = []

    def on_book(self, event: Event) -> None:
        book = self.book(event.symbol)
        if book is None or not book.best_bid or not book.best_ask:
            return
        self.updates += 1
        if self.resting is None:
            self.resting = self.buy(event.symbol, 100, book.best_bid - 20_000)  # $2.00 under the bid: it rests
        elif self.updates == self.kill_after:
            now = self.now
            self.ctx.kernel.emit(SetKillSwitch(ts_event=now, ts_init=now, engaged=True, reason="desk stop"))
        elif self.updates == self.kill_after + 10:
            self.buy(event.symbol, 100, book.best_bid - 20_000)  # after the switch: refused

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.refused.append(event)


def test_the_engaged_switch_cancels_a_resting_order_when_the_state_cannot_be_written(
    data_dir: Path, tmp_path: Path
) -> None:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    state = tmp_path / "kill.json"
    config = RiskConfig(kill_switch=KillSwitchConfig(state_file=str(state), runaway_orders=None, max_rejects=None))
    strategy = RestingThenKill(kill_after=500)
    bt = Backtest([strategy], level="L3", risk=config, portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000))
    state.mkdir()  # after the start-up check: the write at the trip fails (as on a disk gone read-only)
    seen: list[Event] = []
    for kind in (KillSwitchChanged, KillSwitchPersistFailed, OrderCancelled):
        bt.kernel.subscribe(kind, seen.append)
    bt.run([itertools.islice(iter_events(path), 3_000)])

    assert strategy.resting is not None and strategy.updates > 510  # the order rested and the run went on
    [changed] = [e for e in seen if isinstance(e, KillSwitchChanged)]
    assert (changed.engaged, changed.source, changed.cancelled_orders) == (True, "manual", 1)
    [cancelled] = [e for e in seen if isinstance(e, OrderCancelled)]
    assert cancelled.client_order_id == strategy.resting
    [failed] = [e for e in seen if isinstance(e, KillSwitchPersistFailed)]
    assert (failed.path, failed.action, failed.engaged) == (str(state), "engage", True)
    assert list(bt.execution.open_orders()) == []
    assert [r.rule for r in strategy.refused] == ["kill_switch"]
    assert bt.stats()["risk_kill_switch"]["engaged"] is True
    assert bt.stats()["risk_kill_switch"]["persist_failures"] == 1
