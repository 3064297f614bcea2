"""Client order ids: today's ids without a run id, the run id in them otherwise, never the same id twice."""

from __future__ import annotations

from tapeflow.execution.order_ids import ClientOrderIds, new_run_id


def test_without_a_run_id_each_strategy_counts_from_one_as_before() -> None:
    ids = ClientOrderIds()
    assert [ids.next("a"), ids.next("b"), ids.next("a")] == ["a-1", "b-1", "a-2"]


def test_with_a_run_id_ids_of_two_runs_never_collide() -> None:
    first, second = ClientOrderIds("R1"), ClientOrderIds("R2")
    one = {first.next("a") for _ in range(100)}
    two = {second.next("a") for _ in range(100)}
    assert len(one) == len(two) == 100 and not one & two
    assert "a-R1-1" in one


def test_a_run_id_is_the_start_time_in_utc_and_a_random_suffix() -> None:
    ts = 1_718_978_400_123_456_789  # 2024-06-21 14:00:00.123 UTC
    assert new_run_id(ts, lambda n: "ab" * n) == "20240621T140000ababab"
    assert new_run_id(ts) != new_run_id(ts)
