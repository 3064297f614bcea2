"""Surveillance: built spoofing, layering, marking-the-close and wash patterns are flagged; a normal trail is not."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.compliance import AuditWriter, SqliteAuditStore
from tapeflow.compliance.surveillance import SurveillanceConfig, review
from tapeflow.model import LiquiditySide, OrderFilled, Side
from tests.backtest.scenario import SYM, T0, px
from tests.compliance.trails import close_actions, close_tape, normal_actions, run_trail, spoof_actions

runner = CliRunner()


def _alerts(path: Path, config: SurveillanceConfig | None = None) -> list[object]:
    return list(review(SqliteAuditStore(path, readonly=True).rows(), config))


def test_normal_strategy_raises_no_alert(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"mom": normal_actions()})
    assert _alerts(tmp_path / "a.db") == []
    out = runner.invoke(app, ["surveil", str(tmp_path / "a.db")])
    assert out.exit_code == 0 and out.stdout.strip() == "no alerts"


def test_large_sell_pulled_while_buying_is_flagged_as_spoofing(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"s": spoof_actions(layers=1)})
    (alert,) = _alerts(tmp_path / "a.db")
    assert alert.kind == "spoofing" and alert.symbol == SYM and alert.strategy_id == "s"  # type: ignore[attr-defined]
    evidence = alert.evidence  # type: ignore[attr-defined]
    assert evidence[0]["order"] == "s-1" and evidence[0]["quantity"] == 5000 and evidence[0]["touch_size"] == 300
    assert evidence[0]["lifetime_ns"] < 1_000_000_000
    assert evidence[1]["fill_of"] == "s-2" and evidence[1]["side"] == "BUY"


def test_a_second_run_reusing_order_ids_keeps_the_first_runs_orders(tmp_path: Path) -> None:
    for _ in range(2):  # the same strategy twice into one trail: s-1 and s-2 are sent again by run 2
        run_trail(tmp_path / "a.db", {"s": spoof_actions(layers=1)})
    (alert,) = _alerts(tmp_path / "a.db")  # the same tape twice: both runs' orders are alive at the same times
    evidence = alert.evidence  # type: ignore[attr-defined]
    assert [e.get("order") for e in evidence if "order" in e] == ["s-1", "s-1"]
    assert [e.get("fill_of") for e in evidence if "fill_of" in e] == ["s-2", "s-2"]


def test_several_price_levels_are_flagged_as_layering_with_json_output(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"s": spoof_actions(layers=3)})
    out = runner.invoke(app, ["surveil", str(tmp_path / "a.db"), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["count"] == 1
    (alert,) = result["alerts"]
    assert alert["kind"] == "layering"
    assert [e.get("price") for e in alert["evidence"][:3]] == ["100.05", "100.06", "100.07"]


def test_spoof_thresholds_come_from_config(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"s": spoof_actions(layers=1)})
    assert _alerts(tmp_path / "a.db", SurveillanceConfig(spoof_min_book_ratio=50.0)) == []
    config = tmp_path / "surv.toml"
    config.write_text("[surveillance]\nspoof_max_lifetime_ns = 100000000\n")
    out = runner.invoke(app, ["surveil", str(tmp_path / "a.db"), "--config", str(config)])
    assert out.stdout.strip() == "no alerts"


def test_large_aggressive_buy_before_the_close_is_flagged(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"eod": close_actions()}, tape=close_tape())
    (alert,) = _alerts(tmp_path / "a.db")
    assert alert.kind == "marking_the_close"  # type: ignore[attr-defined]
    assert "usual 1000 shares" in alert.summary  # type: ignore[attr-defined]
    assert "100.00 -> 100.03" in alert.summary  # type: ignore[attr-defined]
    quiet = SurveillanceConfig(usual_close_volume={SYM: 100_000})
    assert _alerts(tmp_path / "a.db", quiet) == []


def _fill(cid: str, sid: str, side: Side, ts: int, trade_id: str = "") -> OrderFilled:
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        strategy_id=sid,
        client_order_id=cid,
        symbol=SYM,
        side=side,
        price=px("100.01"),
        quantity=100,
        leaves_quantity=0,
        liquidity_side=LiquiditySide.MAKER,
        trade_id=trade_id,
    )


def test_wash_trade_between_two_strategies_of_one_account(tmp_path: Path) -> None:
    writer = AuditWriter(SqliteAuditStore(tmp_path / "w.db"))
    fills = [
        _fill("a-1", "a", Side.BUY, T0, "T1"),
        _fill("b-1", "b", Side.SELL, T0, "T1"),
        _fill("a-2", "a", Side.BUY, T0 + 10**9),
        _fill("c-1", "c", Side.SELL, T0 + 10**9),
    ]
    writer.submit(fills)
    writer.close()
    alerts = _alerts(tmp_path / "w.db", SurveillanceConfig(accounts={"c": "client-7"}))
    assert [(a.kind, a.evidence[0]["fill_of"], a.evidence[1]["fill_of"]) for a in alerts] == [  # type: ignore[attr-defined]
        ("wash_trade", "a-1", "b-1")
    ]


HALF_DAY_CLOSE = 1_353_693_600 * 1_000_000_000
"""2012-11-23 13:00 New York (18:00 UTC): the day after Thanksgiving closes early."""


def test_buying_into_a_half_day_close_is_flagged_at_13_00_not_16_00(tmp_path: Path) -> None:
    when = datetime.datetime.fromtimestamp(HALF_DAY_CLOSE // 1_000_000_000, datetime.UTC)
    assert when == datetime.datetime(2012, 11, 23, 18, tzinfo=datetime.UTC)
    run_trail(tmp_path / "a.db", {"eod": close_actions(HALF_DAY_CLOSE)}, tape=close_tape(HALF_DAY_CLOSE))
    (alert,) = _alerts(tmp_path / "a.db")
    assert alert.kind == "marking_the_close"  # type: ignore[attr-defined]
    assert "before the 2012-11-23 close, against a usual 1000 shares" in alert.summary  # type: ignore[attr-defined]
    # A fixed 16:00 close (the old behaviour) sees nothing: the orders were three hours before it.
    assert _alerts(tmp_path / "a.db", SurveillanceConfig(calendar="fixed")) == []


def test_an_unknown_surveillance_calendar_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run_trail(tmp_path / "a.db", {"mom": normal_actions()})
    config = tmp_path / "surv.toml"
    config.write_text('[surveillance]\ncalendar = "NOPE"\n')
    out = runner.invoke(app, ["surveil", str(tmp_path / "a.db"), "--config", str(config)])
    assert out.exit_code == 2
    assert (
        "field `surveillance.calendar`: unknown exchange calendar 'NOPE'; use an exchange_calendars code such as XNYS"
        in out.output
    )
