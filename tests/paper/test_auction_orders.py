"""alpaca-py's ``opg`` and ``cls`` orders on a real TAQ day: the paper venue fills them at the tape's crosses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from tapeflow.data.taq import TaqReader
from tapeflow.model.market import Trade
from tapeflow.node import NodeConfig
from tapeflow.paper.auth import require_base_url
from tapeflow.paper.venue import PaperVenue

from .conftest import HEADERS, KEY, SECRET, Served


@pytest.fixture
def bac_day(data_dir: Path) -> list[Trade]:
    """BAC's prints of 2013-10-07 (AlgoSeek TAQ): an opening print at 13.90, a first closing print at 13.80."""
    path = data_dir / "lean-algoseek-us-equity" / "tick" / "bac" / "20131007_trade.zip"
    if not path.exists():
        pytest.skip(f"no TAQ data at {path}")
    return [e for e in TaqReader(path) if isinstance(e, Trade)]


@pytest.fixture
def served(bac_day: list[Trade], serve: Callable[[PaperVenue], Served]) -> Iterator[Served]:
    venue = PaperVenue(bac_day, config=NodeConfig(level="L1"), symbols=["BAC"])  # prints only: no book
    venue.step_events(1)  # a pre-market print: BAC is known, the open is ahead
    yield serve(venue)


def _step_past(served: Served, print_: Trade) -> None:
    until = print_.ts_init + 1_000_000
    response = requests.post(f"{served.url}/tapeflow/step", json={"until": until}, headers=HEADERS, timeout=60)
    assert response.status_code == 200


def _filled(client: TradingClient, order: Order) -> tuple[OrderStatus, Decimal, Decimal]:
    seen = client.get_order_by_id(order.id)
    assert isinstance(seen, Order)
    return seen.status, Decimal(str(seen.filled_qty)), Decimal(str(seen.filled_avg_price))


def test_alpaca_pys_opg_and_cls_orders_fill_at_the_tapes_opening_and_closing_prints(
    served: Served, bac_day: list[Trade]
) -> None:
    opening = next(t for t in bac_day if "OPENING_PRINT" in t.conditions)
    closing = next(t for t in bac_day if "CLOSING_PRINT" in t.conditions)
    client = TradingClient(KEY, SECRET, paper=True, url_override=require_base_url(served.url))
    opg = client.submit_order(
        MarketOrderRequest(symbol="BAC", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.OPG)
    )
    assert isinstance(opg, Order) and opg.time_in_force == TimeInForce.OPG
    _step_past(served, opening)
    assert _filled(client, opg) == (OrderStatus.FILLED, Decimal(100), Decimal("13.9"))

    cls = client.submit_order(
        LimitOrderRequest(symbol="BAC", qty=100, side=OrderSide.SELL, limit_price=13.5, time_in_force=TimeInForce.CLS)
    )
    assert isinstance(cls, Order) and cls.time_in_force == TimeInForce.CLS
    _step_past(served, closing)
    assert _filled(client, cls) == (OrderStatus.FILLED, Decimal(100), Decimal("13.8"))
    assert (opening.price, closing.price) == (139_000, 138_000)
