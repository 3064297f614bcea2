"""The harness on a hand-built L3 tape where each L2 model's error is known in advance, and its isolation: a probe
never disturbs another probe or the truth."""

from __future__ import annotations

import msgspec

from tapeflow.calibration.follow import L3, TRUTH, ProbeOutcome, follow
from tapeflow.calibration.probes import Probe
from tapeflow.calibration.score import ALL_LEVELS, ModelScore, best_models, score
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import Aggressor, Side
from tapeflow.model.events import Event
from tapeflow.model.market import BookLevel, OrderAdded, OrderDeleted, OrderExecuted, Trade
from tapeflow.venues.sim.queue import QueueModel

BASE = 1_700_000_000 * 1_000_000_000
S = 1_000_000_000
BID = 1_000_000
ASK = 1_000_100
MODELS = ["FRONT", "BACK", "PROPORTIONAL", "POWER2", "POWER3"]


def _at(seconds: float) -> int:
    return BASE + int(seconds * S)


def _add(t: float, oid: int, side: Side, price: int, size: int) -> OrderAdded:
    return OrderAdded(ts_event=_at(t), ts_init=_at(t), symbol="TEST", order_id=oid, side=side, price=price, size=size)


def _exec(t: float, oid: int, size: int) -> OrderExecuted:
    return OrderExecuted(ts_event=_at(t), ts_init=_at(t), symbol="TEST", order_id=oid, size=size)


def _delete(t: float, oid: int) -> OrderDeleted:
    return OrderDeleted(ts_event=_at(t), ts_init=_at(t), symbol="TEST", order_id=oid)


def _tape() -> list[Event]:
    """The bid probe joins behind 1,000 shares (ids 1-3); 3,000 join behind it and leave (L2 cannot tell where
    from); the three ahead trade out; a new order behind it is hit, which in FIFO reaches the probe first.
    The ask probe joins behind 500 (id 9); 500 join behind it and leave; 200 of id 9 trade: the truth still has
    300 ahead at the end."""
    return [
        _add(0.5, 9, Side.SELL, ASK, 500),
        _add(1, 1, Side.BUY, BID, 300),
        _add(2, 2, Side.BUY, BID, 300),
        _add(3, 3, Side.BUY, BID, 400),
        # probes join at 10 s
        _add(15, 10, Side.SELL, ASK, 500),
        _add(20, 4, Side.BUY, BID, 3_000),
        _delete(25, 10),
        _delete(30, 4),
        _exec(35, 9, 200),
        _exec(40, 1, 300),
        _exec(50, 2, 300),
        _exec(60, 3, 400),
        _add(65, 5, Side.BUY, BID, 200),
        _exec(70, 5, 150),
        _add(200, 6, Side.BUY, BID - 100, 100),  # past every horizon: ends the run
    ]


PROBES = [
    Probe(probe_id=0, ts=_at(10), side=Side.BUY, level=1, size=100),
    Probe(probe_id=1, ts=_at(10), side=Side.SELL, level=1, size=100),
]


def _run(probes: list[Probe] = PROBES) -> list[ProbeOutcome]:
    return follow(_tape(), "TEST", probes, [QueueModel(m) for m in MODELS], 100 * S)


def test_each_model_fills_the_bid_probe_when_its_own_queue_estimate_says_and_the_truth_when_fifo_does() -> None:
    """After 3,000 of 4,000 shares left (1,000 ahead, 3,000 behind in truth): FRONT puts 0 ahead (filled by the
    first print, at 40 s), BACK 1,000 (like the truth, but reached only by the execution of an order behind it, at
    70 s), PROPORTIONAL 250 (filled by the 2nd print, 50 s), POWER2 700 and POWER3 893 (by the 3rd, 60 s)."""
    bid = next(o for o in _run() if o.probe.probe_id == 0)
    assert bid.price == BID
    assert bid.ahead == 1_000
    assert bid.fill_ns == {
        TRUTH: 60 * S,
        L3: 60 * S,
        "FRONT": 30 * S,
        "BACK": 60 * S,
        "PROPORTIONAL": 40 * S,
        "POWER2": 50 * S,
        "POWER3": 50 * S,
    }


def test_the_ask_probe_fills_only_under_front_which_moved_it_past_shares_still_there() -> None:
    ask = next(o for o in _run() if o.probe.probe_id == 1)
    assert ask.price == ASK
    assert ask.ahead == 500
    unfilled = dict.fromkeys([TRUTH, L3, "BACK", "PROPORTIONAL", "POWER2", "POWER3"])
    assert ask.fill_ns == unfilled | {"FRONT": 25 * S}


def _row(scores: list[ModelScore], model: str, level: int = 1) -> ModelScore:
    return next(s for s in scores if s.model == model and s.level == level)


