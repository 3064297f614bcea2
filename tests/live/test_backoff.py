"""The waits between reconnects: growing, capped, jittered, seeded, and obeying a server's Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.live.backoff import Backoff, BackoffConfig, retry_after_seconds
from tapeflow.model.errors import ConfigError


def test_waits_stay_within_a_bound_that_doubles_up_to_the_cap() -> None:
    backoff = Backoff(BackoffConfig(initial=1.0, cap=8.0, floor=0.01), seed=3)
    bounds = []
    for _ in range(8):
        bound = backoff.bound()
        wait = backoff.next_wait()
        assert 0.01 <= wait <= bound
        bounds.append(bound)
    assert bounds == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]


def test_reset_after_a_success_starts_from_the_initial_bound_again() -> None:
    backoff = Backoff(BackoffConfig(initial=0.5, cap=30.0))
    for _ in range(5):
        backoff.next_wait()
    assert backoff.bound() == 16.0
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.bound() == 0.5


def test_same_seed_same_waits_and_clients_with_different_seeds_do_not_reconnect_in_step() -> None:
    def waits(seed: int) -> list[float]:
        b = Backoff(seed=seed)
        return [b.next_wait() for _ in range(6)]

    assert waits(7) == waits(7)
    assert waits(7) != waits(8)
    # a crowd of 100 clients failing at once: their first retries spread over the whole first bound
    first = sorted(Backoff(seed=s).next_wait() for s in range(100))
    assert first[0] < 0.1 and first[-1] > 0.4


def test_a_longer_retry_after_is_obeyed_and_a_shorter_one_does_not_shorten_the_wait() -> None:
    b = Backoff(BackoffConfig(initial=1.0, cap=1.0, floor=0.5), seed=1)
    assert b.next_wait(retry_after=5.0) == 5.0
    assert b.next_wait(retry_after=0.0) >= 0.5


def test_max_attempts_exhausts() -> None:
    b = Backoff(BackoffConfig(max_attempts=2))
    assert not b.exhausted
    b.next_wait()
    b.next_wait()
    assert b.exhausted
    assert not Backoff(BackoffConfig()).exhausted


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"floor": 0.0}, "live.backoff"),
        ({"initial": 60.0, "cap": 30.0}, "live.backoff"),
        ({"factor": 0.5}, "live.backoff.factor"),
        ({"max_attempts": -1}, "live.backoff.max_attempts"),
    ],
)
def test_bad_bounds_are_one_clear_config_error(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        BackoffConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("-1", None), ("nan", None)],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


@given(st.integers(0, 2**32), st.integers(1, 100))
def test_no_wait_is_ever_below_the_floor_or_above_the_cap(seed: int, failures: int) -> None:
    c = BackoffConfig(initial=0.2, cap=5.0, floor=0.05)
    b = Backoff(c, seed=seed)
    for _ in range(failures):
        assert c.floor <= b.next_wait() <= c.cap
