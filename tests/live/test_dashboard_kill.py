"""The dashboard kill's request body: any bytes are a reason or a stated problem, never an exception; a token shorter
than 16 characters is refused before anything listens. (The kill itself, on a running node: test_dashboard.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.engine.inbox import Inbox
from tapeflow.live.control_desk import ControlDesk
from tapeflow.live.dashboard_kill import MAX_BODY, MAX_REASON, KillLever, kill_reason, read_body
from tapeflow.model import ConfigError


@given(st.binary(max_size=600))
def test_any_body_is_a_reason_or_a_problem(body: bytes) -> None:
    reason, problem = kill_reason(body)
    if problem:
        assert reason == ""
    else:
        assert len(reason) <= MAX_REASON


@given(st.text(max_size=MAX_REASON + 20))
def test_a_json_reason_is_taken_exactly_up_to_the_limit(text: str) -> None:
    reason, problem = kill_reason(json.dumps({"reason": text}).encode())
    if len(text) <= MAX_REASON:
        assert (reason, problem) == (text, "")
    else:
        assert reason == "" and str(MAX_REASON) in problem


def test_an_empty_body_is_no_reason_and_a_long_one_is_not_read_past_the_limit() -> None:
    assert kill_reason(b"") == ("", "") and kill_reason(b"  \n") == ("", "")

    async def chunks(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield b"x" * 1024

    assert asyncio.run(read_body(chunks(2))) == b"x" * 2048
    assert asyncio.run(read_body(chunks(100))) is None and MAX_BODY < 100 * 1024
    assert "over" in kill_reason(None)[1]


def test_a_token_shorter_than_16_characters_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        KillLever(token="x" * 15, inbox=Inbox(), desk=ControlDesk(), now=lambda: 0)
    lever = KillLever(token="x" * 16, inbox=Inbox(), desk=ControlDesk(), now=lambda: 0)
    assert lever.authorized("x" * 16) and not lever.authorized("x" * 15) and not lever.authorized(None)
