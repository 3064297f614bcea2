"""The compiled ITCH hot loop against the Python reference: identical events, counts and errors on every input."""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.data import itch_fast
from tapeflow.data.itch import ItchReader, midnight_utc_ns
from tapeflow.data.itch_encoder import encode_stream
from tapeflow.data.itch_mapping import EventMapper
from tapeflow.data.itch_messages import (
    ItchAddOrder,
    ItchAddOrderMpid,
    ItchCrossTrade,
    ItchMessage,
    ItchOrderCancel,
    ItchOrderDelete,
    ItchOrderExecuted,
    ItchOrderExecutedWithPrice,
    ItchOrderReplace,
    ItchStockDirectory,
    ItchStockTradingAction,
    ItchSystemEvent,
    ItchTrade,
)
from tapeflow.data.itch_parser import ItchStats
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.market import Trade

DAY = dt.date(2019, 12, 30)
FIXTURE = "nasdaq-itch50-head-fixture/sample.itch"
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
Outcome = tuple[list[object], object, str]


def _directory(locate: int, stock: str) -> ItchStockDirectory:
    return ItchStockDirectory(locate, 0, 1, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N")


def _run(data: bytes | Path, implementation: str, **kwargs: object) -> Outcome:
    """Events, stats and the error (``""`` if none) of one pass; events yielded before an error are kept."""
    reader = ItchReader(data, date=DAY, implementation=implementation, **kwargs)  # type: ignore[arg-type]
    events: list[object] = []
    error = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for batch in reader.event_batches():
                events.extend(batch)
        except DataError as exc:
            error = f"{type(exc).__name__}: {exc}"
    return events, reader.stats, error


def _assert_identical(data: bytes | Path, **kwargs: object) -> Outcome:
    compiled = _run(data, "compiled", **kwargs)
    reference = _run(data, "python", **kwargs)
    assert compiled[0] == reference[0]
    assert compiled[1] == reference[1]  # every count, the bytes consumed and the first problem's offset and text
    assert compiled[2] == reference[2]
    return reference


def _gen_itch() -> object:
    spec = importlib.util.spec_from_file_location("gen_itch", BENCHMARKS / "gen_itch.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_compiled_core_is_built_and_auto_picks_it() -> None:
    # The install builds it (setup.py); without it every comparison below would compare Python with itself.
    assert itch_fast.ITCH_CORE == "compiled"
    assert ItchReader(b"", date=DAY).implementation == "compiled"
    assert ItchReader(b"", date=DAY, implementation="python").implementation == "python"


def test_the_environment_can_force_the_python_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """One switch for both readers (LOBSTER's test is in test_lobster_core.py): auto takes the reference."""
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert ItchReader(b"", date=DAY).implementation == "python"
    assert ItchReader(b"", date=DAY, implementation="compiled").implementation == "compiled"  # explicit wins
    monkeypatch.setenv(PURE_PYTHON_ENV, "0")
    assert ItchReader(b"", date=DAY).implementation == "compiled"


def test_asking_for_a_missing_compiled_core_or_an_unknown_one_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="must be"):
        ItchReader(b"", date=DAY, implementation="rust")  # type: ignore[arg-type]
    monkeypatch.setattr(itch_fast, "_compiled", None)
    with pytest.raises(ConfigError, match="not built"):
        ItchReader(b"", date=DAY, implementation="compiled")


@pytest.mark.parametrize("chunk_size", [64, 1000, 1 << 16])
@pytest.mark.parametrize("options", [{}, {"track_orders": True}, {"symbols": ["AAPL", "MSFT"]}, {"strict": True}])
def test_real_fixture_gives_identical_events_and_stats(
    data_dir: Path, chunk_size: int, options: dict[str, object]
) -> None:
    events, stats, error = _assert_identical(data_dir / FIXTURE, chunk_size=chunk_size, **options)
    assert error == "" and getattr(stats, "messages") > 0  # noqa: B009 - stats is typed object here
    assert events or "symbols" in options


@pytest.mark.parametrize("option", ["", "track_orders", "symbols", "strict"])
def test_generated_file_gives_identical_events_and_stats(tmp_path: Path, option: str) -> None:
    gen = _gen_itch()
    path = tmp_path / "synthetic.itch"
    gen.generate(path, 30_000, symbols=25, seed=11)  # type: ignore[attr-defined]
    wanted = [name.decode().strip() for name in gen._symbols(25)[:3]]  # type: ignore[attr-defined]
    options = {"symbols": wanted} if option == "symbols" else {option: True} if option else {}
    events, stats, error = _assert_identical(path, **options)
    assert error == ""
    assert len(events) > (1_000 if option == "symbols" else 25_000)
    assert getattr(stats, "filtered") > 20_000 or option != "symbols"  # noqa: B009 - stats is typed object here


def _fast(chunks: list[bytearray], implementation: itch_fast.Implementation) -> tuple[list[object], ItchStats]:
    stats = ItchStats()
    mapper = EventMapper(base_ns=midnight_utc_ns(DAY), wanted=None, venue="XNAS", stats=stats)
    batches = itch_fast.fast_batches(iter(chunks), mapper, stats, strict=False, name="x", implementation=implementation)  # type: ignore[arg-type]
    return [event for batch in batches for event in batch], stats


def test_chunks_that_are_bytearrays_give_identical_events(data_dir: Path) -> None:
    # A stream may read into bytearrays; the compiled core takes bytes, so the loop converts what it is given.
    raw = (data_dir / FIXTURE).read_bytes()
    chunks = [bytearray(raw[i : i + 4096]) for i in range(0, len(raw), 4096)]
    compiled, python = _fast(chunks, "compiled"), _fast(chunks, "python")
    assert compiled == python
    assert compiled[0] == _run(raw, "python")[0] and len(compiled[0]) > 0


# A random order flow with every irregularity the fast path must hand over: unknown locates, zero shares, bad
# sides, references past int64, time going back, a halt, a cross, a system event, unknown message types.
_locate = st.sampled_from([1, 2, 3, 9])  # 9 is a locate no directory names
_shares = st.integers(0, 5_000)
_ref = st.integers(1, 40) | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1])
_ts = st.integers(0, 86_400 * 10**9)
_match = st.integers(0, 2**64 - 1)
_message = st.one_of(
    st.builds(ItchAddOrder, _locate, st.integers(0, 3), _ts, _ref, st.sampled_from("BSX"), _shares,
              st.sampled_from(["AAA", "ZZZ"]), st.integers(0, 2**32 - 1)),
    st.builds(ItchAddOrderMpid, _locate, st.just(0), _ts, _ref, st.sampled_from("BSB"), _shares,
              st.sampled_from(["AAA", "ZZZ"]), st.integers(1, 10**7), st.sampled_from(["NSDQ", "GS", "", " A B"])),
    st.builds(ItchOrderExecuted, _locate, st.just(0), _ts, _ref, _shares, _match),
    st.builds(ItchOrderExecutedWithPrice, _locate, st.just(0), _ts, _ref, _shares, _match,
              st.sampled_from("YNX"), st.integers(0, 2**32 - 1)),
    st.builds(ItchOrderCancel, _locate, st.just(0), _ts, _ref, _shares),
    st.builds(ItchOrderDelete, _locate, st.just(0), _ts, _ref),
    st.builds(ItchOrderReplace, _locate, st.just(0), _ts, _ref, _ref, _shares, st.integers(1, 10**7)),
    st.builds(ItchTrade, _locate, st.just(0), _ts, st.just(0), st.just("B"), _shares, st.just("AAA"),
              st.integers(1, 10**7), _match),
    st.builds(ItchCrossTrade, _locate, st.just(0), _ts, st.integers(0, 100), st.just("AAA"), st.integers(1, 10**7),
              _match, st.sampled_from("OCH")),
    st.builds(ItchStockTradingAction, _locate, st.just(0), _ts, st.just("AAA"), st.sampled_from("HPQTX"),
              st.just(" "), st.sampled_from(["", "LUDP"])),
    st.builds(ItchSystemEvent, st.just(0), st.just(0), _ts, st.sampled_from("OSQMEC")),
)  # fmt: skip
_prefix = [_directory(1, "AAA"), _directory(2, "BB"), _directory(3, "C")]
_unknown = st.binary(min_size=1, max_size=300).map(lambda body: b"z" + body)  # type 'z' does not exist
_pieces = st.lists(_message.map(lambda m: encode_stream([m])) | _unknown.map(lambda b: len(b).to_bytes(2) + b))


