from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import msgspec
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from rich.console import Console

from tapeflow.book.integrity import IntegrityTotals
from tapeflow.data.quality import SourceQuality
from tapeflow.engine import Kernel
from tapeflow.model import (
    Event,
    LiquiditySide,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderType,
    OrderUpdated,
    Quote,
    RiskRejected,
    Side,
    SubmitOrder,
)
from tapeflow.model.enums import OrderStatus
from tapeflow.model.risk_events import KillSwitchChanged
from tapeflow.portfolio import Portfolio, PortfolioConfig
from tapeflow.report import results
from tapeflow.report.results import Halt, ResultsCollector, Summary, print_summary

SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC  # 2023-11-14 22:13:20 UTC
START = 100_000 * 10_000


def _ids(ts: int, cid: str) -> dict[str, object]:
    return {"ts_event": ts, "ts_init": ts, "strategy_id": "s1", "client_order_id": cid, "symbol": "AAPL"}


def quote(ts: int, bid: int, ask: int) -> Quote:
    return Quote(ts_event=ts, ts_init=ts, symbol="AAPL", bid_price=bid, bid_size=100, ask_price=ask, ask_size=100)


def submit(ts: int, cid: str, side: Side, qty: int, order_type: OrderType, price: int = 0) -> SubmitOrder:
    return SubmitOrder(**_ids(ts, cid), side=side, order_type=order_type, quantity=qty, price=price)  # type: ignore[arg-type]


def filled(
    ts: int, cid: str, side: Side, qty: int, price: int, leaves: int, fee: int, components: dict[str, int] | None = None
) -> OrderFilled:
    return OrderFilled(
        **_ids(ts, cid),  # type: ignore[arg-type]
        side=side,
        price=price,
        quantity=qty,
        leaves_quantity=leaves,
        liquidity_side=LiquiditySide.MAKER if leaves else LiquiditySide.TAKER,
        fee=fee,
        fee_components=components or {},
        trade_id=f"t{ts}",
    )


def tape() -> list[Event]:
    return [
        quote(T0, 1_000_000, 1_000_100),  # mid $100.005
        submit(T0 + 1, "o1", Side.BUY, 100, OrderType.MARKET),
        OrderAccepted(**_ids(T0 + 2, "o1")),  # type: ignore[arg-type]
        filled(T0 + 3, "o1", Side.BUY, 100, 1_000_100, 0, 300, {"commission": 250, "exchange": 50}),
        quote(T0 + 2 * SEC, 1_010_000, 1_010_001),
        submit(T0 + 2 * SEC + 1, "o2", Side.SELL, 200, OrderType.LIMIT, 1_010_000),
        OrderAccepted(**_ids(T0 + 2 * SEC + 2, "o2")),  # type: ignore[arg-type]
        OrderUpdated(**_ids(T0 + 2 * SEC + 2, "o2"), quantity=250, price=1_010_100),  # type: ignore[arg-type]
        filled(T0 + 2 * SEC + 3, "o2", Side.SELL, 100, 1_010_100, 150, -200, {"exchange": -300, "sec_fee": 100}),
        OrderCancelled(**_ids(T0 + 3 * SEC, "o2"), cancelled_quantity=150, reason="user"),  # type: ignore[arg-type]
        submit(T0 + 3 * SEC + 1, "o3", Side.BUY, 50, OrderType.LIMIT, 999_900),
        RiskRejected(**_ids(T0 + 3 * SEC + 1, "o3"), stage="pre", rule="max_qty", reason="too big"),  # type: ignore[arg-type]
    ]


def run(mid_of: results.MidOf | None = None) -> tuple[Portfolio, ResultsCollector]:
    portfolio = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=SEC, sample_clock="timer"))
    collector = ResultsCollector(portfolio=portfolio, mid_of=mid_of)
    kernel = Kernel()
    kernel.add(portfolio)
    kernel.add(collector)
    kernel.start(at=T0)
    kernel.run(tape())
    kernel.finish()
    kernel.stop()
    return portfolio, collector


