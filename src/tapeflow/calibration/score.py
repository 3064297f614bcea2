"""How far each L2 queue model is from the truth: per model, symbol and level, from the followed probes.

A probe *fills* when it is completely filled within its horizon. Per (model, symbol, level) over the probes that
were placed (their level existed) and whose level the file saw whole while they were followed (``seen_whole``):
the model's fill probability and the truth's, the fill/no-fill confusion against the truth (both filled, only
the model, only the truth, neither), their agreement, the model's time to fill (mean, median), and the absolute
error of its time to fill against the truth's over the probes both filled (mean, median). Level 0 pools every
level. The row ``L3`` is the exact queue placed a second time, independently of the truth: it must show
agreement 1 and no error, the harness's check that it compares like with like.

The best model of a symbol is the one that agrees with the truth most often over all levels, ties broken by the
smaller mean absolute error, then by name: fill/no-fill is what decides a strategy's PnL first, timing second.
Every sum is over integers in a fixed order, so the figures do not depend on the order days were listed in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import msgspec

from tapeflow.calibration.follow import L3, TRUTH, ProbeOutcome
from tapeflow.model.prices import NO_PRICE

NS_PER_S = 1_000_000_000
ALL_LEVELS = 0


class ModelScore(msgspec.Struct, frozen=True, kw_only=True):
    """One model on one symbol and level (0: all levels) against the truth. Times in seconds."""

    model: str
    symbol: str
    level: int
    probes: int
    fill_prob: float
    truth_fill_prob: float
    both: int
    model_only: int
    """Filled under the model, not in truth: an optimistic model."""
    truth_only: int
    """Filled in truth, not under the model: a pessimistic model."""
    neither: int
    agreement: float
    mean_ttf_s: float | None
    median_ttf_s: float | None
    mae_ttf_s: float | None
    median_ae_ttf_s: float | None


def _seconds(ns: float | None) -> float | None:
    return None if ns is None else ns / NS_PER_S


def _score(model: str, symbol: str, level: int, outcomes: list[ProbeOutcome]) -> ModelScore:
    both = model_only = truth_only = neither = 0
    ttf: list[int] = []
    errors: list[int] = []
    for o in outcomes:
        truth = o.fill_ns[TRUTH]
        mine = o.fill_ns[model]
        if mine is not None:
            ttf.append(mine)
        if truth is not None and mine is not None:
            both += 1
            errors.append(abs(mine - truth))
        elif mine is not None:
            model_only += 1
        elif truth is not None:
            truth_only += 1
        else:
            neither += 1
    n = len(outcomes)
    return ModelScore(
        model=model,
        symbol=symbol,
        level=level,
        probes=n,
        fill_prob=(both + model_only) / n,
        truth_fill_prob=(both + truth_only) / n,
        both=both,
        model_only=model_only,
        truth_only=truth_only,
        neither=neither,
        agreement=(both + neither) / n,
        mean_ttf_s=_seconds(sum(ttf) / len(ttf)) if ttf else None,
        median_ttf_s=_seconds(statistics.median(sorted(ttf))) if ttf else None,
        mae_ttf_s=_seconds(sum(errors) / len(errors)) if errors else None,
        median_ae_ttf_s=_seconds(statistics.median(sorted(errors))) if errors else None,
    )


def score(outcomes: list[ProbeOutcome], models: list[str]) -> list[ModelScore]:
    """Every model (the truth first) on every symbol and level with placed probes, and on all levels pooled."""
    groups: dict[tuple[str, int], list[ProbeOutcome]] = defaultdict(list)
    for o in sorted(outcomes, key=lambda o: (o.symbol, o.probe.ts, o.probe.probe_id)):
        if o.price == NO_PRICE or not o.seen_whole:
            continue
        groups[(o.symbol, o.probe.level)].append(o)
        groups[(o.symbol, ALL_LEVELS)].append(o)
    names = [L3, *(m for m in models if m != L3)]
    return [_score(m, symbol, level, groups[(symbol, level)]) for symbol, level in sorted(groups) for m in names]


def unplaced(outcomes: list[ProbeOutcome]) -> dict[str, dict[int, int]]:
    """Per symbol and level, probes whose level did not exist at their time (too few price levels then)."""
    out: dict[str, dict[int, int]] = {}
    for o in outcomes:
        if o.price == NO_PRICE:
            by_level = out.setdefault(o.symbol, {})
            by_level[o.probe.level] = by_level.get(o.probe.level, 0) + 1
    return {s: dict(sorted(v.items())) for s, v in sorted(out.items())}


def unseen(outcomes: list[ProbeOutcome]) -> dict[str, dict[int, int]]:
    """Per symbol and level, placed probes whose level changed out of the file's view (not scored)."""
    out: dict[str, dict[int, int]] = {}
    for o in outcomes:
        if o.price != NO_PRICE and not o.seen_whole:
            by_level = out.setdefault(o.symbol, {})
            by_level[o.probe.level] = by_level.get(o.probe.level, 0) + 1
    return {s: dict(sorted(v.items())) for s, v in sorted(out.items())}


def best_models(scores: list[ModelScore]) -> dict[str, str]:
    """Per symbol, the L2 model closest to the truth over all levels (see the module docstring)."""
    best: dict[str, str] = {}
    pooled = [s for s in scores if s.level == ALL_LEVELS and s.model != L3]
    for symbol in sorted({s.symbol for s in pooled}):
        rows = [s for s in pooled if s.symbol == symbol]
        rows.sort(key=lambda s: (-s.agreement, s.mae_ttf_s if s.mae_ttf_s is not None else 0.0, s.model))
        best[symbol] = rows[0].model
    return best
