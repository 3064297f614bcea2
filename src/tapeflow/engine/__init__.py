"""engine: clock, timers, the k-way merge of sources, the inbox and the kernel. Synchronous and deterministic.

Below it: ``model`` (and ``book``). Above it: everything that registers components on a kernel. Nothing here knows
whether a backtest or a live driver is feeding it; asyncio never enters this package.
"""

from tapeflow.engine.clock import Clock, LiveClock, SimClock
from tapeflow.engine.dispatch import Handler
from tapeflow.engine.inbox import Inbox, InboxLike, ScheduledInbox
from tapeflow.engine.kernel import Component, Kernel
from tapeflow.engine.merge import merge_batches, merge_sorted
from tapeflow.engine.timers import Timer

__all__ = [
    "Clock",
    "Component",
    "Handler",
    "Inbox",
    "InboxLike",
    "Kernel",
    "LiveClock",
    "ScheduledInbox",
    "SimClock",
    "Timer",
    "merge_batches",
    "merge_sorted",
]
