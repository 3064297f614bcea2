"""The compiled reveal scan (``_lobster_core.reveal_flags``, commas and NULs counted a word at a time) against the
reference ``LobsterDecoder._reveal_flags``: for any orderbook rows, the compiled scan gives the reference's flags
or declines (None), and declines every row the reference refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.data.lobster import COMPILED_AVAILABLE, LobsterDecoder
from tapeflow.data.lobster_file import open_lobster
from tapeflow.model import DataError

if COMPILED_AVAILABLE:
    from tapeflow.data import _lobster_core

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")

SAMPLE = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_5.zip"
LEVELS = 5
FIELD = st.one_of(
    st.integers(0, 99_999_999), st.sampled_from([9_999_999_999, -9_999_999_999, 5_800_000, 5_801_000, 0, 1])
)


@st.composite
def rows(draw: Any) -> list[bytes]:
    """Orderbook rows of LEVELS levels, few distinct deepest prices (so flags vary), some damaged."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        fields = [str(draw(FIELD)).encode() for _ in range(4 * LEVELS)]
        line = b",".join(fields)
        if draw(st.integers(0, 3)) == 0:  # damage: a comma, a NUL, a minus or a digit put in or taken out
            at = draw(st.integers(0, len(line)))
            what = draw(st.sampled_from([b",", b"\x00", b"-", b"7", b""]))
            line = line[:at] + what + line[at + (what == b"") :]
        out.append(line)
    return out


@pytest.fixture(scope="module")
def decoder(data_dir: Path) -> LobsterDecoder:
    lf = open_lobster(data_dir / SAMPLE)
    assert lf.levels == LEVELS
    return LobsterDecoder(lf, L3Book(lf.symbol), impl="python")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows(), st.data())
def test_compiled_reveal_scan_gives_the_reference_flags_or_declines(
    decoder: LobsterDecoder, lines: list[bytes], data: st.DataObject
) -> None:
    n = len(lines) - 1  # the first row is the one before the block
    if n == 0:
        return
    prev, block = lines[0], lines[1:]
    kinds = data.draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    dirs = data.draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    first = data.draw(st.booleans())
    text = b"\n".join(block) + b"\n"
    got = _lobster_core.reveal_flags(
        text,
        _lobster_core.row_ends(text),
        prev,
        LEVELS,
        np.array(kinds, dtype=np.int64),
        np.array(dirs, dtype=np.int64),
        first,
    )
    decoder._prev_line = prev
    try:
        expected = decoder._reveal_flags(block, kinds, dirs, 1 if first else 2)
    except DataError:
        assert got is None  # a row the reference refuses: the compiled scan must not accept it
        return
    if got is not None:
        assert [bool(b) for b in got] == expected
    elif not any(b"\x00" in line for line in lines):
        # the compiled scan declines only rows the reference reads otherwise: NULs, or fields it cannot place
        assert any(line.count(b",") != 4 * LEVELS - 1 for line in lines) or any(
            b",," in line or line.startswith(b",") or line.endswith(b",") for line in lines
        )
