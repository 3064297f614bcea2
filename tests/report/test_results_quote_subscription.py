"""The results collector listens to quotes only when nothing else answers the arrival mid (issue 19)."""

from __future__ import annotations

from tapeflow.engine.kernel import Kernel
from tapeflow.model import Quote
from tapeflow.report.results import ResultsCollector

T0 = 1_700_000_000_000_000_000


def _quote() -> Quote:
    return Quote(
        ts_event=T0, ts_init=T0, symbol="AAPL", bid_price=1_000_000, bid_size=100, ask_price=1_000_200, ask_size=100
    )


def test_results_with_a_doubled_mid_source_do_not_subscribe_to_quotes() -> None:
    kernel = Kernel()
    results = ResultsCollector(mid_x2_of=lambda symbol: 42)
    kernel.add(results)
    kernel.run([_quote()])
    assert results._mids_x2 == {}
    assert results._arrival_mid_x2("AAPL") == 42


def test_results_without_a_mid_source_keep_the_last_quote_mid() -> None:
    kernel = Kernel()
    results = ResultsCollector()
    kernel.add(results)
    kernel.run([_quote()])
    assert results._arrival_mid_x2("AAPL") == 2_000_200
