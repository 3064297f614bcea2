"""The real Nasdaq ITCH fixture, mutated: the reader raises only ``DataError``, and never hides a change.

Each example mutates ``nasdaq-itch50-head-fixture/sample.itch`` (1,000 real messages) and reads it twice: as
message structs and as events (the fast path). The contract:

- nothing but ``DataError`` escapes;
- the counts add up: every byte is consumed or counted as a cut tail, structs = messages - skipped;
- when nothing is counted, the result is the original's, or the mutated bytes are themselves a well-formed
  ITCH 5.0 stream (every frame a known type of exactly its specified length, checked here independently of
  the reader), i.e. a valid file that says something else. That is undetectable by design: a changed value
  inside a valid message (a price, a stock name, a time that stays in order), a type byte changed to another
  type of the same length, a whole message inserted, removed, duplicated or moved. The detectable mutations
  are then tested strictly: a cut inside a message, a changed length prefix, a type byte changed to another
  length, a time going back.
"""

from __future__ import annotations

import datetime as dt
import gzip
import warnings
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.itch import ItchReader
from tapeflow.data.itch_messages import LENGTH_BY_TYPE, ItchMessage
from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

DAY = dt.date(2019, 12, 30)
FIXTURE = "nasdaq-itch50-head-fixture/sample.itch"
EMPTY = "empty: no ITCH messages (0 bytes after decompression); check the file was copied completely"
FUZZ = settings(max_examples=40, deadline=None)


class Read(msgspec.Struct):
    messages: list[ItchMessage]
    events: list[Event]
    quality: SourceQuality
    consumed: int
    """Bytes read as whole messages plus those counted as a cut tail."""
    skipped: int
    """Frames the struct pass skipped (unknown type, short)."""
    framing: str


def _read(data: bytes, chunk_size: int = 1 << 14) -> Read | DataError:
    """Both passes over ``data``; a ``DataError`` is returned, anything else propagates (and fails the test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structs = ItchReader(data, date=DAY, chunk_size=chunk_size)
            messages = list(structs.messages())
            reader = ItchReader(data, date=DAY, chunk_size=chunk_size)
            events = list(reader.events())
    except DataError as exc:
        return exc
    s = structs.stats
    assert s.messages == reader.stats.messages
    return Read(
        messages, events, reader.quality(), s.bytes + s.truncated_bytes, s.unknown_types + s.malformed, s.framing
    )


def _frames(data: bytes) -> list[tuple[int, int]] | None:
    """(offset, length with prefix) of every frame when ``data`` is well-formed length-prefixed ITCH 5.0."""
    frames, pos = [], 0
    while pos < len(data):
        if pos + 3 > len(data):
            return None
        size = data[pos] << 8 | data[pos + 1]
        if size == 0 or LENGTH_BY_TYPE[data[pos + 2]] != size or pos + 2 + size > len(data):
            return None
        frames.append((pos, size + 2))
        pos += size + 2
    return frames


class Original(tuple[bytes, Read, list[tuple[int, int]]]):
    """The fixture's bytes, what it reads as, and its frames; a short repr keeps hypothesis reports readable."""

    def __repr__(self) -> str:
        return "<sample.itch>"


@pytest.fixture(scope="module")
def original(data_dir: Path) -> Original:
    data = (data_dir / FIXTURE).read_bytes()
    read = _read(data)
    frames = _frames(data)
    assert isinstance(read, Read) and frames is not None
    assert len(read.messages) == len(frames) == 1000 and len(read.events) == 3 and read.quality.anomalies == 0
    return Original((data, read, frames))


def _check_contract(mutated: bytes, original: Read) -> Read | DataError:
    """The three promises of the module docstring, for any mutation."""
    got = _read(mutated)
    if isinstance(got, DataError):
        assert str(got).startswith("<bytes>")  # names the input; ``byte offset`` where there is one
        return got
    inflated = gzip.decompress(mutated) if mutated[:2] == b"\x1f\x8b" else mutated
    if got.framing == "length":
        assert got.consumed == len(inflated)
    assert len(got.messages) == got.quality.rows - got.skipped
    assert got.quality.events == len(got.events)
    if got.quality.anomalies == 0 and (got.messages, got.events) != (original.messages, original.events):
        assert got.framing == "length" and _frames(inflated) is not None, "a change that nothing counted"
    return got


_Mutation = Callable[[bytes], bytes]


def _mutation(size: int) -> st.SearchStrategy[tuple[str, _Mutation]]:
    at = st.integers(0, size - 1)
    span = st.integers(1, 64)
    junk = st.binary(min_size=1, max_size=48)
    return st.one_of(
        st.builds(lambda p: ("truncate", lambda d: d[:p]), at),
        st.builds(lambda p, m: ("flip", lambda d: d[:p] + bytes([d[p] ^ m]) + d[p + 1 :]), at, st.integers(1, 255)),
        st.builds(lambda p, j: ("insert", lambda d: d[:p] + j + d[p:]), at, junk),
        st.builds(lambda p, n: ("delete", lambda d: d[:p] + d[p + n :]), at, span),
        st.builds(lambda p, n: ("duplicate", lambda d: d[: p + n] + d[p : p + n] + d[p + n :]), at, span),
        st.builds(lambda p, q, n: ("move", lambda d: _move(d, p, q, n)), at, at, span),
    )


def _move(data: bytes, p: int, q: int, n: int) -> bytes:
    piece = data[p : p + n]
    rest = data[:p] + data[p + n :]
    q = min(q, len(rest))
    return rest[:q] + piece + rest[q:]


