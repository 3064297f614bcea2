"""The numpy message parser must agree with the row-by-row checking parser on every block, or step aside."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tapeflow.data.lobster_parse import _parse_block, parse_block, parse_block_fast

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
