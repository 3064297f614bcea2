"""The regime-switching synthetic market keeps every invariant of the plain one (prices on the grid, book never
crossed, trades backed by depth, quotes equal to the rebuilt book), is a pure function of (config, seed), switches
regimes on a fixed grid of event time, scales its event rate by the regime's volatility, and is configured from the
``[data.synthetic.regime]`` table."""

from __future__ import annotations

import statistics

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.config import BacktestConfig
from tapeflow.config import RegimeConfig, RegimeKind, SyntheticConfig, decode_toml
from tapeflow.data.synthetic import RegimeSymbolStream, SyntheticMarket
from tapeflow.data.synthetic_regime import market_regime_at, regime_at
from tapeflow.model import ConfigError, Quote
from tapeflow.model.events import Event

from .test_synthetic import check_consistent

SEC = 1_000_000_000
START = SyntheticConfig().start_ns

kinds: st.SearchStrategy[RegimeKind] = st.sampled_from(["momentum", "reversal"])
regimes = st.builds(
    RegimeConfig,
    period_s=st.floats(0.2, 5.0),
    strength=st.floats(0.0, 1.0),
    cycle=st.lists(kinds, min_size=1, max_size=3).map(tuple),
    vol=st.lists(st.floats(0.2, 5.0), min_size=1, max_size=3).map(tuple),
    memory_s=st.floats(0.1, 60.0),
    display=st.floats(0.0, 0.99),
)


@settings(max_examples=30, deadline=None)
@given(regime=regimes, seed=st.integers(0, 2**32 - 1), count=st.integers(3, 4_000))
def test_a_regime_stream_keeps_every_invariant_of_the_plain_market(regime: RegimeConfig, seed: int, count: int) -> None:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA",), seed=seed, events_per_symbol=count, regime=regime))
    stream: list[object] = list(market.stream(0))
    assert len(stream) == count
    check_consistent(stream)


def test_the_strongest_push_with_the_plainest_display_still_keeps_the_book_sound_over_a_long_run() -> None:
    regime = RegimeConfig(period_s=30, strength=1.0, cycle=("momentum",), vol=(3.0,), memory_s=60, display=0.99)
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA",), seed=1, events_per_symbol=60_000, regime=regime))
    quotes, trades = check_consistent(list(market.stream(0)))
    assert quotes > 5_000 and trades > 1_000


def market(regime: RegimeConfig, count: int = 20_000) -> SyntheticMarket:
    return SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), seed=4, events_per_symbol=count, regime=regime))


def test_same_config_and_seed_give_the_same_stream_and_another_seed_another() -> None:
    one, two = market(RegimeConfig(period_s=5)), market(RegimeConfig(period_s=5))
    assert isinstance(one.stream(0), RegimeSymbolStream)
    assert list(one.stream(0)) == list(two.stream(0))
    other = SyntheticMarket(msgspec.structs.replace(one.config, seed=5))
    assert list(other.stream(0)) != list(one.stream(0))


def test_adding_a_symbol_does_not_change_the_others() -> None:
    regime = RegimeConfig(period_s=5)
    one = SyntheticMarket(SyntheticConfig(symbols=("AAA",), seed=9, events_per_symbol=3_000, regime=regime))
    two = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), seed=9, events_per_symbol=3_000, regime=regime))
    assert list(one.stream(0)) == list(two.stream(0))


def test_the_regime_switches_on_a_fixed_grid_of_event_time_and_cycles_kinds_and_vols_independently() -> None:
    cfg = RegimeConfig(period_s=900, cycle=("momentum", "reversal"), vol=(1.0, 2.0, 3.0))
    seen = [regime_at(cfg, START, START + k * 900 * SEC + 899 * SEC) for k in range(6)]
    assert [r.number for r in seen] == list(range(6))
    assert [r.kind for r in seen] == ["momentum", "reversal"] * 3
    assert [r.vol for r in seen] == [1.0, 2.0, 3.0] * 2  # lengths 2 and 3: six combinations before a repeat
    assert [(r.start_ns - START, r.end_ns - START) for r in seen[:2]] == [(0, 900 * SEC), (900 * SEC, 1800 * SEC)]
    assert regime_at(cfg, START, START + 900 * SEC).number == 1  # a regime starts exactly at its boundary
    assert market_regime_at(SyntheticConfig(regime=cfg), START + 1800 * SEC) == seen[2]
    assert market_regime_at(SyntheticConfig(), START) is None


