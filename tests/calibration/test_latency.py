"""Latency sensitivity: the measures on a hand-built tape where every figure is known, the monotonicity check, and
the study on the real AAPL day (subsampled; skips without data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.backtest.latency_study import (
    AGGRESSIVE_TOLERANCE_BPS,
    PASSIVE_TOLERANCE_BPS,
    SE_MULTIPLE,
    run_latency_study,
)
from tapeflow.calibration.latency import (
    Fill,
    LatencyStudy,
    MidTape,
    StudyStrategy,
    fill_quality,
    load_latency_study,
    non_improving,
    weighted_mean_se,
)
from tapeflow.model.enums import Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Quote

S = 1_000_000_000
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _tape(points: list[tuple[int, int, int]]) -> MidTape:
    tape = MidTape()
    for ts, bid, ask in points:
        tape.on_quote(
            Quote(ts_event=ts, ts_init=ts, symbol="X", bid_price=bid, bid_size=100, ask_price=ask, ask_size=100)
        )
    return tape


# Mid 100.00 until 1 s, then 100.01 (an informed buyer lifts the offer), then 100.02 at 20 s.
TAPE = [(0, 999_900, 1_000_100), (S, 1_000_000, 1_000_200), (20 * S, 1_000_100, 1_000_300)]


def _fill(ts: int, side: Side, price: int) -> Fill:
    return Fill(symbol="X", ts=ts, side=side, price=price, quantity=100, arrival_mid_x2=2_000_000)


def test_a_passive_sell_picked_off_before_the_jump_marks_out_negative_by_the_jump() -> None:
    tape = _tape(TAPE)
    # sold at the offer 100.01 just before the mid moved up by 1 cent (1 bp of 100.00): -1 bp at 1 s, -2 bp at 60 s
    q = fill_quality([_fill(S // 2, Side.SELL, 1_000_100)], tape, (1, 10, 60))
    assert q.slippage_bps == pytest.approx(-1.0)  # sold 1 bp above the arrival mid: a gain, negative cost
    assert q.markouts_bps["1s"] == pytest.approx(-1.0)
    assert q.markouts_bps["10s"] == pytest.approx(-1.0)
    assert q.markouts_bps["60s"] == pytest.approx(-2.0)


def test_a_slow_buyer_pays_more_and_marks_out_worse_than_a_fast_one_on_the_same_tape() -> None:
    tape = _tape(TAPE)
    fast = fill_quality([_fill(S // 2, Side.BUY, 1_000_100)], tape, (1,))  # before the jump: bought at 100.01
    slow = fill_quality([_fill(S + 1, Side.BUY, 1_000_200)], tape, (1,))  # after it: 100.02, the move already paid
    assert fast.slippage_bps == pytest.approx(1.0) and slow.slippage_bps == pytest.approx(2.0)
    assert fast.markouts_bps["1s"] == pytest.approx(1.0) and slow.markouts_bps["1s"] == pytest.approx(0.0)
    assert non_improving([fast.slippage_bps, slow.slippage_bps], tolerance=0.0, higher_is_better=False)
    assert non_improving([fast.markouts_bps["1s"], slow.markouts_bps["1s"]], tolerance=0.0, higher_is_better=True)


def test_a_fill_priced_on_its_own_quote_uses_the_mid_before_it() -> None:
    tape = _tape(TAPE)
    q = fill_quality([_fill(S, Side.BUY, 1_000_100)], tape, (1,))  # at the instant of the jump: from 100.00
    assert q.markouts_bps["1s"] == pytest.approx(1.0)


def test_fills_without_a_mid_are_not_measured() -> None:
    q = fill_quality([Fill(symbol="X", ts=5, side=Side.BUY, price=1, quantity=1, arrival_mid_x2=None)], MidTape(), (1,))
    assert q.fills == 1 and q.slippage_bps is None and q.markouts_bps == {"1s": None}


def test_non_improving_refuses_an_improvement_beyond_the_tolerance_and_accepts_one_within() -> None:
    assert not non_improving([1.0, 1.2], tolerance=0.1, higher_is_better=True)
    assert non_improving([1.0, 1.05, 0.9], tolerance=0.1, higher_is_better=True)
    assert not non_improving([2.0, 1.5], tolerance=0.1, higher_is_better=False)
    assert non_improving([2.0, None, 2.5], tolerance=0.0, higher_is_better=False)


def test_the_standard_error_of_a_share_weighted_mean_counts_each_fill_once_by_its_shares() -> None:
    # equal weights: the textbook s / sqrt(n); values 1, 2, 3, 4: mean 2.5, s^2 = 5/3, SE = sqrt(5/12)
    mean, se = weighted_mean_se([(100, 1.0), (100, 2.0), (100, 3.0), (100, 4.0)])
    assert mean == pytest.approx(2.5) and se == pytest.approx((5 / 12) ** 0.5)
    # 100 shares at +1 and 300 at -1: mean -0.5; SE^2 = 2/1 * (100^2 * 1.5^2 + 300^2 * 0.5^2) / 400^2 = 0.5625
    mean, se = weighted_mean_se([(100, 1.0), (300, -1.0)])
    assert mean == pytest.approx(-0.5) and se == pytest.approx(0.75)
    assert weighted_mean_se([(100, 1.0)]) == (1.0, None)  # one draw: no spread to measure
    assert weighted_mean_se([]) == (None, None)


# Mid 100.00 at each even second, 100.01 at each odd one: a buy half a second after an even second marks out +1 bp
# at 1 s (100.00 -> 100.01), one after an odd second -0.9999 bp (100.01 -> 100.00).
SAWTOOTH = [(k * S, 999_900 + (k % 2) * 100, 1_000_100 + (k % 2) * 100) for k in range(200)]
UP, DOWN = 1.0, -1e4 * 0.01 / 100.01


def _preset(ups: int, downs: int) -> list[Fill]:
    """``ups`` buys that mark out +1 bp and ``downs`` that mark out -0.9999 bp at 1 s, 100 shares each."""
    times = [2 * i for i in range(ups)] + [2 * (ups + i) + 1 for i in range(downs)]
    return [_fill(t * S + S // 2, Side.BUY, 1_000_100) for t in times]


def _step(near: list[Fill], far: list[Fill]) -> tuple[float, float, bool]:
    """(the far preset's improvement of the 1 s markout, 2 SE of the difference, whether the check holds)."""
    tape = _tape(SAWTOOTH)
    a, b = (fill_quality(f, tape, (1,)) for f in (near, far))
    va, vb, ea, eb = a.markouts_bps["1s"], b.markouts_bps["1s"], a.markouts_se_bps["1s"], b.markouts_se_bps["1s"]
    assert va is not None and vb is not None and ea is not None and eb is not None
    holds = non_improving(
        [va, vb], tolerance=PASSIVE_TOLERANCE_BPS, higher_is_better=True, ses=[ea, eb], se_multiple=SE_MULTIPLE
    )
    return vb - va, SE_MULTIPLE * (ea**2 + eb**2) ** 0.5, holds


def test_a_farther_preset_whose_markout_is_better_only_by_noise_passes_the_check() -> None:
    # near: 20 up, 20 down (mean ~0, SE ~0.16 bp); far: 22 up, 18 down (mean ~0.1, SE ~0.16): the 0.1 bp gain is a
    # draw of two fills, within 2 SE (~0.45), though twice the fixed floor of 0.05 that the check used to apply
    gain, two_se, holds = _step(_preset(20, 20), _preset(22, 18))
    assert gain == pytest.approx((22 * UP + 18 * DOWN) / 40 - (20 * UP + 20 * DOWN) / 40)
    assert PASSIVE_TOLERANCE_BPS < gain < two_se and holds
    assert not non_improving([0.0, gain], tolerance=PASSIVE_TOLERANCE_BPS, higher_is_better=True)  # the old check


def test_a_farther_preset_whose_markout_is_better_beyond_two_standard_errors_fails_the_check() -> None:
    # near: 20 up, 20 down; far: 30 up, 10 down (mean ~0.5 bp, SE ~0.14): a gain of ~0.5 bp beyond 2 SE (~0.42)
    gain, two_se, holds = _step(_preset(20, 20), _preset(30, 10))
    assert gain == pytest.approx((30 * UP + 10 * DOWN) / 40 - (20 * UP + 20 * DOWN) / 40)
    assert two_se == pytest.approx(2 * (1 / 39 + 0.01923) ** 0.5, rel=1e-2)
    assert gain > two_se and not holds
    # the same fills in the other order (the farther preset worse) hold whatever the noise
    assert _step(_preset(30, 10), _preset(20, 20))[2]


def test_the_fixed_floor_still_binds_where_the_standard_errors_are_tiny() -> None:
    # a gain of 0.06 bps with errors of 0.001: beyond the floor of 0.05, so it fails; 0.04 holds
    ses = [0.001, 0.001]
    assert not non_improving([0.0, 0.06], tolerance=0.05, higher_is_better=True, ses=ses, se_multiple=2.0)
    assert non_improving([0.0, 0.04], tolerance=0.05, higher_is_better=True, ses=ses, se_multiple=2.0)
    # a missing error leaves that step the floor alone; values and errors must pair up
    assert not non_improving([0.0, 0.06], tolerance=0.05, higher_is_better=True, ses=[None, 1.0], se_multiple=2.0)
    with pytest.raises(ValueError, match="standard errors"):
        non_improving([0.0, 0.06], tolerance=0.05, higher_is_better=True, ses=[1.0], se_multiple=2.0)


def test_a_study_without_strategies_or_with_a_repeated_location_is_refused() -> None:
    with pytest.raises(ConfigError, match="no strategies"):
        LatencyStudy(base="x.toml", strategies=())
    with pytest.raises(ConfigError, match="each once"):
        LatencyStudy(
            base="x.toml",
            strategies=(StudyStrategy(role="passive", name="imbalance_quoter"),),
            locations=("colo", "colo"),
        )


def test_a_missing_base_configuration_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[latency_study]\nbase = "nope.toml"\n[[latency_study.strategies]]\nrole = "passive"\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_latency_study(path)


def test_fill_quality_does_not_improve_with_latency_on_the_real_aapl_day(data_dir: Path) -> None:
    study, base = load_latency_study(EXAMPLES / "calibrate_latency.toml")
    # subsampled to stay fast: one window of the day's first 50,000 events (the documented run uses three)
    report = run_latency_study(LatencyStudy(base=study.base, strategies=study.strategies, windows=(50_000,)), base)
    assert [r.location for r in report.rows] == ["colo", "secaucus", "aurora", "san_jose"] * 2
    entries = [r.order_entry_us for r in report.rows[:4]]
    assert entries == sorted(entries) and entries[0] < 10 < 20_000 < entries[-1]
    passive, aggressive = report.checks
    assert passive.measure == "markout_1s_bps" and passive.tolerance == PASSIVE_TOLERANCE_BPS
    assert aggressive.measure == "slippage_bps" and aggressive.tolerance == AGGRESSIVE_TOLERANCE_BPS
    assert passive.se_multiple == aggressive.se_multiple == SE_MULTIPLE
    assert all(v is not None for v in passive.values + aggressive.values)
    assert all(e is not None and 0 < e < 1 for e in passive.ses + aggressive.ses)  # a tenth of a bp or so
    assert passive.holds, (passive.values, passive.ses)
    assert aggressive.holds, (aggressive.values, aggressive.ses)
    # each mean rests on enough fills to mean something: the colocated quoter, whose cancels arrive in time, fills
    # least (51 in this window since hidden prints reach the front of the queue on L3, 34 before; earlier still,
    # before the exchange took commands in order, its cancels overtook their inserts and it filled over 50)
    assert all(r.windows[0].fills >= 30 for r in report.rows)


def test_two_runs_of_a_window_give_identical_figures(data_dir: Path) -> None:
    study, base = load_latency_study(EXAMPLES / "calibrate_latency.toml")
    small = LatencyStudy(base=study.base, strategies=study.strategies[1:], locations=("aurora",), windows=(10_000,))
    first, second = run_latency_study(small, base), run_latency_study(small, base)
    assert first == second
    assert first.rows[0].windows[0].fills > 0
