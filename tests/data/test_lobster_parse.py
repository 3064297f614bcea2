"""The numpy message parser must agree with the row-by-row checking parser on every block, or step aside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster_parse import _parse_block, parse_block, parse_block_fast
from tapeflow.model.errors import DataError

times = st.one_of(
    st.integers(0, 86_399).map(str),
    st.tuples(st.integers(0, 86_399), st.integers(1, 12)).flatmap(
        lambda t: st.text("0123456789", min_size=t[1], max_size=t[1]).map(lambda f: f"{t[0]}.{f}")
    ),
)
rows = st.tuples(
    times,
    st.integers(1, 7),
    st.integers(0, 10**12),
    st.integers(0, 10**6),
    st.integers(-(10**10), 10**10),
    st.sampled_from([1, -1]),
).map(lambda r: ",".join(map(str, r)))


@given(st.lists(rows, min_size=1, max_size=40), st.integers(0, 10**18))
def test_fast_parse_equals_checking_parse(lines: list[str], base: int) -> None:
    block = ("\n".join(lines) + "\n").encode()
    slow = _parse_block(block.split(b"\n")[:-1], "f", 1, base)
    fast = parse_block_fast(block, len(lines), base)
    if fast is not None:
        assert list(fast) == list(slow)
    assert list(parse_block(block, len(lines), "f", 1, base)) == list(slow)


def test_fast_parse_steps_aside_for_garbage() -> None:
    for bad in (b"1.5,1,2,3,4\n", b"1.5,1,2,3,4,x\n", b"1.5,1,,3,4,1\n", b"1.5.5,1,2,3,4,1\n", b"1.5,1,2,3,4,1,\n"):
        assert parse_block_fast(bad, 1, 0) is None


# The pyarrow fast path must never accept a block the checking parser refuses, nor read one differently.

_noisy_field = st.text("0123456789.-+e \r\t", min_size=0, max_size=14)
_noisy_rows = st.tuples(
    st.one_of(times, _noisy_field),
    st.one_of(st.integers(1, 7).map(str), _noisy_field),
    st.one_of(st.integers(-(2**63), 2**63 - 1).map(str), _noisy_field),
    st.one_of(st.integers(0, 10**6).map(str), _noisy_field),
    st.one_of(st.integers(-(2**63), 2**63).map(str), _noisy_field),
    st.sampled_from(["1", "-1", " 1", "+1", "0"]),
).map(lambda r: ",".join(r))


@settings(max_examples=300, deadline=None)
@given(st.lists(_noisy_rows, min_size=1, max_size=12), st.integers(0, 10**18))
def test_parse_of_noisy_rows_refuses_or_reads_as_the_checking_parse(lines: list[str], base: int) -> None:
    block = ("\n".join(lines) + "\n").encode()
    rows = len(lines)
    try:
        slow: list[list[int]] | None = [list(c) for c in _parse_block(block.split(b"\n")[:rows], "f", 1, base)]
    except DataError:
        slow = None
    if slow is None:
        with pytest.raises(DataError):
            parse_block(block, rows, "f", 1, base)
    else:
        assert [list(c) for c in parse_block(block, rows, "f", 1, base)] == slow


@pytest.mark.parametrize(
    "time",
    [b"+5.5", b".5", b"5.", b"-0.0", b"-5.5", b"1e3", b" 5.5", b"5.5 ", b"5.1234567890123"],
)
def test_fast_parse_steps_aside_for_times_pyarrow_reads_but_the_format_does_not(time: bytes) -> None:
    assert parse_block_fast(time + b",1,2,3,4,1\n", 1, 0) is None


def test_fast_parse_steps_aside_for_a_bare_carriage_return_that_pyarrow_takes_for_a_line_end() -> None:
    block = b"1.5,1,2,3,4,1\r1.6,1,3,3,4,1\n"
    assert parse_block_fast(block, 1, 0) is None
    with pytest.raises(DataError, match=r"malformed message row .*has 11 fields, expected 6") as info:
        parse_block(block, 1, "f.zip!m.csv", 7, 0)
    assert info.value.line == 7


def test_fast_parse_steps_aside_for_the_int64_minimum_the_checking_parser_refuses() -> None:
    block = b"1.5,1,-9223372036854775808,3,4,1\n"
    assert parse_block_fast(block, 1, 0) is None
    with pytest.raises(DataError, match="does not fit a 64-bit integer"):
        parse_block(block, 1, "f", 1, 0)


def test_fast_parse_rounds_the_tenth_decimal_half_up_to_the_nanosecond() -> None:
    fast = parse_block_fast(b"43002.632812672004,1,2,3,4,1\n1.0000000005,1,2,3,4,1\n1.000000000499,1,2,3,4,1\n", 3, 0)
    assert fast is not None
    assert fast[0] == [43_002_632_812_672, 1_000_000_001, 1_000_000_000]


def test_fast_parse_steps_aside_when_the_day_base_would_wrap_int64() -> None:
    base = (1 << 63) - 1_000_000_000
    assert parse_block_fast(b"1.5,1,2,3,4,1\n", 1, base) is None
    assert parse_block(b"1.5,1,2,3,4,1\n", 1, "f", 1, base)[0] == [base + 1_500_000_000]


def test_fast_parse_steps_aside_for_an_empty_line_that_pyarrow_reads_as_a_row_of_nulls() -> None:
    assert parse_block_fast(b"1.5,1,2,3,4,1\n\n", 2, 0) is None
    with pytest.raises(DataError, match="has 1 fields, expected 6") as info:
        parse_block(b"1.5,1,2,3,4,1\n\n", 2, "f", 1, 0)
    assert info.value.line == 2
