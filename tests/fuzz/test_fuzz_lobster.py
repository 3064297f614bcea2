"""LOBSTER reader under mutated real files: a DataError naming the place, a count, or events the change explains.

Slices (the first rows of both members) of two shared sample days are mutated one member at a time (see
``text_mutations``) and re-zipped under the original member names. What each outcome is allowed to be:

- any exception but ``DataError`` is a failure;
- a change of the number of message or orderbook rows must raise (the two members are one row per message);
- a message row changed without an error or a count must change the events, unless it changed only fields that
  the events of its type do not carry (the price of a deletion, the order id of a hidden execution, ...);
- an orderbook change without an error may only change what is read from the orderbook (the initial book and
  ``DepthRevealed``): the order and trade events stay those of the original;
- counts are complete: ``rows`` is the message rows, ``events`` what was yielded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster_events import LobsterEvents
from tapeflow.data.quality import SourceQuality
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import BookSnapshot
from tests.fuzz.text_mutations import Mutation, head_lines, mutations, read_zip, write_zip

SAMPLES = "lobster-samples-2012-06-21"
FILES = ("LOBSTER_SampleFile_GOOG_2012-06-21_1.zip", "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
ROWS = 300

Row = tuple[int, int, int, int, int, int]


def _parse(line: bytes) -> Row | None:
    """A message row as the format defines it (time to the nanosecond, half up), independently of the reader."""
    fields = line.removesuffix(b"\r").split(b",")
    if len(fields) != 6:
        return None
    try:
        seconds = Decimal(fields[0].decode("ascii"))
        kind, oid, size, price, direction = (int(f) for f in fields[1:])
    except (ValueError, UnicodeDecodeError, InvalidOperation):
        return None
    return int((seconds * 10**9).to_integral_value(ROUND_HALF_UP)), kind, oid, size, price, direction


def _lines(data: bytes) -> list[bytes]:
    """Lines as a reader sees them: a last line without a newline counts unless it is blank."""
    lines = data.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    return lines


def _carried(row: Row) -> tuple[int, ...]:
    """The fields of a message that its events always carry (a change of any of them must show)."""
    ts, kind, oid, size, price, direction = row
    if kind == 1:
        return kind, ts, oid, size, price, direction
    if kind in (2, 4):
        return kind, ts, oid, size
    if kind == 3:
        return kind, ts, oid
    if kind == 5:
        return kind, ts, size, price, direction
    if kind == 6:
        return kind, ts, size, price
    return (kind, ts, price) if price in (-1, 0, 1) else (kind,)


def _from_messages(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, DepthRevealed | BookSnapshot)]


def _read(path: Path) -> tuple[list[Event] | None, SourceQuality, DataError | None]:
    reader = LobsterEvents(path)
    try:
        events = list(reader)
    except DataError as exc:
        return None, reader.quality(), exc
    return events, reader.quality(), None


class Day:
    """A slice of a shared day: its zip path (rewritten per example), its two members, its events."""

    def __init__(self, path: Path, members: dict[str, bytes], events: list[Event]) -> None:
        self.path, self.members, self.events = path, members, events

    def __repr__(self) -> str:
        return f"Day({self.path.name})"


@pytest.fixture(scope="module", params=FILES)
def day(request: pytest.FixtureRequest, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Day:
    members = {
        name: head_lines(data, ROWS)
        for name, data in read_zip(data_dir / SAMPLES / request.param).items()
        if "_message_" in name or "_orderbook_" in name
    }
    assert len(members) == 2
    folder = tmp_path_factory.mktemp("lobster")
    events, quality, error = _read(write_zip(folder / request.param, members))
    assert error is None and events is not None and quality.rows == ROWS and quality.anomalies == 0
    return Day(folder / request.param, members, events)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_day_raises_counts_or_changes_what_the_mutation_explains(day: Day, data: st.DataObject) -> None:
    path, members, original = day.path, day.members, day.events
    member = data.draw(st.sampled_from(sorted(members)), label="member")
    mutation: Mutation = data.draw(mutations(members[member]), label="mutation")
    write_zip(path, {**members, member: mutation.data})
    events, quality, error = _read(path)
    is_message = "_message_" in member
    before, after = _lines(members[member]), _lines(mutation.data)
    kind = "message" if is_message else "orderbook"
    event(f"{kind} {mutation.op}: {'DataError' if error else 'read'}")
    if error is not None:
        assert str(path) in str(error)
        assert error.line is not None or error.offset is not None or "empty" in str(error)
        return
    assert events is not None
    assert len(after) == len(before), f"{mutation.op} changed the row count of {member} without a DataError"
    assert quality.events == len(events) and quality.rows == ROWS
    if quality.duplicates:
        assert member in quality.first_problem and ", line " in quality.first_problem
        return
    if not is_message:
        assert _from_messages(events) == _from_messages(original), "an orderbook change altered message events"
        return
    old_rows = [_parse(line) for line in before]
    new_rows = [_parse(line) for line in after]
    assert None not in new_rows, "the reader accepted a row the format does not allow"
    if new_rows == old_rows:
        assert events == original
    elif [_carried(r) for r in new_rows if r] != [_carried(r) for r in old_rows if r]:
        assert events != original, f"{mutation.op} of line {mutation.lines} changed a message but not the events"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 1 << 30))
def test_message_member_cut_short_is_refused_with_its_place(day: Day, size: int) -> None:
    path, members = day.path, day.members
    message = next(name for name in members if "_message_" in name)
    cut = members[message][: size % len(members[message])]
    assume(cut and not cut.endswith(b"\n"))  # nothing left, or whole rows left: other tests cover those
    write_zip(path, {**members, message: cut})
    with pytest.raises(DataError) as info:
        list(LobsterEvents(path))
    assert info.value.line is not None and str(path) in str(info.value)
