"""``chain.verify`` on chains built in memory: runs, checkpoints, head lines and a kept head, each checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tapeflow.compliance.chain import GENESIS, Checkpoint, Row, record_hash, row_of, run_of, signed_checkpoint, verify
from tapeflow.compliance.head import ExpectedHead, Head, signed_head
from tapeflow.model import Signal
from tapeflow.model.codec import to_msgpack

KEY = b"chain-key"
T0 = 1_718_978_400_000_000_000


def _chain(n: int) -> list[Row]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = to_msgpack(
            Signal(ts_event=T0 + seq, ts_init=T0 + seq, strategy_id="s", symbol="A", name="x", value=1.0, reason="r")
        )
        digest = record_hash(prev, seq, body, b"")
        rows.append(row_of(seq, body, None, prev, digest))
        prev = digest
    return rows


ROWS = _chain(30)
RUNS = [(1, 1), (2, 11), (3, 21)]
"""Three runs of ten records, each committed in two transactions of five."""
CPS = [
    signed_checkpoint(KEY, "k", 1 + (s - 1) // 10, 1 + (s - 1) // 10 * 10, s, ROWS[s - 1].hash) for s in range(5, 31, 5)
]
HEADS = [signed_head(KEY, run, run * 10, ROWS[run * 10 - 1].hash)._replace(line=run) for run in (1, 2, 3)]


def test_an_intact_chain_with_its_runs_checkpoints_and_heads_verifies() -> None:
    result = verify(ROWS, CPS, KEY, runs=RUNS, heads=HEADS, expect=ExpectedHead(None, ROWS[19].hash))
    assert result.ok, result.problem
    assert (result.records, result.checkpoints, result.runs, result.heads) == (30, 6, 3, 3)
    assert result.expected_head and result.head == f"30:{ROWS[-1].hash.hex()}"


def test_run_of_finds_the_run_that_wrote_a_record() -> None:
    firsts = [first for _, first in RUNS]
    assert [run_of(firsts, s) for s in (1, 10, 11, 20, 21, 30)] == [1, 1, 2, 2, 3, 3]


def test_a_tail_cut_with_its_checkpoints_but_not_its_runs_is_named_as_missing_records() -> None:
    result = verify(ROWS[:14], CPS[:2], KEY, runs=RUNS)
    assert not result.ok and result.first_bad_seq == 15
    assert result.problem == "records from 15 on are missing: run 3 started at record 21 (the tail was cut off)"


@pytest.mark.parametrize(
    ("runs", "says"),
    [
        ([(1, 1), (2, 12), (3, 21)], "checkpoint 15 was signed by run 2 starting at record 11"),
        ([(1, 1), (3, 11), (2, 21)], "run 3 starting at record 11 cannot be run 2"),
        ([(1, 2), (2, 11), (3, 21)], "run 1 starting at record 2 cannot be run 1"),
        ([], "checkpoint 5 was signed by run 1 starting at record 1"),
    ],
    ids=["moved", "renumbered", "first-moved", "emptied"],
)
def test_an_edited_run_table_fails(runs: list[tuple[int, int]], says: str) -> None:
    result = verify(ROWS, CPS, KEY, runs=runs)
    assert not result.ok and says in result.problem
    assert "the run table was edited" in result.problem


def test_an_emptied_run_table_fails_without_the_key_too() -> None:
    result = verify(ROWS, runs=[])
    assert result.first_bad_seq == 1 and result.problem == "the run table was emptied: no run wrote records 1..30"


def test_checkpoints_are_read_as_the_records_pass_not_held() -> None:
    """A long trail has a checkpoint per commit: verify consumes them lazily, in step with the records."""
    taken: list[int] = []

    def lazily() -> Iterator[Checkpoint]:
        for cp in CPS:
            taken.append(cp.seq)
            yield cp

    rows = iter(ROWS)
    first = next(rows)
    calls = []

    def watched() -> Iterator[Row]:
        yield first
        for row in rows:
            calls.append((row.seq, list(taken)))
            yield row

    assert verify(watched(), lazily(), KEY).ok
    assert dict(calls)[6] == [5, 10]  # at record 6, only the checkpoint at 5 and the next one have been read


def test_head_lines_must_be_signed_in_order_and_name_records_of_this_chain() -> None:
    unsigned = HEADS[0]._replace(mac=b"")
    result = verify(ROWS, CPS, KEY, heads=[unsigned])
    assert "head file line 1 is not signed (written without the key)" in result.problem
    assert verify(ROWS, heads=[unsigned]).ok  # without the key a head line is checked against the chain only
    back = [HEADS[1], HEADS[0]._replace(line=2)]
    assert "head file line 2 goes back to record 10 after 20" in verify(ROWS, CPS, KEY, heads=back).problem
    other = signed_head(KEY, 1, 10, ROWS[8].hash)._replace(line=1)
    result = verify(ROWS, CPS, KEY, heads=[other])
    assert result.first_bad_seq == 10 and "record 10 differs from head file line 1" in result.problem
    wrong_run = signed_head(KEY, 2, 10, ROWS[9].hash)._replace(line=1)
    assert "head file line 1 names run 2 at 10" in verify(ROWS, CPS, KEY, runs=RUNS, heads=[wrong_run]).problem
    unreadable = Head(0, 0, b"", b"", 4)
    result = verify(ROWS, heads=[unreadable])
    assert result.first_bad_seq is None and result.problem == "head file line 4 cannot be read (edited or replaced)"


def test_with_the_key_an_empty_trail_or_unsigned_records_fail() -> None:
    assert verify([], key=KEY).problem.startswith("the trail holds no records and no signed checkpoint")
    assert verify([]).ok  # without the key there is nothing to hold an empty file against
    result = verify(ROWS, CPS[:-1], KEY)
    assert result.first_bad_seq == 26 and result.problem.startswith(
        "records 26..30 are not covered by a signed checkpoint (the last signed checkpoint is at 25)"
    )


def test_an_expected_head_names_where_the_chain_differs_or_how_much_is_missing() -> None:
    result = verify(ROWS[:20], expect=ExpectedHead(30, ROWS[29].hash))
    assert result.first_bad_seq == 21 and "records 21..30 are missing: the expected head is record 30" in result.problem
    result = verify(ROWS, expect=ExpectedHead(12, ROWS[29].hash))
    assert result.first_bad_seq == 12 and "record 12 differs from the expected head" in result.problem
    result = verify(ROWS[:20], expect=ExpectedHead(None, ROWS[29].hash))
    assert result.first_bad_seq is None and result.problem.startswith("the expected head is not in the trail")


def test_records_after_the_last_head_line_are_counted_not_failed() -> None:
    """A run whose writer was killed writes no head line; its records are signed, so they verify, and are counted."""
    result = verify(ROWS, CPS, KEY, heads=HEADS[:1])
    assert result.ok and result.unanchored == 20
    assert verify(ROWS, CPS, KEY, heads=HEADS).unanchored == 0
    assert verify(ROWS, CPS, KEY).unanchored == 0  # no head file: nothing to count from
