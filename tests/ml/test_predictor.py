"""The predictor: after each feature sample the model in force predicts every sampled symbol with a Prediction that
names it (id, version, hash); before the first ModelUpdated nothing is predicted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tapeflow.backtest.engine import Backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.config import MlSection, build_ml
from tapeflow.ml.features import FEATURES
from tapeflow.ml.models import model_from_bytes
from tapeflow.ml.retrain import InProcessTrainer
from tapeflow.model.codec import from_msgpack, to_msgpack
from tapeflow.model.events import Event, ModelUpdated, Prediction

MS = 1_000_000
SEC = 1_000_000_000


def events(count: int = 20_000) -> list[Event]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=count, seed=3))
    return list(merge_sorted(market.sources()))


class Seen:
    def __init__(self) -> None:
        self.events: list[ModelUpdated | Prediction] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(ModelUpdated, self.events.append)
        kernel.subscribe(Prediction, self.events.append)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


SECTION = MlSection(
    model_id="m1",
    sample_interval_ms=100,
    horizon_ms=500,
    window_s=10,
    interval_s=5,
    embargo_ms=100,
    effect_delay_ms=700,
)


def run(output_dir: str = "") -> Seen:
    parts = build_ml(SECTION, mode="deterministic", trainer=InProcessTrainer(), output_dir=output_dir)
    seen = Seen()
    Backtest([], extra=[*parts.components, seen]).run([events()])
    return seen


def test_no_prediction_before_the_first_model_then_one_per_symbol_per_sample_naming_the_model_in_force() -> None:
    seen = run()
    updates = [e for e in seen.events if isinstance(e, ModelUpdated)]
    predictions = [e for e in seen.events if isinstance(e, Prediction)]
    assert len(updates) >= 3 and predictions
    first = seen.events.index(updates[0])
    assert not any(isinstance(e, Prediction) for e in seen.events[:first])
    per_time: dict[int, set[str]] = {}
    for event in seen.events:
        if isinstance(event, ModelUpdated):
            continue
        # the model in force when the sample was taken: an update at the same instant is dispatched after the
        # sample timer fired (it was queued then), so it applies from the next sample on
        in_force = [u for u in updates if u.ts_init < event.ts_init][-1]
        assert (event.model_id, event.version, event.model_hash) == ("m1", in_force.version, in_force.model_hash)
        assert event.ts_init == event.ts_event and event.ts_init % (100 * MS) == 0
        assert list(event.features) == list(FEATURES)
        per_time.setdefault(event.ts_init, set()).add(event.symbol)
    assert all(symbols == {"AAA", "BBB"} for symbols in per_time.values())


def test_each_value_is_the_model_in_force_applied_to_the_features_it_names(tmp_path: Path) -> None:
    seen = run(str(tmp_path))
    models = {p.stem: model_from_bytes(p.read_bytes(), expected_version=p.stem) for p in tmp_path.glob("*.tfml")}
    predictions = [e for e in seen.events if isinstance(e, Prediction)]
    for p in predictions[:: max(1, len(predictions) // 50)]:
        x = np.array([p.features[name] for name in FEATURES])
        assert p.value == models[p.model_hash].predict(x)


def test_a_prediction_survives_the_codec() -> None:
    seen = run()
    p = next(e for e in seen.events if isinstance(e, Prediction))
    assert from_msgpack(to_msgpack(p)) == p
