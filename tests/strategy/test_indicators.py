"""Indicators against references: backtrader's own indicators and numpy over real NVDA daily bars, then properties.

backtrader reads a CSV written from the very integers tapeflow reads (4 decimals), so both sides see identical
inputs and any difference is float arithmetic: SMA, EMA and ATR must agree within 1e-9 relative, RSI within 1e-9
points. VWAP has no backtrader indicator; numpy's cumulative sums over the same bars are the reference.
"""

from __future__ import annotations

import datetime
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.bars import read_bars
from tapeflow.model import Bar
from tapeflow.strategy.indicators import ATR, EMA, RSI, SMA, VWAP

bt = pytest.importorskip("backtrader", reason="backtrader is not installed (pip install -e '.[dev]')")

REL = 1e-9
SETTINGS = settings(max_examples=150, deadline=None)
prices = st.integers(min_value=1, max_value=10_000_000)  # $0.0001 to $1,000
periods = st.integers(min_value=1, max_value=30)


@pytest.fixture(scope="module")
def nvda(data_dir: Path) -> list[Bar]:
    bars = [e for e in read_bars(data_dir / "backtrader-yahoo-daily" / "nvda-1999-2014.txt.gz") if isinstance(e, Bar)]
    assert len(bars) > 3_000
    return bars


