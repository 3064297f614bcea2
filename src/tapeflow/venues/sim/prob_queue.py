"""The probabilistic L2 queue estimate of hftbacktest's ``PowerProbQueueModel`` (after Rigtorp), in integers.

A market-by-price feed shows that a level shrank by ``cancelled`` shares without a print, not where in the queue
they left. FRONT and BACK bet on one end; PROPORTIONAL on every share being equally likely. The power model says a
cancel is more likely to come from the *larger* part of the queue, and more so the larger ``n``: with ``front``
shares ahead of us and ``back`` behind, the share of the cancel taken from behind is

    p = back**n / (back**n + front**n)

so ``(1 - p) * cancelled`` leave from ahead and ``p * cancelled`` from behind; whatever exceeds ``back`` (there
are not that many shares behind us) must have come from ahead too. The formula is hftbacktest's
(``est_front = front - (1 - p) * chg + min(0, back - p * chg)``); here it is evaluated exactly on integers, with
the share taken from ahead rounded down (an estimate that never moves us further than the formula does), so the
same inputs give the same queue on every machine. ``n = 1`` is PROPORTIONAL's rule up to rounding.
"""

from __future__ import annotations


def power_ahead_after_cancel(ahead: int, level_before: int, cancelled: int, n: int) -> int:
    """Shares still ahead after ``cancelled`` of ``level_before`` market shares left (ours excluded), power ``n``."""
    if n < 1:
        raise ValueError(f"the power of the queue model must be at least 1, not {n}")
    if cancelled <= 0 or ahead <= 0:
        return max(ahead, 0)
    if cancelled >= level_before:
        return 0
    front = min(ahead, level_before)
    back = level_before - front
    f_front: int = front**n
    f_back: int = back**n
    from_front = cancelled * f_front // (f_front + f_back)
    from_back = cancelled - from_front
    overflow = max(0, from_back - back)
    return max(0, front - from_front - overflow)
