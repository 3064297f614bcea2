"""Type stub of the compiled L3 block apply (``_l3_core.pyx``); the Python reference is ``tapeflow.book.l3``."""

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt

from tapeflow.book.l3_orders import DictOrders

class L3Sizes(MutableMapping[int, int]):
    """price -> size of one side of an ``L3Book`` in a C table, in insertion order; reads and writes like the dict."""

    def __getitem__(self, key: int) -> int: ...
    def __setitem__(self, key: int, value: int) -> None: ...
    def __delitem__(self, key: int) -> None: ...
    def __iter__(self) -> Iterator[int]: ...
    def __len__(self) -> int: ...

class L3Orders:
    """The resting orders of an ``L3Book`` and its levels' queues in a C table; ``DictOrders``'s methods."""

    def __init__(self, bids: Any, asks: Any) -> None: ...
    @property
    def py(self) -> DictOrders | None: ...
    def get(self, order_id: int, default: None = None) -> tuple[Any, int, int, int] | None: ...
    def __contains__(self, order_id: int) -> bool: ...
    def __len__(self) -> int: ...
    def resize(self, order_id: int, size: int) -> None: ...
    def join(self, order_id: int, ladder: Any, price: int, size: int, ts: int) -> bool: ...
    def join_front(self, order_id: int, ladder: Any, price: int, size: int) -> bool: ...
    def leave(self, order_id: int) -> tuple[Any, int, int, int] | None: ...
    def open_level(self, ladder: Any, price: int) -> None: ...
    def close_level(self, ladder: Any, price: int) -> int: ...
    def level(self, ladder: Any, price: int) -> list[tuple[int, int, int]] | None: ...
    def count(self, ladder: Any, price: int) -> int: ...
    def clear(self) -> None: ...

class IdSet:
    """A set of 64-bit order ids in one C table."""

    @property
    def scrambled(self) -> bool: ...
    def __len__(self) -> int: ...
    def __contains__(self, value: int) -> bool: ...
    def add(self, value: int) -> None: ...

def apply_lobster_block(
    book: Any,
    known: set[int] | IdSet,
    kinds: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    prices: npt.NDArray[np.int64],
    dirs: npt.NDArray[np.int64],
    secs: npt.NDArray[np.int64],
    flags: bytes | bytearray | memoryview,
    rows: bytes,
    ends: npt.NDArray[np.int64],
    prev_line: bytes,
    first_row: int,
    levels: int,
    buy: Any,
    sell: Any,
    on_duplicate: Callable[[int, int], None],
    on_reveal: Callable[[Any, int, int, int], None],
    on_other: Callable[[int, int, int, Any, int], None] | None,
    on_trade: Callable[[int, int, int, Any], None] | None,
    on_row: Callable[[int, bytes], None] | None,
    verify: bool,
) -> tuple[int, int, int]: ...
def apply_lobster_columns(
    book: Any,
    known: set[int] | IdSet,
    kinds: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    prices: npt.NDArray[np.int64],
    dirs: npt.NDArray[np.int64],
    secs: npt.NDArray[np.int64],
    book_columns: list[npt.NDArray[np.int64]],
    prev_row: npt.NDArray[np.int64],
    first_row: int,
    levels: int,
    buy: Any,
    sell: Any,
    on_duplicate: Callable[[int, int], None],
    on_reveal: Callable[[Any, int, int, int], None],
    on_other: Callable[[int, int, int, Any, int], None] | None,
    on_trade: Callable[[int, int, int, Any], None] | None,
    on_row: Callable[[int, int], None] | None,
) -> tuple[int, int, int]: ...
