"""What the two audit writers share: their settings, the counters the run's stats read, and how each reports a
full queue and a stopped writer. The writer process (``audit_writer``) and the writer thread (``thread_writer``)
differ only in where the chain is written; a trail cannot tell which one it holds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

from tapeflow.compliance.audit_store import AuditStore
from tapeflow.compliance.head import Head
from tapeflow.model.errors import EngineError


class WriterBase:
    """Settings and counters of an audit writer; ``_error`` set (by the subclass) once the writer stopped."""

    def __init__(
        self,
        store: AuditStore,
        *,
        max_batches: int = 256,
        key: bytes | None = None,
        key_id: str = "default",
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_batches = max_batches
        self.key = key
        self.key_id = key_id
        self.on_commit = on_commit
        self.committed_seq = 0
        self.submitted = 0
        self.full_waits = 0
        self.head: Head | None = None
        """The run's head (last run, last record, its hash, signed with the key), once ``finish`` or ``close``
        has ended the run."""
        self._error: str | None = None
        self._init_state()

    def _init_state(self) -> None:
        """The writer's own state, set up after the shared settings: one signature for both writers' settings."""

    def _report_full(self, why: str) -> None:
        """Count a wait for the writer; warn on the first and every thousandth (a slow writer must be seen)."""
        self.full_waits += 1
        if self.full_waits == 1 or self.full_waits % 1000 == 0:
            logging.getLogger(type(self).__module__).warning(  # each writer's own logger, as before
                "audit queue full (%s, %d times so far): the trading loop waits for the writer", why, self.full_waits
            )

    def _raise(self) -> NoReturn:
        raise EngineError(f"the audit writer stopped: {self._error}; no record after {self.committed_seq} is kept")
