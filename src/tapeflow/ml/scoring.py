"""Score each prediction against what happened: the realized forward mid return over the model's horizon.

A ``Prediction`` at t says where the mid goes by t + H (H: the recorder's label horizon). At exactly t + H (a
kernel call, like the label itself: never earlier) the scorer takes the mid then in force and compares signs. A
realized return of zero is not counted (a mid that did not move says nothing about direction: on a wide-tick
stock most horizons end flat, and counting them would drag every model towards a hit rate of zero); neither is a
prediction of exactly zero, nor one whose horizon ends on a one-sided quote.

The figures are what the retrained-versus-frozen comparison prints: hit rate, how many predictions were scored,
and the mean realized move (bps) when the model said up and when it said down. They are computed from the same
doubled mids the labels use (``ml.labels.forward_return``), so a score and a training label agree exactly.
"""

from __future__ import annotations

import msgspec

from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder
from tapeflow.ml.labels import forward_return
from tapeflow.model.events import ModelUpdated, Prediction

BPS = 10_000.0


class Score(msgspec.Struct, frozen=True, kw_only=True):
    """What a run's predictions were worth (``hit_rate`` None when nothing could be scored)."""

    hit_rate: float | None
    predictions: int
    """Predictions scored: a non-zero prediction whose horizon ended with the mid moved."""
    hits: int
    flat: int
    """Horizons that ended with the mid where it started (not scored)."""
    unscored: int
    """Predictions whose horizon ended on a one-sided quote, or that predicted exactly zero."""
    mean_bps_long: float | None
    """Mean realized move (bps) after an upward prediction (scored or flat)."""
    mean_bps_short: float | None
    """Mean realized move (bps) after a downward prediction: negative when the model is right on average."""
    updates: int
    """``ModelUpdated`` events seen (this scorer's model)."""


class PredictionScorer:
    """Kernel component; add it with the predictor (``MlParts.components`` does). ``model_id`` None: any model."""

    def __init__(self, recorder: FeatureRecorder, model_id: str | None = None) -> None:
        self.recorder = recorder
        self.model_id = model_id
        self.horizon_ns = recorder.config.horizon_ns
        self._kernel: Kernel | None = None
        self.hits = 0
        self.scored = 0
        self.flat = 0
        self.unscored = 0
        self._long = [0.0, 0]
        self._short = [0.0, 0]
        self.models: list[ModelUpdated] = []
        """Every ``ModelUpdated`` of the model, in dispatch order (the run report lists their versions and hashes)."""

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(Prediction, self._on_prediction)
        kernel.subscribe(ModelUpdated, self._on_model_updated)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _on_model_updated(self, event: ModelUpdated) -> None:
        if self.model_id is None or event.model_id == self.model_id:
            self.models.append(event)

    def _on_prediction(self, p: Prediction) -> None:
        if self.model_id is not None and p.model_id != self.model_id:
            return
        mid2 = self.recorder.mid2(p.symbol)
        kernel = self._kernel
        if mid2 is None or p.value == 0.0 or kernel is None:
            self.unscored += 1
            return
        kernel.call_at(p.ts_init + self.horizon_ns, self._mature, (p.symbol, p.value, mid2))

    def _mature(self, arg: tuple[str, float, int]) -> None:
        symbol, predicted, mid2 = arg
        end = self.recorder.mid2(symbol)
        if end is None:
            self.unscored += 1
            return
        realized = forward_return(mid2, end)
        side = self._long if predicted > 0 else self._short
        side[0] += realized * BPS
        side[1] += 1
        if realized == 0.0:
            self.flat += 1
            return
        self.scored += 1
        if (realized > 0) == (predicted > 0):
            self.hits += 1

    def score(self) -> Score:
        long_sum, long_n = self._long
        short_sum, short_n = self._short
        return Score(
            hit_rate=self.hits / self.scored if self.scored else None,
            predictions=self.scored,
            hits=self.hits,
            flat=self.flat,
            unscored=self.unscored,
            mean_bps_long=long_sum / long_n if long_n else None,
            mean_bps_short=short_sum / short_n if short_n else None,
            updates=len(self.models),
        )
