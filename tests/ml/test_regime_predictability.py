"""On the regime-switching synthetic market the feature recorder's features predict the forward mid return, and
the relation flips between regimes: a ridge fitted in a momentum regime beats chance out of sample there and is
wrong more often than not in the reversal regime that follows, where a ridge refitted on that regime's own past
beats chance again. This is the offline proof that retraining on the last window is worth something on this
market (the demo's retrained-against-frozen comparison rests on it).

Seeded and deterministic: the bounds below were chosen from the measured values (in each assertion's comment)
with a margin, not tuned to pass; every train and test set is separated by a full label horizon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from tapeflow.config import RegimeConfig, SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.data.synthetic_regime import regime_at
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.features import FEATURES, FeatureRecorder, RecorderConfig
from tapeflow.ml.models import Model, make_model

SEC = 1_000_000_000
MS = 1_000_000
PERIOD_S = 180
HORIZON = 2 * SEC
REGIME = RegimeConfig(period_s=PERIOD_S, strength=1.0, cycle=("momentum", "reversal"), vol=(1.0,), memory_s=5.0)
MARKET = SyntheticConfig(symbols=("AAA", "BBB"), seed=1, events_per_symbol=290_000, regime=REGIME)
IMBALANCE = FEATURES.index("imbalance")
MARKET_FEATURES = [i for i, name in enumerate(FEATURES) if name != "time_of_day"]
"""The book and tape features. Time of day says nothing here (regimes follow event time, not the clock) and, beside
an intercept, lets a ridge fitted on 100 s extrapolate that window's drift: with it the frozen model's hit rate in
the reversal regime measured 0.42 instead of 0.35 and the refitted one's 0.66 either way (seed 1)."""


@dataclass(frozen=True)
class Recorded:
    seconds: npt.NDArray[np.float64]
    """Sample times in seconds since the market opened."""
    X: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]

    def between(self, start_s: float, end_s: float) -> npt.NDArray[np.bool_]:
        """Samples taken in [start, end) whose label also ended by ``end``: sets cut this way share no horizon."""
        return (self.seconds >= start_s) & (self.seconds + HORIZON / SEC <= end_s)


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    recorder = FeatureRecorder(
        RecorderConfig(interval_ns=250 * MS, horizon_ns=HORIZON, window_ns=4 * PERIOD_S * SEC, capacity=10_000)
    )
    kernel = Kernel()
    kernel.add(recorder)
    kernel.start(at=MARKET.start_ns)
    kernel.run(merge_sorted(SyntheticMarket(MARKET).sources()))
    kernel.stop()
    everything = recorder.training_set(kernel.now - kernel.now % SEC)
    seconds = (everything.sample_times - MARKET.start_ns) / SEC
    assert seconds.max() > 2 * PERIOD_S, "the market must cover both regimes"
    assert regime_at(REGIME, MARKET.start_ns, MARKET.start_ns).kind == "momentum"
    assert regime_at(REGIME, MARKET.start_ns, MARKET.start_ns + PERIOD_S * SEC).kind == "reversal"
    return Recorded(seconds, everything.X, everything.y)


def fitted(data: Recorded, mask: npt.NDArray[np.bool_]) -> Model:
    model = make_model("ridge", {"alpha": 1.0})
    model.fit(data.X[mask][:, MARKET_FEATURES], data.y[mask])
    return model


def hit_rate(model: Model, data: Recorded, mask: npt.NDArray[np.bool_]) -> float:
    """Share of samples with a non-zero forward return whose sign the model predicted."""
    moved = mask & (data.y != 0)
    predicted = np.array([model.predict(x) for x in data.X[moved][:, MARKET_FEATURES]])
    assert moved.sum() > 300
    return float(np.mean(np.sign(predicted) == np.sign(data.y[moved])))


MOMENTUM_TRAIN = (10.0, 110.0)
MOMENTUM_TEST = (110.0, 180.0)
REVERSAL = (180.0, 360.0)
REVERSAL_TRAIN = (190.0, 290.0)
REVERSAL_TEST = (290.0, 360.0)


def test_the_touch_imbalance_predicts_the_forward_return_with_the_sign_of_the_regime(recorded: Recorded) -> None:
    def correlation(span: tuple[float, float]) -> float:
        mask = recorded.between(*span)
        return float(np.corrcoef(recorded.X[mask, IMBALANCE], recorded.y[mask])[0, 1])

    assert correlation((0.0, 180.0)) > 0.25  # measured +0.36
    assert correlation(REVERSAL) < -0.25  # measured -0.35


def test_a_ridge_fitted_in_the_momentum_regime_beats_chance_there_and_fails_in_the_reversal_regime(
    recorded: Recorded,
) -> None:
    frozen = fitted(recorded, recorded.between(*MOMENTUM_TRAIN))
    assert hit_rate(frozen, recorded, recorded.between(*MOMENTUM_TEST)) > 0.6  # measured 0.66
    assert hit_rate(frozen, recorded, recorded.between(*REVERSAL)) < 0.42  # measured 0.35


def test_a_ridge_refitted_on_the_reversal_regimes_own_past_beats_chance_again(recorded: Recorded) -> None:
    retrained = fitted(recorded, recorded.between(*REVERSAL_TRAIN))
    assert hit_rate(retrained, recorded, recorded.between(*REVERSAL_TEST)) > 0.6  # measured 0.66