def test_the_stream_is_in_the_regime_that_regime_at_names() -> None:
    cfg = RegimeConfig(period_s=2, cycle=("momentum", "reversal", "reversal"))
    stream = market(cfg).stream(0)
    assert isinstance(stream, RegimeSymbolStream)
    assert stream.process.regime.number == 0
    numbers = set()
    for event in stream:
        expected = regime_at(cfg, START, event.ts_init)
        assert stream.process.regime == expected
        numbers.add(expected.number)
    assert len(numbers) > 5


def events_per_second(events: list[Event], begin: int, end: int) -> float:
    return sum(1 for e in events if begin <= e.ts_init < end) / ((end - begin) / SEC)


def test_a_regime_with_three_times_the_volatility_has_three_times_the_events_and_wider_mid_moves() -> None:
    events = list(market(RegimeConfig(period_s=20, vol=(1.0, 3.0)), count=80_000).stream(0))
    assert events[-1].ts_init > START + 40 * SEC
    calm = events_per_second(events, START, START + 20 * SEC)
    wild = events_per_second(events, START + 20 * SEC, START + 40 * SEC)
    assert 2.0 < wild / calm < 4.0, (calm, wild)  # 3 in expectation; bursts of ~100 events make 20 s noisy
    mids: dict[bool, list[int]] = {True: [], False: []}
    for e in events:
        if isinstance(e, Quote) and e.ts_init < START + 40 * SEC:
            mids[e.ts_init >= START + 20 * SEC].append(e.bid_price + e.ask_price)

    def move_per_second(series: list[int]) -> float:
        step = len(series) // 20  # about one second of quotes
        return statistics.pstdev([b - a for a, b in zip(series[::step], series[step::step], strict=False)])

    assert move_per_second(mids[True]) > 1.2 * move_per_second(mids[False])


def test_the_regime_table_decodes_from_a_backtest_configuration_and_a_bad_value_names_its_field() -> None:
    text = """
[data]
kind = "synthetic"
[data.synthetic]
symbols = ["AAA"]
[data.synthetic.regime]
period_s = 900
strength = 0.6
cycle = ["momentum", "reversal", "reversal"]
vol = [1.0, 2.5]
"""
    cfg = decode_toml(text, BacktestConfig)
    regime = cfg.data.synthetic.regime
    want = RegimeConfig(period_s=900.0, strength=0.6, cycle=("momentum", "reversal", "reversal"), vol=(1.0, 2.5))
    assert regime == want
    assert decode_toml("[data]\nkind = 'synthetic'\n", BacktestConfig).data.synthetic.regime is None
    with pytest.raises(ConfigError, match=r"data\.synthetic\.regime\.strength"):
        decode_toml(text.replace("strength = 0.6", "strength = 1.5"), BacktestConfig)
    with pytest.raises(ConfigError, match=r"valid values: 'momentum', 'reversal'"):
        decode_toml(text.replace('"reversal", "reversal"', '"trend"'), BacktestConfig)
    with pytest.raises(ConfigError, match=r"data\.synthetic\.regime\.cycle"):
        decode_toml(text.replace('["momentum", "reversal", "reversal"]', "[]"), BacktestConfig)
    with pytest.raises(ConfigError, match=r"data\.synthetic\.regime"):
        decode_toml(text + "drift = 1\n", BacktestConfig)


def test_a_symbol_pushed_down_to_one_cent_keeps_a_sound_book_and_the_stream_goes_on() -> None:
    regime = RegimeConfig(strength=1.0, cycle=("momentum",), vol=(3.0,), memory_s=60)
    config = SyntheticConfig(symbols=("PNY",), start_price=("0.50",), seed=1, events_per_symbol=100_000, regime=regime)
    stream: list[object] = list(SyntheticMarket(config).stream(0))
    assert len(stream) == 100_000
    check_consistent(stream)
    assert min(e.bid_price for e in stream if isinstance(e, Quote)) == 100  # the floor: one cent
