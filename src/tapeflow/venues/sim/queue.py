"""Queue position of our own resting orders in a replayed market.

Our order is virtual: the replayed feed never shows it, so the exchange must estimate how many shares stand ahead
of it at its price and when the market would have reached it.

- **L3 (market by order), exact.** At arrival, everything resting at our price is ahead of us. Orders that join
  the level later are behind us (we remember their ids). An execution, cancel or delete of an order that is not
  behind us reduces what is ahead; an execution of an order *behind* us means the incoming order went through our
  place in the queue first, so that many shares reach us instead, after whatever is still counted ahead (nothing,
  on a FIFO tape whose every departure we saw).

``SimOrder.ahead`` is the one count of shares ahead in both modes and fills read it (``_queue_print``): in L2 a
print at our price, in L3 an execution behind us, first uses up the shares ahead, then fills us. A snapshot
bounds it (``exchange._recount_ahead``): what is ahead only leaves, and only orders known to be behind us are.
- **L2 (market by price), modelled.** At arrival, the level's size is ahead of us. A trade at our price takes from
  the front (ahead first, then us). A decrease of the level that no trade explains is a cancellation, and where in
  the queue it happened is unknown: ``QueueModel`` decides. ``FRONT`` takes it from ahead of us (optimistic),
  ``BACK`` from behind us (pessimistic: we move only when the shares behind us are exhausted), ``PROPORTIONAL``
  from ahead in proportion to the shares ahead of us (the expected value when any share is equally likely to be
  cancelled). Increases join behind us.
"""

from __future__ import annotations

import enum


class QueueModel(enum.Enum):
    FRONT = "FRONT"
    BACK = "BACK"
    PROPORTIONAL = "PROPORTIONAL"

    def ahead_after_cancel(self, ahead: int, level_before: int, cancelled: int) -> int:
        """Shares still ahead of us after ``cancelled`` shares left a level of ``level_before`` (ours excluded)."""
        if cancelled <= 0 or ahead <= 0:
            return max(ahead, 0)
        if cancelled >= level_before:
            return 0
        if self is QueueModel.FRONT:
            return max(0, ahead - cancelled)
        if self is QueueModel.BACK:
            behind = max(0, level_before - ahead)
            return max(0, ahead - max(0, cancelled - behind))
        # PROPORTIONAL: floor keeps it integer and deterministic; it never moves us past shares still there
        return ahead - (cancelled * ahead) // level_before
