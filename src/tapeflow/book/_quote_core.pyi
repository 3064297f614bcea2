"""Type stub of the compiled quote handler (``_quote_core.pyx``); the Python reference is
``tapeflow.book.keeper.BookKeeper.on_quote``."""

from collections.abc import Callable

from tapeflow.book.quote_book import FlowQuoteBook, QuoteBook
from tapeflow.model.market import Quote

class QuoteHandler:
    """``BookKeeper.on_quote`` compiled, over the keeper's own books; ``reference`` takes what it does not."""

    @property
    def books(self) -> dict[str, QuoteBook]: ...
    @property
    def reference(self) -> Callable[[Quote], None]: ...
    def __init__(self, books: dict[str, QuoteBook], reference: Callable[[Quote], None]) -> None: ...
    def on_quote(self, quote: Quote) -> None: ...

class FlowQuoteHandler:
    """``BookKeeper.on_quote_flow`` compiled, over the keeper's own flow books; ``reference`` takes what it does not."""

    @property
    def books(self) -> dict[str, FlowQuoteBook]: ...
    @property
    def reference(self) -> Callable[[Quote], None]: ...
    def __init__(self, books: dict[str, FlowQuoteBook], reference: Callable[[Quote], None]) -> None: ...
    def on_quote(self, quote: Quote) -> None: ...