def test_parquet_files_read_back_with_the_recorded_values(tmp_path: Path) -> None:
    portfolio, collector = run()
    paths = collector.write_parquet(tmp_path)
    assert [p.name for p in paths] == ["orders.parquet", "fills.parquet", "equity.parquet"]

    orders = pq.read_table(tmp_path / "orders.parquet")
    assert orders.column("client_order_id").to_pylist() == ["o1", "o2", "o3"]
    assert orders.column("status").to_pylist() == ["FILLED", "CANCELLED", "RISK_REJECTED"]
    assert orders.column("order_type").to_pylist() == ["MARKET", "LIMIT", "LIMIT"]
    assert orders.column("arrival_mid_x2").to_pylist() == [2_000_100, 2_020_001, 2_020_001]
    assert orders.column("filled_quantity").to_pylist() == [100, 100, 0]
    assert orders.column("quantity").to_pylist() == [100, 250, 50]  # o2 as modified by OrderUpdated
    assert orders.column("price").to_pylist() == [0, 1_010_100, 999_900]
    assert orders.column("ts_done").to_pylist() == [T0 + 3, T0 + 3 * SEC, T0 + 3 * SEC + 1]
    assert orders.column("reason").to_pylist() == ["", "user", "too big"]
    assert str(orders.schema.field("side").type) == "dictionary<values=string, indices=int8, ordered=0>"
    assert str(orders.schema.field("price").type) == "int64"

    fills = pq.read_table(tmp_path / "fills.parquet")
    assert fills.column("price").to_pylist() == [1_000_100, 1_010_100]
    assert fills.column("fee").to_pylist() == [300, -200]
    assert fills.column("side").to_pylist() == ["BUY", "SELL"]
    assert fills.column("liquidity_side").to_pylist() == ["TAKER", "MAKER"]
    assert fills.column("ts_init").to_pylist() == [T0 + 3, T0 + 2 * SEC + 3]
    assert b"tapeflow.units" in fills.schema.metadata

    equity = pq.read_table(tmp_path / "equity.parquet")
    assert equity.column("ts").to_pylist() == list(portfolio.curve.ts)
    assert equity.column("equity").to_pylist() == list(portfolio.curve.equity)
    assert equity.column("equity").to_pylist()[-1] == portfolio.equity()
    assert equity.schema.names == ["ts", "equity", "cash", "gross", "net", "realized", "unrealized", "fees"]


