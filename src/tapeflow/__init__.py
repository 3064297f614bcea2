"""tapeflow: an event-driven trading system for US equities in which backtest and live share one event queue.

Layers, imports pointing downward only:

    cli, backtest, live, report          edges: assemble components, talk to users and networks
    data, venues                         readers and the simulated exchange
    strategy, ml                         decisions
    risk, portfolio, execution, compliance
    engine                               clock, timers, kernel (synchronous, deterministic)
    book                                 order books and microstructure
    model                                values and events; imports nothing from tapeflow
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tapeflow")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
