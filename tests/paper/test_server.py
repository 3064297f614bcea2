"""The paced venue: tape time runs N times as fast as the (injected) wall clock, and the pace ends with the tape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from fractions import Fraction
from itertools import islice
from pathlib import Path

import pytest

from tapeflow.data.lobster_events import iter_events
from tapeflow.model.errors import ConfigError, EngineError
from tapeflow.node import NodeConfig
from tapeflow.paper.auth import accept_any
from tapeflow.paper.config import PaperConfig, load_paper_config
from tapeflow.paper.server import PaperServer, pace, urls
from tapeflow.paper.venue import PaperVenue

MS = 1_000_000


class FakeWall:
    """A wall clock that moves ``tick_ns`` per sleep, and stops the pace after ``sleeps`` of them."""

    def __init__(self, tick_ns: int, sleeps: int) -> None:
        self.ns = 1_000_000_000_000
        self.tick_ns = tick_ns
        self.left = sleeps

    def clock(self) -> int:
        return self.ns

    async def sleep(self, _seconds: float) -> None:
        if self.left == 0:
            raise asyncio.CancelledError
        self.left -= 1
        self.ns += self.tick_ns


@pytest.mark.parametrize("speed", [Fraction(1), Fraction(10), Fraction(1, 2)])
def test_pace_advances_tape_time_by_speed_times_wall_time(
    make_venue: Callable[..., PaperVenue], speed: Fraction
) -> None:
    venue = make_venue()
    start = venue.now
    wall = FakeWall(tick_ns=20 * MS, sleeps=50)  # one second of wall time
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(pace(venue, speed, clock=wall.clock, sleep=wall.sleep))
    assert venue.now - start == int(1_000 * MS * speed)
    assert not venue.done


def test_pace_waits_for_a_client_that_stepped_ahead(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    wall = FakeWall(tick_ns=10 * MS, sleeps=3)
    ahead = venue.now + 5_000 * MS
    paced_sleep = wall.sleep

    async def client_steps_during_the_first_tick(seconds: float) -> None:
        if venue.now < ahead:
            venue.step(ahead)  # POST /tapeflow/step runs on the same loop, between two ticks
        await paced_sleep(seconds)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(pace(venue, Fraction(1), clock=wall.clock, sleep=client_steps_during_the_first_tick))
    assert venue.now == ahead  # 30 ms of paced time is behind the client's step: nothing moved back or raised


def test_pace_returns_when_the_tape_ends(aapl: Path) -> None:
    venue = PaperVenue(islice(iter_events(aapl), 500), config=NodeConfig(level="L3"))
    wall = FakeWall(tick_ns=10 * MS, sleeps=1_000)
    asyncio.run(pace(venue, Fraction(1_000_000), clock=wall.clock, sleep=wall.sleep))
    assert venue.done and wall.left == 999


def test_urls_give_each_alpaca_client_its_own_address() -> None:
    u = urls("127.0.0.1", 8123)
    assert (u.rest, u.trade_stream, u.data_stream) == (
        "http://127.0.0.1:8123",
        "ws://127.0.0.1:8123/stream",
        "ws://127.0.0.1:8123/v2/iex",
    )
    assert urls("::1", 9).rest == "http://[::1]:9"


def _paced_config(tmp_path: Path, aapl: Path, speed: str) -> PaperConfig:
    path = tmp_path / "paper.toml"
    path.write_text(f'[data]\nkind = "lobster"\npaths = ["{aapl}"]\nlimit = 300\n[paper]\nspeed = "{speed}"\n')
    return load_paper_config(path)


def test_a_paced_server_stops_by_itself_at_the_end_of_the_tape(tmp_path: Path, aapl: Path) -> None:
    server = PaperServer(_paced_config(tmp_path, aapl, "1000x"), check=accept_any)
    started: list[str] = []
    asyncio.run(asyncio.wait_for(server.serve(on_started=lambda: started.append(server.urls.rest)), timeout=30))
    assert server.tape_ended and server.venue.done
    assert started == [server.urls.rest] and server.urls.rest.startswith("http://127.0.0.1:")


def test_an_error_while_pacing_stops_the_server_and_is_raised(
    tmp_path: Path, aapl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = PaperServer(_paced_config(tmp_path, aapl, "1x"), check=accept_any)

    def broken(until_ns: int) -> int:
        raise EngineError(f"cannot step to {until_ns}")

    monkeypatch.setattr(server.venue, "step", broken)
    with pytest.raises(EngineError, match="cannot step"):
        asyncio.run(asyncio.wait_for(server.serve(), timeout=30))
    assert not server.tape_ended


def test_an_empty_host_is_refused_before_anything_is_read(tmp_path: Path, aapl: Path) -> None:
    with pytest.raises(ConfigError, match="field `--host`"):
        PaperServer(_paced_config(tmp_path, aapl, "step"), check=accept_any, host="")
