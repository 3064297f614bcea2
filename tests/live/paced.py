"""``tapeflow paper`` paced against the wall clock, served from a thread of the test process (no subprocess to
start): the venue steps itself on its own loop, as the hubs require, at ``speed`` times the tape's pace."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tapeflow.backtest.config import DataConfig
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.config import PaperConfig, PaperSection
from tapeflow.paper.server import PaperServer

KEY, SECRET = "PKTEST", "SKTEST"
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


@contextmanager
def paced_paper(data_dir: Path, speed: str = "10x") -> Iterator[PaperServer]:
    """The AAPL day served on 127.0.0.1 at ``speed``; stopped (its thread joined) on the way out."""
    cfg = PaperConfig(data=DataConfig(kind="lobster", paths=(str(data_dir / AAPL),)), paper=PaperSection(speed=speed))
    server = PaperServer(cfg, check=fixed_keys(KEY, SECRET))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="paper", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the paced paper venue did not start"
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "the paced paper venue did not stop"
