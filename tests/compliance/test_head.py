"""The head file's lines and a kept head: what the writer writes reads back the same; what a user types is checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.compliance.head import (
    ExpectedHead,
    Head,
    append_head,
    format_head,
    head_path,
    parse_expected,
    parse_head,
    read_heads,
    signed_head,
)
from tapeflow.model import ConfigError, DataError

HASH = bytes(range(32))


@settings(max_examples=50, deadline=None)
@given(
    run=st.integers(0, 2**40),
    seq=st.integers(0, 2**60),
    digest=st.binary(min_size=32, max_size=32),
    key=st.none() | st.binary(min_size=1, max_size=40),
)
def test_a_head_line_reads_back_as_written(run: int, seq: int, digest: bytes, key: bytes | None) -> None:
    head = signed_head(key, run, seq, digest)
    assert bool(head.mac) == (key is not None)
    assert parse_head(format_head(head), 7) == head._replace(line=7)


def test_a_signed_head_depends_on_every_value_and_the_key() -> None:
    base = signed_head(b"k", 1, 10, HASH).mac
    assert base != signed_head(b"k", 2, 10, HASH).mac
    assert base != signed_head(b"k", 1, 11, HASH).mac
    assert base != signed_head(b"k", 1, 10, HASH[::-1]).mac
    assert base != signed_head(b"other", 1, 10, HASH).mac


@pytest.mark.parametrize(
    "line",
    ["", "garbage", f"run=1 seq=2 hash={HASH.hex()[:-2]} mac=-", f"run=1 seq=x hash={HASH.hex()} mac=-"],
    ids=["empty", "garbage", "short-hash", "bad-seq"],
)
def test_an_unreadable_head_line_comes_back_with_no_hash(line: str) -> None:
    assert parse_head(line, 3) == Head(0, 0, b"", b"", 3)


def test_head_file_is_appended_beside_the_database_and_read_back_in_order(tmp_path: Path) -> None:
    path = head_path(tmp_path / "trail.db")
    assert path.name == "trail.db.head"
    assert read_heads(path) == []  # no head file yet: nothing to check
    first, second = signed_head(b"k", 1, 5, HASH), signed_head(None, 2, 9, HASH[::-1])
    append_head(path, first)
    append_head(path, second)
    assert read_heads(path) == [first._replace(line=1), second._replace(line=2)]


def test_an_unreadable_head_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "trail.db.head"
    path.mkdir()
    with pytest.raises(DataError, match=r"trail\.db\.head: cannot read the head file: Is a directory; make it"):
        read_heads(path)


def test_expected_head_takes_seq_and_hash_or_the_hash_alone() -> None:
    assert parse_expected(f"12:{HASH.hex()}") == ExpectedHead(12, HASH)
    assert parse_expected(f" {HASH.hex().upper()}\n") == ExpectedHead(None, HASH)


@pytest.mark.parametrize("text", ["12:abc", HASH.hex() + "00", f"0:{HASH.hex()}", f"x:{HASH.hex()}", ""])
def test_a_malformed_expected_head_is_a_user_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"field `expect-head`: .* is not a head; pass SEQ:HEX or HEX"):
        parse_expected(text)