def test_same_events_give_byte_identical_parquet_files(tmp_path: Path) -> None:
    run()[1].write_parquet(tmp_path / "a")
    run()[1].write_parquet(tmp_path / "b")
    for name in ("orders.parquet", "fills.parquet", "equity.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, collector = run()
    collector.write_parquet(tmp_path)
    before = (tmp_path / "fills.parquet").read_bytes()

    def half_write(table: object, where: str, **_: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        collector.write_parquet(tmp_path)
    assert (tmp_path / "fills.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["equity.parquet", "fills.parquet", "orders.parquet"]


def test_written_files_get_the_usual_permissions_not_those_of_a_private_temporary(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        (path,) = [p for p in run()[1].write_parquet(tmp_path) if p.name == "fills.parquet"]
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_summary_metrics_from_a_kernel_run() -> None:
    portfolio, collector = run()
    s = collector.summary()
    assert s.orders == 3 and s.fills == 2
    assert s.orders_by_status == {"CANCELLED": 1, "FILLED": 1, "RISK_REJECTED": 1}
    assert s.fees_units == 100
    assert s.realized_pnl_units == 100 * (1_010_100 - 1_000_100)
    assert s.pnl_units == portfolio.equity() - START
    assert s.round_trips == 1 and s.winning_round_trips == 1 and s.hit_ratio == 1.0
    # the one trip: bought at T0 + 3 ns, sold 2 s later, $100 gross less $0.01 of fees
    assert (s.avg_win_units, s.largest_win_units, s.expectancy_units) == (999_900, 999_900, 999_900)
    assert (s.losing_round_trips, s.avg_loss_units, s.largest_loss_units, s.profit_factor) == (0, None, None, None)
    assert s.avg_holding_ns == 2 * SEC
    # samples at 0, 1, 2, 3 s and 3 s + 1 ns: long at 1 s and 2 s, the sale inside (2 s, 3 s], flat after
    assert s.equity_samples == 5 and s.exposure == 0.75
    # buy 50 units above a mid of 1,000,050 (a cost); sell 99.5 units above a mid of 1,010,000.5 (a gain)
    assert s.avg_slippage_units == pytest.approx((100 * 50 - 100 * 99.5) / 200)
    assert s.limit_orders == 2 and s.limit_fill_ratio == pytest.approx(100 / (250 + 50))  # o2 modified to 250
    assert s.periodicity == "daily" and s.return_periods == 1 and s.sharpe is None  # three seconds: one day
    assert s.traded_notional_units == 100 * 1_000_100 + 100 * 1_010_100
    assert s.fees_by_component_units == {"commission": 250, "exchange": -250, "sec_fee": 100}
    assert s.start_ns == T0 and s.end_ns == T0 + 3 * SEC + 1


def test_order_records_are_not_tracked_by_the_garbage_collector_and_are_updated_in_place() -> None:
    """Round 11 (issue 19): a record holds no container, so the collector need not track it; untracked, a run's
    records (one an order, kept to the end) neither bring on young collections nor are traversed by them. Each
    order's record stays untracked through its submit, accept, modify, fill, cancel or refusal."""
    import gc

    _, collector = run()
    records = list(collector.orders.values())
    assert [r.status for r in records] == [OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.RISK_REJECTED]
    assert [r.filled_quantity for r in records] == [100, 100, 0] and records[1].quantity == 250
    assert not any(gc.is_tracked(r) for r in records)


def test_an_injected_mid_source_is_preferred_to_quotes() -> None:
    _, collector = run(mid_of=lambda symbol: Fraction(2_000_001, 2))
    assert [r.arrival_mid_x2 for r in collector.orders.values()] == [2_000_001] * 3


def test_summary_encodes_to_one_json_object_and_prints_as_a_table() -> None:
    summary = run()[1].summary()
    decoded = json.loads(msgspec.json.encode(summary))
    assert decoded["money_unit"] == "1/10000 USD"
    assert decoded["fees_units"] == 100
    assert msgspec.json.decode(msgspec.json.encode(summary), type=Summary) == summary
    console = Console(record=True, width=120)
    print_summary(summary, console)
    text = console.export_text()
    assert "win rate" in text and "$0.01" in text  # fees: 100 units


def test_a_collector_without_portfolio_still_summarizes_orders_and_writes_an_empty_equity_file(
    tmp_path: Path,
) -> None:
    collector = ResultsCollector()
    kernel = Kernel()
    kernel.add(collector)
    kernel.start(at=T0)
    kernel.run(tape())
    kernel.stop()
    s = collector.summary()
    assert s.sharpe is None and s.final_equity_units is None and s.fills == 2
    collector.write_parquet(tmp_path)
    empty = pq.read_table(tmp_path / "equity.parquet")
    assert empty.num_rows == 0 and empty.schema.names[:2] == ["ts", "equity"]


def _kill(ts: int, engaged: bool, reason: str, source: str = "rule", rule: str = "") -> KillSwitchChanged:
    return KillSwitchChanged(ts_event=ts, ts_init=ts, engaged=engaged, reason=reason, source=source, rule=rule)


def _collect(events: list[Event]) -> ResultsCollector:
    collector = ResultsCollector()
    kernel = Kernel()
    kernel.add(collector)
    kernel.start(at=T0)
    kernel.run(events)
    kernel.stop()
    return collector


def test_a_run_the_kill_switch_halted_keeps_its_first_engagement_even_after_a_reset() -> None:
    collector = _collect(
        [
            _kill(T0 + 5, True, "4 orders within 1000 ms", rule="runaway"),
            _kill(T0 + 6, True, "a second reason is ignored", source="manual"),
            _kill(T0 + 9, False, "operator reset", source="reset"),
        ]
    )
    assert collector.summary().halted == Halt(
        ts_ns=T0 + 5, reason="4 orders within 1000 ms", source="rule", rule="runaway", engaged_at_end=False
    )


def test_a_run_without_engagement_is_not_halted_and_a_reset_alone_does_not_halt_it() -> None:
    assert _collect([]).summary().halted is None
    assert _collect([_kill(T0 + 9, False, "reset", source="reset")]).summary().halted is None


def test_reader_and_book_counts_set_anomalies_only_when_one_is_not_zero() -> None:
    collector = _collect([])
    clean = SourceQuality(source="a.zip", format="lobster", rows=10, events=10)
    assert not collector.summary(data=[clean], books=[IntegrityTotals(symbol="X", stale_ns=0)]).anomalies
    crossed = collector.summary(data=[clean], books=[IntegrityTotals(symbol="X", crossings=1, crossed_ns=5)])
    assert crossed.anomalies and crossed.books[0].crossings == 1
    bad = SourceQuality(source="a.zip", format="lobster", rows=10, events=9, malformed=1)
    assert collector.summary(data=[bad]).anomalies
    decoded = msgspec.json.decode(msgspec.json.encode(crossed))
    assert decoded["anomalies"] is True and decoded["books"][0]["crossed_ns"] == 5 and decoded["data"][0]["rows"] == 10
