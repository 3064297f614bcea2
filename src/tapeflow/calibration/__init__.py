"""Realism you can measure: the L2 queue models scored against the exact L3 FIFO queue of real days (issue 21).

``probes`` draws seeded synthetic passive orders; ``follow`` replays one L3 day and follows each of them under the
exact queue and under every L2 ``QueueModel`` of the simulated exchange (fed only the L2 view of the same tape,
``l2view``); ``score`` turns the outcomes into fill probability, time to fill, the fill/no-fill confusion against
the truth and the error of the time to fill, per model, symbol and level; ``config`` and ``run`` read a
``[calibrate]`` configuration and run its LOBSTER days; ``latency`` measures the latency study's fills;
``figures``, ``latency_figures`` and ``page`` draw both results as offline HTML (``--html``). Docs: docs/REALISM.md.
"""
