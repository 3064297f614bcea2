"""DBN fixtures: every schema decodes, counts match the files' own record counts, prices exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.data.dbn import DbnReader
from tapeflow.model.market import Bar, BookSnapshot, OrderAdded, Quote, Trade

EXPECTED = {  # schema: (records per SOURCE.md, events)
    "mbo": (4, 4), "mbp-1": (4, 4), "mbp-10": (4, 4), "tbbo": (4, 8), "trades": (4, 4),
    "ohlcv-1s": (4, 4), "ohlcv-1d": (1, 1), "definition": (1, 0), "imbalance": (4, 0),
}  # fmt: skip


@pytest.mark.parametrize("schema", sorted(EXPECTED))
def test_xnas_itch_fixtures(data_dir: Path, schema: str) -> None:
    reader = DbnReader(data_dir / "databento-dbn-us-equity-fixtures/XNAS.ITCH" / f"test_data.{schema}.dbn.zst")
    events = list(reader.events())
    assert (reader.stats.records, len(events)) == EXPECTED[schema]
    assert reader.stats.rounded == 0 and all(getattr(e, "symbol", "NVDA") == "NVDA" for e in events)


def test_values_match_the_documented_records(data_dir: Path) -> None:
    base = data_dir / "databento-dbn-us-equity-fixtures/XNAS.ITCH"
    mbo = list(DbnReader(base / "test_data.mbo.dbn.zst").events())
    first = mbo[0]
    assert isinstance(first, OrderAdded)
    assert (first.ts_event, first.price, first.size, first.order_id) == (1609146088297098637, 5020000, 2, 196851)
    trades = [e for e in DbnReader(base / "test_data.trades.dbn.zst").events() if isinstance(e, Trade)]
    assert [(t.price, t.size) for t in trades] == [(5210000, 36), (5210000, 4), (5210000, 1), (5210100, 1)]
    bar = next(iter(DbnReader(base / "test_data.ohlcv-1d.dbn.zst").events()))
    assert isinstance(bar, Bar) and bar.ts_event == 1609113600000000000 + 86400 * 10**9  # stamped at the close
    snap = next(iter(DbnReader(base / "test_data.mbp-10.dbn.zst").events()))
    assert isinstance(snap, BookSnapshot) and snap.bids


def test_equs_mini_bbo_uses_ts_recv_when_ts_event_is_undefined(data_dir: Path) -> None:
    events = list(DbnReader(data_dir / "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.bbo-1s.dbn.zst").events())
    assert len(events) == 4 and all(isinstance(e, Quote) and e.ts_event == e.ts_init < 2**63 for e in events)