@pytest.fixture(scope="module")
def reference(nvda: list[Bar], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[float]]:
    """backtrader's SMA(20), EMA(20), ATR(14), RSI(14) over the bars, in dollars (NaN during warm-up)."""
    csv = tmp_path_factory.mktemp("bt") / "nvda.csv"
    lines = ["Date,Open,High,Low,Close,Volume"]
    for b in nvda:
        day = datetime.datetime.fromtimestamp(b.ts_event // 10**9, datetime.UTC).date()
        lines.append(f"{day},{b.open / 1e4:.4f},{b.high / 1e4:.4f},{b.low / 1e4:.4f},{b.close / 1e4:.4f},{b.volume}")
    csv.write_text("\n".join(lines) + "\n")

    class Probe(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.sma = bt.ind.SMA(period=20)
            self.ema = bt.ind.EMA(period=20)
            self.atr = bt.ind.ATR(period=14)
            self.rsi = bt.ind.RSI(period=14)

    cerebro = bt.Cerebro(stdstats=False)
    feed = bt.feeds.GenericCSVData(
        dataname=str(csv), dtformat="%Y-%m-%d", datetime=0, open=1, high=2, low=3, close=4, volume=5, openinterest=-1
    )
    cerebro.adddata(feed)
    cerebro.addstrategy(Probe)
    probe = cerebro.run()[0]
    out = {name: list(getattr(probe, name).array) for name in ("sma", "ema", "atr", "rsi")}
    assert all(len(v) == len(nvda) for v in out.values())
    return out


def _ours(nvda: list[Bar]) -> dict[str, list[float]]:
    sma, ema, atr, rsi = SMA(20), EMA(20), ATR(14), RSI(14)
    out: dict[str, list[float]] = {"sma": [], "ema": [], "atr": [], "rsi": []}
    for b in nvda:
        sma.update(b.close)
        ema.update(b.close)
        atr.update_bar(b)
        rsi.update(b.close)
        out["sma"].append(float(sma.value) / 1e4 if sma.ready else math.nan)
        out["ema"].append(ema.value / 1e4 if ema.ready else math.nan)
        out["atr"].append(atr.value / 1e4 if atr.ready else math.nan)
        out["rsi"].append(rsi.value if rsi.ready else math.nan)
    return out


@pytest.mark.parametrize(("name", "first"), [("sma", 19), ("ema", 19), ("atr", 14), ("rsi", 14)])
def test_indicator_matches_backtrader_on_nvda_daily_bars_including_warm_up(
    nvda: list[Bar], reference: dict[str, list[float]], name: str, first: int
) -> None:
    ours, theirs = np.array(_ours(nvda)[name]), np.array(reference[name])
    assert np.isnan(ours[:first]).all() and np.isnan(theirs[:first]).all()  # same warm-up
    assert not np.isnan(ours[first:]).any() and not np.isnan(theirs[first:]).any()
    if name == "rsi":
        np.testing.assert_allclose(ours[first:], theirs[first:], rtol=0, atol=1e-9)
    else:
        np.testing.assert_allclose(ours[first:], theirs[first:], rtol=REL, atol=0)


def test_vwap_matches_numpy_cumulative_and_rolling_sums_on_nvda(nvda: list[Bar]) -> None:
    high, low, close, volume = (
        np.array([getattr(b, f) for b in nvda], dtype=np.float64) for f in ["high", "low", "close", "volume"]
    )
    typical_volume = (high + low + close) / 3 * volume
    cumulative = np.cumsum(typical_volume) / np.cumsum(volume)
    window = 20
    rolling = np.convolve(typical_volume, np.ones(window), "valid") / np.convolve(volume, np.ones(window), "valid")
    session, moving = VWAP(), VWAP(window)
    ours_cumulative, ours_rolling = [], []
    for b in nvda:
        session.update_bar(b)
        moving.update_bar(b)
        ours_cumulative.append(float(session.value))
        if moving.ready:
            ours_rolling.append(float(moving.value))
    assert len(ours_rolling) == len(rolling)
    np.testing.assert_allclose(ours_cumulative, cumulative, rtol=REL)
    np.testing.assert_allclose(ours_rolling, rolling, rtol=REL)


# -- properties ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(period=periods, price=prices, extra=st.integers(min_value=0, max_value=40))
def test_sma_and_ema_of_a_constant_are_the_constant(period: int, price: int, extra: int) -> None:
    sma, ema = SMA(period), EMA(period)
    for _ in range(period + extra):
        sma.update(price)
        ema.update(price)
    assert sma.value == price
    assert ema.value == pytest.approx(price, rel=1e-12)


@SETTINGS
@given(period=periods, closes=st.lists(prices, min_size=1, max_size=80))
def test_sma_equals_the_exact_batch_mean_over_every_prefix(period: int, closes: list[int]) -> None:
    sma = SMA(period)
    for i, close in enumerate(closes, start=1):
        sma.update(close)
        assert sma.ready == (i >= period)
        if sma.ready:
            assert sma.value == Fraction(sum(closes[i - period : i]), period)


@SETTINGS
@given(period=periods, closes=st.lists(prices, min_size=1, max_size=80))
def test_ema_equals_the_closed_form_weighted_sum_over_every_prefix(period: int, closes: list[int]) -> None:
    ema = EMA(period)
    alpha = Fraction(2, period + 1)
    for i, close in enumerate(closes, start=1):
        ema.update(close)
        if i < period:
            assert not ema.ready
            continue
        seed = Fraction(sum(closes[:period]), period)  # exact batch: seed weighted by (1-a)^k plus each later input
        later = closes[period:i]
        exact = seed * (1 - alpha) ** len(later) + sum(
            alpha * (1 - alpha) ** (len(later) - 1 - j) * x for j, x in enumerate(later)
        )
        assert ema.value == pytest.approx(float(exact), rel=1e-9)


def _bars(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Any three prices as a valid (high, low, close): the largest, the smallest, and the one between."""
    return [(hi, lo, mid) for lo, mid, hi in (sorted(row) for row in rows)]


rows = st.lists(st.tuples(prices, prices, prices), min_size=1, max_size=60)


@SETTINGS
@given(period=periods, data=rows)
def test_atr_is_non_negative_and_equals_the_batch_wilder_average_over_every_prefix(
    period: int, data: list[tuple[int, int, int]]
) -> None:
    bars = _bars(data)
    atr = ATR(period)
    for i, (high, low, close) in enumerate(bars, start=1):
        atr.update(high, low, close)
        assert atr.ready == (i >= period + 1)
        if not atr.ready:
            continue
        ranges = [max(h, bars[k - 1][2]) - min(lo, bars[k - 1][2]) for k, (h, lo, _) in enumerate(bars[:i]) if k]
        batch = Fraction(sum(ranges[:period]), period)
        for tr in ranges[period:]:
            batch = (batch * (period - 1) + tr) / period
        assert atr.value >= 0
        assert atr.value == pytest.approx(float(batch), rel=1e-9)


@SETTINGS
@given(period=periods, closes=st.lists(prices, min_size=1, max_size=80))
def test_rsi_stays_within_0_and_100_and_equals_the_batch_computation(period: int, closes: list[int]) -> None:
    rsi = RSI(period)
    for i, close in enumerate(closes, start=1):
        rsi.update(close)
        assert rsi.ready == (i >= period + 1)
        if not rsi.ready:
            continue
        changes = np.diff(np.array(closes[:i], dtype=np.float64))
        up, down = np.maximum(changes, 0), np.maximum(-changes, 0)
        avg_up, avg_down = up[:period].mean(), down[:period].mean()
        for u, d in zip(up[period:], down[period:], strict=True):
            avg_up = (avg_up * (period - 1) + u) / period
            avg_down = (avg_down * (period - 1) + d) / period
        expected = (50.0 if avg_up == 0 else 100.0) if avg_down == 0 else 100 - 100 / (1 + avg_up / avg_down)
        assert 0.0 <= rsi.value <= 100.0
        assert rsi.value == pytest.approx(expected, rel=1e-9, abs=1e-9)


@SETTINGS
@given(
    period=st.none() | periods,
    trades=st.lists(st.tuples(prices, st.integers(min_value=0, max_value=10**9)), min_size=1, max_size=60),
)
def test_vwap_equals_the_exact_batch_over_every_prefix(period: int | None, trades: list[tuple[int, int]]) -> None:
    vwap = VWAP(period)
    for i, (price, volume) in enumerate(trades, start=1):
        vwap.update(price, volume)
        window = trades[:i] if period is None else trades[max(0, i - period) : i]
        total = sum(v for _, v in window)
        assert vwap.ready == (total > 0 and (period is None or i >= period))
        if vwap.ready:
            assert vwap.value == Fraction(sum(p * v for p, v in window), total)
            assert min(p for p, v in window if v) <= vwap.value <= max(p for p, v in window if v)


# -- edges --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator", "message"),
    [
        (SMA(3), "SMA(3) is warming up: 3 more input(s) before it has a value; check .ready first"),
        (EMA(5), "EMA(5) is warming up: 5 more input(s) before it has a value; check .ready first"),
        (ATR(14), "ATR(14) is warming up: 15 more input(s) before it has a value; check .ready first"),
        (RSI(14), "RSI(14) is warming up: 15 more input(s) before it has a value; check .ready first"),
        (VWAP(4), "VWAP(4) is warming up: 4 more input(s) before it has a value; check .ready first"),
        (VWAP(), "VWAP has no volume yet; check .ready first"),
    ],
)
def test_reading_a_value_before_warm_up_raises_saying_how_many_inputs_are_missing(
    indicator: SMA | EMA | ATR | RSI | VWAP, message: str
) -> None:
    assert not indicator.ready
    with pytest.raises(RuntimeError) as info:
        _ = indicator.value
    assert str(info.value) == message


@pytest.mark.parametrize("cls", [SMA, EMA, ATR, RSI, VWAP])
@pytest.mark.parametrize("period", [0, -1, 2.5, True])
def test_a_period_that_is_not_a_whole_number_from_1_is_refused(cls: type, period: object) -> None:
    with pytest.raises(ValueError, match=r"period must be a whole number >= 1, got "):
        cls(period)


def test_rsi_reads_100_with_only_gains_and_50_without_any_move() -> None:
    rising, flat = RSI(3), RSI(3)
    for close in (10, 11, 12, 13):
        rising.update(close)
        flat.update(10)
    assert rising.value == 100.0
    assert flat.value == 50.0


def test_vwap_reset_starts_a_new_session_and_refuses_negative_volume() -> None:
    vwap = VWAP()
    vwap.update(100, 10)
    vwap.reset()
    assert not vwap.ready
    vwap.update(200, 5)
    assert vwap.value == 200
    with pytest.raises(ValueError, match="VWAP volume must be >= 0, got -1"):
        vwap.update(200, -1)
