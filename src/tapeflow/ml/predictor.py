"""The predictor: after each feature sample, the model in force predicts every sampled symbol and says so with a
``Prediction`` event, so a strategy trades on an event like any other and never calls a model itself.

Why an event rather than a call from the strategy: the prediction then names the model (id, version, content
hash) on the queue and in the audit trail, every strategy sees the same number, and the model in force is the one
the last dispatched ``ModelUpdated`` announced (``Retrainer.model``), never one still in training. Before the
first model there is nothing to predict with, and nothing is emitted.

The predictor runs right after the recorder's sample (``FeatureRecorder.after_sample``), on the vector just
taken: it sees only what the sample saw, the state before any event at that instant. So a model taking effect at
a sample's instant (its ``ModelUpdated`` was queued then, and is dispatched after the sample timer fired) is used
from the next sample on; each ``Prediction`` names the model it really came from, whatever was dispatched since.
"""

from __future__ import annotations

import math

from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FEATURES, FeatureRecorder
from tapeflow.ml.models import Model
from tapeflow.ml.online import OnlineLearner
from tapeflow.ml.retrain import Retrainer
from tapeflow.model.errors import DataError
from tapeflow.model.events import ModelUpdated, Prediction


class Predictor:
    """Kernel component; add it after the recorder and the retrainer (``MlParts.components`` does).

    ``with_features`` carries the feature vector in each ``Prediction`` (a few floats per symbol per sample, what
    the audit trail then shows as the decision's input); off, predictions carry only the value."""

    def __init__(
        self,
        recorder: FeatureRecorder,
        retrainer: Retrainer,
        *,
        with_features: bool = True,
        online: OnlineLearner | None = None,
    ) -> None:
        self.recorder = recorder
        self.online = online
        """Counts what the model learned since it took effect (each Prediction says how many)."""
        self._model: Model | None = None
        self.retrainer = retrainer
        self.model_id = retrainer.spec.model_id
        self.with_features = with_features
        self._kernel: Kernel | None = None
        self._version = 0
        self._hash = ""
        self.predictions = 0
        self.errors = 0
        """Predictions the model refused (a non-finite output or an exception): counted, never emitted."""
        recorder.after_sample.append(self._after_sample)

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(ModelUpdated, self._on_model_updated)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    # -- the model in force -------------------------------------------------------------------------------------

    def _on_model_updated(self, event: ModelUpdated) -> None:
        """Runs after the retrainer's handler: the version is adopted only if its model really took effect (bytes
        refused by the retrainer leave the old model, and its version, in force)."""
        if event.model_id != self.model_id:
            return
        model = self.retrainer.model(self.model_id)
        if model is not None and model.version == event.model_hash:
            self._model = model
            self._version = event.version
            self._hash = event.model_hash

    @property
    def version(self) -> int:
        """The version of the model predictions are made with now (0 before the first)."""
        return self._version

    # -- after each sample --------------------------------------------------------------------------------------

    def _after_sample(self, ts: int) -> None:
        model = self.retrainer.model(self.model_id)
        kernel = self._kernel
        if model is None or kernel is None or model is not self._model:
            return  # identity, not the hash: a model learning online changes its bytes but stays the one announced
        learned = self.online.updates if self.online is not None else 0
        recorder = self.recorder
        for symbol in recorder.symbols():
            x = recorder.vector_at(symbol, ts)
            if x is None:
                continue
            try:
                value = float(model.predict(x))
            except (ArithmeticError, ValueError, DataError):
                self.errors += 1
                continue
            if not math.isfinite(value):
                self.errors += 1
                continue
            features = dict(zip(FEATURES, x.tolist(), strict=True)) if self.with_features else {}
            kernel.emit(
                Prediction(
                    ts_event=ts,
                    ts_init=ts,
                    model_id=self.model_id,
                    version=self._version,
                    model_hash=self._hash,
                    symbol=symbol,
                    value=value,
                    features=features,
                    online_updates=learned,
                )
            )
            self.predictions += 1