@settings(max_examples=150, deadline=None)
@given(
    pieces=_pieces,
    mutations=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 40),
    chunk=st.sampled_from([48, 100, 4096]),
    options=st.sampled_from([{}, {"track_orders": True}, {"symbols": ["AAA", "C"]}, {"strict": True}]),
)
def test_hypothesis_streams_mutated_truncated_and_unknown_give_identical_results(
    pieces: list[bytes], mutations: list[tuple[int, int]], cut: int, chunk: int, options: dict[str, object]
) -> None:
    data = bytearray(encode_stream(_prefix) + b"".join(pieces))
    for where, value in mutations:  # bytes flipped anywhere: prefixes, types, locates, fields
        data[where % len(data)] = value
    _assert_identical(bytes(data[: len(data) - cut]), chunk_size=chunk, **options)


@settings(max_examples=60, deadline=None)
@given(flow=st.lists(_message, max_size=80), chunk=st.sampled_from([48, 1 << 16]))
def test_hypothesis_order_flow_gives_the_same_events_as_the_generic_path(flow: list[ItchMessage], chunk: int) -> None:
    # Beyond matching the Python loop, the compiled loop matches the generic decoder (raw framing) itself.
    stream = _prefix + flow
    compiled, compiled_stats, _ = _run(encode_stream(stream), "compiled", chunk_size=chunk)
    generic, generic_stats, _ = _run(encode_stream(stream, "raw"), "python", framing="raw")
    assert compiled == generic
    for name in ("messages", "events", "malformed", "filtered", "unknown_locate", "out_of_order"):
        assert getattr(compiled_stats, name) == getattr(generic_stats, name), name