@FUZZ
@given(data=st.data())
def test_any_byte_mutation_raises_only_data_error_and_never_hides_a_change(
    original: Original, data: st.DataObject
) -> None:
    raw, before, _ = original
    _, mutate = data.draw(_mutation(len(raw)))
    _check_contract(mutate(raw), before)


@FUZZ
@given(cut=st.integers(0, 40_873), chunk=st.sampled_from([300, 1 << 14]))
def test_a_cut_inside_a_message_is_counted_at_its_offset_and_a_cut_between_keeps_the_prefix(
    original: Original, cut: int, chunk: int
) -> None:
    raw, before, frames = original
    got = _read(raw[:cut], chunk)
    whole = [i for i, (at, n) in enumerate(frames) if at + n <= cut]
    if cut == 0:
        assert isinstance(got, DataError) and str(got) == "<bytes>, byte offset 0: " + EMPTY
        return
    if cut < 3:  # not even one message header: no framing to recognise
        assert isinstance(got, DataError) and "are neither length-prefixed nor back-to-back" in str(got)
        return
    assert isinstance(got, Read)
    assert got.messages == before.messages[: len(whole)]
    start = frames[len(whole)][0] if len(whole) < len(frames) else cut
    if start == cut:
        assert got.quality.anomalies == 0
    else:
        assert got.quality.malformed == 1
        assert got.quality.first_problem.startswith(f"<bytes>, byte offset {start}: the input ends inside a message")


@FUZZ
@given(index=st.integers(0, 999), which=st.sampled_from([0, 1]), mask=st.integers(1, 255))
def test_a_changed_length_prefix_is_always_detected(original: Original, index: int, which: int, mask: int) -> None:
    raw, before, frames = original
    at = frames[index][0] + which
    got = _check_contract(raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1 :], before)
    assert isinstance(got, DataError) or got.quality.anomalies > 0


@FUZZ
@given(index=st.integers(0, 999), mask=st.integers(1, 255))
def test_a_changed_type_byte_is_detected_unless_the_new_type_has_the_same_length(
    original: Original, index: int, mask: int
) -> None:
    raw, before, frames = original
    at = frames[index][0] + 2
    new = raw[at] ^ mask
    got = _check_contract(raw[:at] + bytes([new]) + raw[at + 1 :], before)
    if LENGTH_BY_TYPE[new] == LENGTH_BY_TYPE[raw[at]]:  # by design: a valid message of another type
        assert isinstance(got, Read) and len(got.messages) == 1000
        assert (
            got.messages[:index] == before.messages[:index]
            and got.messages[index + 1 :] == before.messages[index + 1 :]
        )
    else:
        assert isinstance(got, DataError) or got.quality.anomalies > 0


@FUZZ
@given(index=st.integers(0, 999), offset=st.integers(3, 38), mask=st.integers(1, 255))
def test_a_changed_body_byte_changes_at_most_its_own_message(
    original: Original, index: int, offset: int, mask: int
) -> None:
    raw, before, frames = original
    at, n = frames[index]
    if offset >= n:
        offset = 3 + offset % (n - 3)
    p = at + offset
    got = _check_contract(raw[:p] + bytes([raw[p] ^ mask]) + raw[p + 1 :], before)
    assert isinstance(got, Read) and len(got.messages) == 1000  # the framing is untouched
    changed = [i for i, (a, b) in enumerate(zip(got.messages, before.messages, strict=True)) if a != b]
    assert changed == [index]


@pytest.mark.parametrize("index", [81, 264, 582])  # the three trading actions (H), the only messages with events
def test_a_repeated_trading_action_is_by_design_but_one_back_in_time_is_out_of_order(
    original: Original, index: int
) -> None:
    raw, before, frames = original
    at, n = frames[index]
    assert raw[at + 2] == ord("H")
    twice = raw[: at + n] + raw[at : at + n] + raw[at + n :]  # the same H again: same time, so in order
    got = _check_contract(twice, before)
    k = [81, 264, 582].index(index)
    assert isinstance(got, Read) and got.events == before.events[: k + 1] + before.events[k:]
    assert got.quality.anomalies == 0  # by design: historical files carry no sequence numbers to tell
    back = twice[: at + n + 7] + (1).to_bytes(6, "big") + twice[at + n + 13 :]  # the copy at 1 ns after midnight
    got = _check_contract(back, before)
    assert isinstance(got, Read) and got.events == before.events and got.quality.out_of_order == 1
    assert got.quality.first_problem.startswith(f"<bytes>, byte offset {at + n}: time goes back within stock locate")


@FUZZ
@given(data=st.data())
def test_gzip_of_a_mutated_file_reads_as_the_plain_one_and_a_cut_gzip_is_counted(
    original: Original, data: st.DataObject
) -> None:
    raw, before, _ = original
    _, mutate = data.draw(_mutation(len(raw)))
    mutated = mutate(raw)
    packed = gzip.compress(mutated, mtime=0)
    plain, zipped = _read(mutated), _check_contract(packed, before)
    if isinstance(plain, DataError):
        assert isinstance(zipped, DataError) and str(zipped) == str(plain)
        return
    assert isinstance(zipped, Read)
    assert (zipped.messages, zipped.events, zipped.quality) == (plain.messages, plain.events, plain.quality)
    got = _read(packed[: data.draw(st.integers(10, len(packed) - 1))])
    assert isinstance(got, DataError) or (
        got.quality.malformed >= 1 and got.messages == plain.messages[: len(got.messages)]
    )
