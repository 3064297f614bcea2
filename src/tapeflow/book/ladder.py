"""One side of a book: price -> aggregate size, with the best price always at hand.

A busy name changes its book thousands of times a second, and almost every reader asks for the best price, so
the best price must cost nothing to read and little to keep. A ladder keeps:

- ``sizes``: a dict from price to aggregate size, so that a size update (three quarters of all updates) is one
  dict store;
- ``keys``: the prices in a plain sorted list, best last (bids as ``price``, asks as ``-price``), so that the
  best price is ``keys[-1]``, a new level is one C-level bisect and insert and a removed level one ``bisect`` +
  ``del``. New levels and removals cluster at the touch, which is the end of the list, so the memmove behind
  them is short (a compiled L3 book's ladders keep them in the core's ``L3Keys``: the same list in a C array);
- ``best``: the best price as a plain attribute (``NO_PRICE`` when the side is empty), updated only when a
  level is inserted or removed, so reading it is an attribute load.

No update scans or sorts the levels; ``depth(n)`` is a slice. The ladder is a write interface for the books in
this package; readers should treat it as read-only (``L2Book.bids.best`` is the fastest read of the best bid).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, MutableMapping
from typing import Final, Protocol, SupportsIndex, overload

from tapeflow.model.enums import Side
from tapeflow.model.prices import NO_PRICE

_BUY: Final = Side.BUY


class SortedKeys(Protocol):
    """What a ladder needs of its ``keys``: the list's reads and writes. A ``list`` is one; a compiled L3 book's
    ladders hold the core's ``L3Keys`` (the keys in a C array, which the compiled loop writes without an int
    object)."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, i: SupportsIndex, /) -> int: ...
    @overload
    def __getitem__(self, i: slice, /) -> list[int]: ...
    def __iter__(self) -> Iterator[int]: ...
    def __delitem__(self, i: SupportsIndex | slice, /) -> None: ...
    def append(self, key: int, /) -> None: ...
    def insert(self, i: SupportsIndex, key: int, /) -> None: ...
    def pop(self, i: SupportsIndex = -1, /) -> int: ...
    def clear(self) -> None: ...


class Ladder:
    """One side of a price-level book."""

    __slots__ = ("best", "keys", "side", "sign", "sizes")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = 1 if side is _BUY else -1
        """Maps a price to its sort key: the best key is the largest on both sides."""
        self.sizes: MutableMapping[int, int] = {}
        """A dict; in a compiled L2 book the core's ``LevelSizes`` table, which reads and writes like one."""
        self.keys: SortedKeys = []
        """A list; in a compiled L3 book the core's ``L3Keys``, which reads and writes like one."""
        self.best: int = NO_PRICE

    def __len__(self) -> int:
        return len(self.keys)

    def insert(self, price: int, size: int) -> bool:
        """Add a level that is not there yet; True when it became the best (the only time a cross can
        start)."""
        self.sizes[price] = size
        key = price * self.sign
        keys = self.keys
        if not keys or key > keys[-1]:
            keys.append(key)
            self.best = price
            return True
        keys.insert(bisect_right(keys, key), key)  # ``insort``, which types only a MutableSequence
        return False

    def remove(self, price: int) -> bool:
        """Drop a level that is there; True when it was the best."""
        del self.sizes[price]
        key = price * self.sign
        keys = self.keys
        if key == keys[-1]:
            keys.pop()
            self.best = keys[-1] * self.sign if keys else NO_PRICE
            return True
        del keys[bisect_left(keys, key)]
        return False

    def set(self, price: int, size: int) -> bool:
        """The level at ``price`` now holds ``size`` (0 or less: it goes, if it was there); True when the best
        price changed. ``insert`` and ``remove`` in one call, for the L2 book's writes."""
        sizes = self.sizes
        if price in sizes:
            if size > 0:
                sizes[price] = size
                return False
            del sizes[price]
            key = price * self.sign
            keys = self.keys
            if key != keys[-1]:
                del keys[bisect_left(keys, key)]
                return False
            keys.pop()
            self.best = keys[-1] * self.sign if keys else NO_PRICE
            return True
        if size <= 0:
            return False
        sizes[price] = size
        key = price * self.sign
        keys = self.keys
        if keys and key <= keys[-1]:
            keys.insert(bisect_right(keys, key), key)
            return False
        keys.append(key)
        self.best = price
        return True

    def clear(self) -> None:
        self.sizes.clear()
        self.keys.clear()
        self.best = NO_PRICE

    def prices(self, n: int | None = None) -> list[int]:
        """Prices of the best ``n`` levels (all when None), best first."""
        keys = self.keys
        chosen = keys[::-1] if n is None else keys[: -n - 1 : -1] if n > 0 else []
        sign = self.sign
        return chosen if sign == 1 else [-k for k in chosen]

    def levels(self, n: int | None = None) -> list[tuple[int, int]]:
        """(price, size) of the best ``n`` levels, best first."""
        sizes = self.sizes
        return [(p, sizes[p]) for p in self.prices(n)]

    def between(self, better: int, worse: int) -> list[int]:
        """Prices strictly worse than ``better`` and at least as good as ``worse`` (either may be NO_PRICE =
        open)."""
        sign = self.sign
        keys = self.keys
        hi = len(keys) if better == NO_PRICE else bisect_left(keys, better * sign)
        lo = 0 if worse == NO_PRICE else bisect_left(keys, worse * sign)
        return [k * sign for k in keys[lo:hi]]

    def rank(self, price: int) -> int:
        """How many levels are strictly better than ``price`` (0 at the touch)."""
        keys = self.keys
        return len(keys) - bisect_right(keys, price * self.sign)

    def is_better(self, price: int, than: int) -> bool:
        """True when ``price`` is a better price than ``than`` on this side (higher bid, lower ask)."""
        return price * self.sign > than * self.sign
