"""book: the local order book, the heart of tapeflow.

Layering, bottom up: ``ladder`` (one side: price -> size, best price at hand) -> ``integrity`` (stale,
crossed, unknown orders) -> ``view`` (the read view every book offers) -> ``l2`` (market by price) and ``l3``
(market by order) -> ``depth`` (cost of walking the book) and ``signals`` (microstructure events pushed from
book updates). Readers use the ``BookView`` read methods; feed handlers use the write methods of
``L2Book``/``L3Book``.
"""

from tapeflow.book.depth import ExecutionEstimate, LevelFill, execution_price
from tapeflow.book.integrity import BookHealth
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book, OrderView, QueuePosition
from tapeflow.book.signals import BookSignals, SignalConfig, imbalance, microprice, ofi
from tapeflow.book.view import BookView, Depth, TopOfBook

__all__ = [
    "BookHealth",
    "BookSignals",
    "BookView",
    "Depth",
    "ExecutionEstimate",
    "L2Book",
    "L3Book",
    "LevelFill",
    "OrderView",
    "QueuePosition",
    "SignalConfig",
    "TopOfBook",
    "execution_price",
    "imbalance",
    "microprice",
    "ofi",
]