def test_scores_on_the_hand_built_tape_are_the_errors_known_in_advance() -> None:
    scores = score(_run(), MODELS)
    truth = _row(scores, L3)
    assert (truth.both, truth.model_only, truth.truth_only, truth.neither) == (1, 0, 0, 1)
    assert truth.agreement == 1.0 and truth.mae_ttf_s == 0.0 and truth.median_ae_ttf_s == 0.0
    front = _row(scores, "FRONT")
    assert (front.both, front.model_only, front.truth_only, front.neither) == (1, 1, 0, 0)
    assert front.fill_prob == 1.0 and front.truth_fill_prob == 0.5 and front.agreement == 0.5
    assert front.mean_ttf_s == 27.5 and front.median_ttf_s == 27.5
    assert front.mae_ttf_s == 30.0
    expected = {"BACK": (60.0, 0.0), "PROPORTIONAL": (40.0, 20.0), "POWER2": (50.0, 10.0), "POWER3": (50.0, 10.0)}
    for model, (ttf, error) in expected.items():
        row = _row(scores, model)
        assert (row.both, row.model_only, row.truth_only, row.neither) == (1, 0, 0, 1), model
        assert (row.mean_ttf_s, row.mae_ttf_s, row.agreement) == (ttf, error, 1.0), model
    assert _row(scores, "BACK", ALL_LEVELS) == msgspec.structs.replace(_row(scores, "BACK"), level=ALL_LEVELS)
    assert best_models(scores) == {"TEST": "BACK"}


def test_a_probe_followed_alone_ends_exactly_as_among_others() -> None:
    """Probes never share a queue: each one's outcome is the same whoever else is followed."""
    together = {o.probe.probe_id: o for o in _run()}
    for probe in PROBES:
        (alone,) = _run([probe])
        assert alone == together[probe.probe_id]


def test_a_level_the_book_does_not_have_is_not_placed_and_scored_nowhere() -> None:
    deep = Probe(probe_id=7, ts=_at(10), side=Side.BUY, level=3, size=100)
    (out,) = _run([deep])
    assert out.fill_ns == {}
    assert score([out], MODELS) == []


def _reveal(side: Side, after: int, levels: tuple[BookLevel, ...], through_end: bool = False) -> DepthRevealed:
    return DepthRevealed(
        ts_event=_at(14), ts_init=_at(14), symbol="TEST", side=side, after_price=after, levels=levels,
        through_end=through_end,
    )  # fmt: skip


def _seen_whole(extra: DepthRevealed) -> bool:
    tape = _tape()
    (out,) = follow([*tape[:4], extra, *tape[4:]], "TEST", PROBES[:1], [QueueModel.BACK], 100 * S)
    return out.seen_whole


def test_a_level_that_comes_back_into_view_changed_is_not_seen_whole_and_not_scored() -> None:
    """Orders joined or left the probe's level while the file could not see it: the exact queue is exact no more.
    A reveal on the other side, of deeper levels, or of the probe's level as the book knew it, changes nothing."""
    assert _seen_whole(_reveal(Side.SELL, ASK, ()))
    assert _seen_whole(_reveal(Side.BUY, BID - 100, (BookLevel(BID - 200, 10),)))
    assert _seen_whole(_reveal(Side.BUY, BID + 100, (BookLevel(BID, 1_000),)))
    assert not _seen_whole(_reveal(Side.BUY, BID + 100, (BookLevel(BID, 1_200),)))
    assert not _seen_whole(_reveal(Side.BUY, BID + 100, (), through_end=True))  # the level is gone
    tape = _tape()
    blind = follow([*tape[:4], _reveal(Side.BUY, BID + 100, (BookLevel(BID, 900),)), *tape[4:]], "TEST",
                   PROBES[:1], [QueueModel.BACK], 100 * S)  # fmt: skip
    assert score(blind, ["BACK"]) == []


def _hidden(t: float, price: int, size: int, aggressor: Aggressor) -> Trade:
    return Trade(
        ts_event=_at(t), ts_init=_at(t), symbol="TEST", price=price, size=size, aggressor=aggressor,
        conditions=("hidden",),
    )  # fmt: skip


def test_a_hidden_execution_at_the_probe_price_fills_the_truth_only_with_nothing_visible_ahead() -> None:
    """Displayed orders have priority over hidden ones at one price: a seller who hit a hidden bid at the probe's
    price met the probe first, once nothing visible was ahead of it; before that, the visible orders ahead."""
    tape = _tape()
    early = follow([*tape[:4], _hidden(12, BID, 100, Aggressor.SELL), *tape[4:]], "TEST", PROBES[:1], [], 100 * S)
    assert early[0].fill_ns[TRUTH] == 60 * S  # 1,000 visible ahead at 12 s: the hidden print is not ours
    after = [*tape[:12], _hidden(62, BID, 100, Aggressor.SELL), *tape[12:]]  # ids 1-3 all traded by 60 s
    late = follow(after, "TEST", PROBES[:1], [QueueModel.BACK], 100 * S)
    assert late[0].fill_ns[TRUTH] == 52 * S
    assert late[0].fill_ns["BACK"] == 52 * S  # on L2 the hidden print is a print like any other: it reaches BACK too
    wrong_side = [*tape[:12], _hidden(62, BID, 100, Aggressor.BUY), *tape[12:]]
    assert follow(wrong_side, "TEST", PROBES[:1], [], 100 * S)[0].fill_ns[TRUTH] == 60 * S
