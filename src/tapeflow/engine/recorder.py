"""An event log component: every dispatched event, encoded, in dispatch order.

It is how determinism is proved (two runs, one digest) and how a backtest and a live replay are compared byte for
byte. It subscribes to ``Event``, so it sees feed events, emitted events and timer firings alike.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from tapeflow.model.codec import to_msgpack
from tapeflow.model.events import Event

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel


class EventLog:
    """Records the msgpack encoding of each event; keeps the bytes only when ``keep`` (else just the digest)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.records: list[bytes] = []
        self.count = 0
        self._hash = hashlib.sha256()

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Event, self.on_event)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_event(self, event: Event) -> None:
        data = to_msgpack(event)
        self._hash.update(len(data).to_bytes(4, "big"))
        self._hash.update(data)
        self.count += 1
        if self.keep:
            self.records.append(data)

    def digest(self) -> str:
        """SHA-256 over the length-prefixed records: equal digests mean byte-identical logs."""
        return self._hash.hexdigest()
