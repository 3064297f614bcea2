"""Risk refusals explained by rule: count, first sentence, limit and value, largest value."""

from __future__ import annotations

from tapeflow.model.orders import RiskRejected
from tapeflow.report.rejections import RejectionLog


def _rejected(ts: int, rule: str, value: int | str | None, limit: int | str | None = 1_000) -> RiskRejected:
    return RiskRejected(
        ts_event=ts,
        ts_init=ts,
        strategy_id="s",
        client_order_id=f"s-{ts}",
        symbol="AAPL",
        stage="order",
        rule=rule,
        reason=f"order quantity {value} exceeds the maximum of {limit} shares",
        limit=limit,
        value=value,
    )


def test_log_keeps_the_first_refusal_and_the_largest_value_per_rule() -> None:
    log = RejectionLog()
    for ts, value in ((1, 1_500), (2, 9_000), (3, 2_000)):
        log.on_rejected(_rejected(ts, "max_quantity", value))
    log.on_rejected(_rejected(4, "allowed_sessions", "closed", limit="regular"))
    report = log.report()
    assert [r["rule"] for r in report] == ["allowed_sessions", "max_quantity"]
    quantity = report[1]
    assert (quantity["count"], quantity["first_value"], quantity["max_value"], quantity["limit"]) == (
        3,
        1_500,
        9_000,
        1_000,
    )
    assert quantity["first_reason"] == "order quantity 1500 exceeds the maximum of 1000 shares"
    assert (quantity["first_ts_ns"], quantity["first_order"]) == (1, "s-1")
    assert report[0]["max_value"] is None  # text values have no maximum


def test_log_of_a_run_without_refusals_is_empty() -> None:
    assert RejectionLog().report() == []
