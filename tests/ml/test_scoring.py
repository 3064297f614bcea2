"""The scorer: each prediction against the realized mid move over the horizon, at exactly t + H; a flat horizon
is not counted, and the long/short means are the realized moves after each kind of prediction."""

from __future__ import annotations

from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.scoring import PredictionScorer
from tapeflow.model.events import Event, ModelUpdated, Prediction
from tapeflow.model.market import Quote

SEC = 1_000_000_000
MS = 1_000_000
T0 = 1_718_978_400 * SEC
H = 2 * SEC


def quote(ms: int, mid2: int) -> Quote:
    ts = T0 + ms * MS
    bid = (mid2 - 200) // 2
    sizes = {"bid_size": 100, "ask_size": 100}
    return Quote(ts_event=ts, ts_init=ts, symbol="AAA", bid_price=bid, ask_price=bid + 200, venue="NBBO", **sizes)


def prediction(ms: int, value: float, model_id: str = "m") -> Prediction:
    ts = T0 + ms * MS
    return Prediction(ts_event=ts, ts_init=ts, model_id=model_id, version=1, model_hash="h", symbol="AAA", value=value)


def score(tape: list[Event]) -> PredictionScorer:
    kernel = Kernel()
    recorder = FeatureRecorder(RecorderConfig(interval_ns=0, horizon_ns=H))
    scorer = PredictionScorer(recorder, "m")
    kernel.add(recorder)
    kernel.add(scorer)
    kernel.start(at=T0)
    kernel.run(tape)
    kernel.finish()
    return scorer


def test_hits_misses_and_flat_horizons_are_told_apart_at_exactly_the_horizon() -> None:
    tape: list[Event] = [
        quote(0, 2_000_200),
        prediction(0, 1e-4),  # up, and at 2 s the mid is up (2_000_400): a hit
        quote(500, 2_000_400),
        prediction(1000, 1e-4),  # up, but at 3 s the mid is down (2_000_000): a miss
        prediction(1000, 0.0),  # no direction: unscored
        prediction(1000, 5e-4, model_id="other"),  # another model: ignored
        prediction(1500, -2e-4),  # down, and at 3.5 s the mid is back where it was: flat, not counted
        quote(2000, 2_000_600),  # at the first horizon's instant: not yet seen by it (as for a label)
        quote(2500, 2_000_000),
        quote(3200, 2_000_400),
        quote(5000, 2_000_200),  # after every horizon: changes nothing
    ]
    result = score(tape).score()
    assert (result.predictions, result.hits, result.flat, result.unscored) == (2, 1, 1, 1)
    assert result.hit_rate == 0.5
    up, down = 200 / 2_000_200 * 10_000, -400 / 2_000_400 * 10_000
    assert result.mean_bps_long == (up + down) / 2
    assert result.mean_bps_short == 0.0


def test_model_updates_of_its_model_are_kept_in_order() -> None:
    first = ModelUpdated(ts_event=T0, ts_init=T0, model_id="m", version=1, train_start=0, train_end=T0)
    other = ModelUpdated(ts_event=T0, ts_init=T0, model_id="x", version=1, train_start=0, train_end=T0)
    scorer = score([first, other])
    assert scorer.models == [first] and scorer.score().updates == 1 and scorer.score().hit_rate is None
