"""Online updates between retrains: a river model learns each label once it has ended, never one it was already
fitted on and never one not yet known; each Prediction says how much was learned; two runs learn the same."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt

from tapeflow.backtest.engine import Backtest
from tapeflow.ml.config import MlParts, MlSection, build_ml
from tapeflow.ml.retrain import InProcessTrainer
from tapeflow.model.events import ModelUpdated, Prediction
from tests.ml.test_predictor import SECTION, Seen, events

RIVER = MlSection(**{**{f: getattr(SECTION, f) for f in SECTION.__struct_fields__}, "kind": "river_linear"})


def run(section: MlSection, *, online: bool = True) -> tuple[MlParts, Seen, list[tuple[int, int, int]]]:
    """The run's parts, what it saw, and every online update as (now, the sample's label end, the model's trigger)."""
    parts = build_ml(section, mode="deterministic", trainer=InProcessTrainer(), online=online)
    seen = Seen()
    learned: list[tuple[int, int, int]] = []
    backtest = Backtest([], extra=[*parts.components, seen])
    kernel = backtest.node.kernel
    label_ends: dict[bytes, int] = {}

    def remember(ts: int) -> None:  # every sample's label end, by its feature row (registered first: runs first)
        for symbol in parts.recorder.symbols():
            ring = parts.recorder.ring(symbol)
            slot = (ring.appended - 1) % ring.capacity
            if ring.appended and int(ring.times[slot]) == ts:
                label_ends[ring.X[slot].tobytes()] = int(ring.label_end[slot])

    parts.recorder.after_sample.insert(0, remember)
    announced: list[ModelUpdated] = []
    kernel.subscribe(ModelUpdated, announced.append)
    # The wrapped models themselves, not their ids: a replaced model is freed and the next one may reuse its id,
    # which once left a model unwrapped and its updates uncounted.
    wrapped: list[object] = []

    def watch(_: object) -> None:  # wrap each new model's learn_one to see what it is taught and when
        model = parts.retrainer.model(section.model_id)
        if model is None or any(model is w for w in wrapped) or not hasattr(model, "learn_one"):
            return
        wrapped.append(model)
        inner = model.learn_one

        def learn_one(x: npt.NDArray[np.float64], y: float) -> None:
            learned.append((kernel.now, label_ends[x.tobytes()], announced[-1].trigger_ts))
            inner(x, y)

        model.learn_one = learn_one  # type: ignore[method-assign]

    kernel.subscribe(ModelUpdated, watch)
    backtest.run([events()])
    return parts, seen, learned


def test_a_river_model_learns_each_label_after_it_ended_and_after_its_own_window() -> None:
    parts, seen, learned = run(RIVER)
    assert parts.online is not None and parts.online.total == len(learned) > 100
    embargo = RIVER.embargo_ms * 1_000_000
    for now, label_end, trigger in learned:
        assert label_end < now, "learned a label not yet known"
        assert label_end > trigger - embargo, "learned a sample the model was already fitted on"
    predictions = [e for e in seen.events if isinstance(e, Prediction)]
    assert max(p.online_updates for p in predictions) > 0
    for before, after in pairwise(predictions):
        if after.version == before.version:  # within one model the count only grows; a new model starts again
            assert after.online_updates >= before.online_updates


def test_what_a_model_learned_online_changes_its_predictions_and_runs_repeat_exactly() -> None:
    _, learning, _ = run(RIVER)
    _, again, _ = run(RIVER)
    _, still, _ = run(RIVER, online=False)
    values = [(p.symbol, p.value, p.online_updates) for p in learning.events if isinstance(p, Prediction)]
    assert values == [(p.symbol, p.value, p.online_updates) for p in again.events if isinstance(p, Prediction)]
    frozen = [(p.symbol, p.value) for p in still.events if isinstance(p, Prediction)]
    assert len(frozen) == len(values) and frozen != [(s, v) for s, v, _ in values]
    assert all(p.online_updates == 0 for p in still.events if isinstance(p, Prediction))


def test_a_kind_that_cannot_learn_online_gets_no_learner() -> None:
    parts, seen, learned = run(SECTION)  # ridge
    assert parts.online is None and learned == []
    assert all(p.online_updates == 0 for p in seen.events if isinstance(p, Prediction))