def _trades(count: int) -> list[ItchMessage]:
    """``count`` trades (P) on two stocks, every field different from its neighbours and from the other fields."""
    return [
        ItchTrade(1 + i % 2, 0, 1_000 + 7 * i, 0, "BS"[i % 2], 100 + i, "AAA" if i % 2 == 0 else "BB", 50_000 + 13 * i,
                  2**40 + i)
        for i in range(count)
    ]  # fmt: skip


def test_compiled_core_takes_trades_itself_with_every_field_and_type_of_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The compiled loop builds trades (P) in C, where the Python loop hands them to the generic path: the events
    # must be the same to the byte when encoded (every field, its type and the event type), and the generic path
    # must see only the messages that are not trades.
    from tapeflow.data import _itch_core  # type: ignore[attr-defined]

    stream = encode_stream([*_prefix, *_trades(40)])
    reference = _run(stream, "python")
    generic_calls = 0
    generic = _itch_core.slow_event

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal generic_calls
        generic_calls += 1
        return generic(*args, **kwargs)

    monkeypatch.setattr(_itch_core, "slow_event", counted)
    compiled = _run(stream, "compiled")
    assert generic_calls == len(_prefix)  # the stock directory only
    assert len(reference[0]) == 40 and compiled[0] == reference[0]
    assert msgspec.msgpack.encode(compiled[0]) == msgspec.msgpack.encode(reference[0])
    assert compiled[1] == reference[1]
    first = reference[0][0]
    assert isinstance(first, Trade) and (first.price, first.size, first.venue) == (50_000, 100, "XNAS")
