"""Online updates between retrains: a model that can learn one sample at a time (river's, ``learn_one``) keeps
learning from each label as it matures, so it follows the market between two retrains instead of waiting for the
next window.

The same rule as the window's guards what it may learn: a sample is learned only once its label has ended before
the current instant (strictly: a label ending now may not be set yet), and only if the model in force was not
already fitted on it (its label ended after the model's trigger minus the embargo). It runs on the kernel's
thread, right after each feature sample (``FeatureRecorder.after_sample``, registered before the predictor so a
prediction uses what was just learned), in ring order per symbol and symbols in sorted order: the same run learns
the same samples in the same order, so backtests stay identical.

Learning changes the model's bytes, so its content hash no longer names it. ``updates`` counts what was learned
since the model took effect; each ``Prediction`` carries that count beside the announced version and hash, which
together with the recorded samples reproduce the model exactly.
"""

from __future__ import annotations

import math

from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder
from tapeflow.ml.retrain import Retrainer
from tapeflow.model.events import ModelUpdated


class OnlineLearner:
    """Kernel component: feeds matured labels to the model in force when it has ``learn_one``; otherwise idle."""

    def __init__(self, recorder: FeatureRecorder, retrainer: Retrainer) -> None:
        self.recorder = recorder
        self.retrainer = retrainer
        self.model_id = retrainer.spec.model_id
        self._embargo_ns = retrainer.config.embargo_ns
        self._kernel: Kernel | None = None
        self._fitted_until = 0
        """Label end times at or before this were (or could have been) in the model's own window."""
        self._cursor: dict[str, int] = {}
        """Per symbol: the next ring sample number to look at."""
        self.updates = 0
        """Samples learned since the model in force took effect."""
        self.total = 0
        recorder.after_sample.append(self._after_sample)

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(ModelUpdated, self._on_model_updated)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _on_model_updated(self, event: ModelUpdated) -> None:
        """A new model: it was fitted on labels that ended by its trigger minus the embargo, so learning starts
        after them again (samples already passed are looked at once more, from the oldest still held)."""
        if event.model_id != self.model_id:
            return
        self._fitted_until = event.trigger_ts - self._embargo_ns
        self._cursor.clear()
        self.updates = 0

    def _after_sample(self, ts: int) -> None:
        model = self.retrainer.model(self.model_id)
        learn = getattr(model, "learn_one", None)
        if learn is None:
            return
        fitted_until = self._fitted_until
        for symbol in self.recorder.symbols():
            ring = self.recorder.ring(symbol)
            seq = max(self._cursor.get(symbol, 0), ring.appended - len(ring))
            while seq < ring.appended:
                slot = seq % ring.capacity
                end = int(ring.label_end[slot])
                if end >= ts:
                    break  # labels end in sample order: the rest are not known yet
                y = float(ring.y[slot])
                if end > fitted_until and not math.isnan(y):
                    learn(ring.X[slot], y)
                    self.updates += 1
                    self.total += 1
                seq += 1
            self._cursor[symbol] = seq
