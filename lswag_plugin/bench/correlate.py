"""Rank correlations between proxy scores and ground truth (scipy.stats)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["kendall", "spearman"]


def _finite_pairs(
    scores: Sequence[float], targets: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    t = np.asarray(targets, dtype=float)
    keep = ~(np.isnan(s) | np.isnan(t))  # ±inf is an order (e.g. NWOT of a disconnected cell): kept
    return s[keep], t[keep]


def _constant(a: np.ndarray) -> bool:
    return a.size < 2 or bool(np.all(a == a[0]))


def spearman(scores: Sequence[float], targets: Sequence[float]) -> float:
    """Returns Spearman's ρ between ``scores`` and ``targets`` (NaN pairs dropped; NaN if undefined).

    Example:
        >>> spearman([1, 2, 3, float("-inf")], [0.3, 0.5, 0.9, 0.1])
        1.0
    """
    s, t = _finite_pairs(scores, targets)
    if _constant(s) or _constant(t):
        return math.nan
    return float(stats.spearmanr(stats.rankdata(s), stats.rankdata(t)).statistic)


def kendall(scores: Sequence[float], targets: Sequence[float]) -> float:
    """Returns Kendall's τ-b between ``scores`` and ``targets`` (NaN pairs dropped; NaN if undefined)."""
    s, t = _finite_pairs(scores, targets)
    if _constant(s) or _constant(t):
        return math.nan
    return float(stats.kendalltau(stats.rankdata(s), stats.rankdata(t)).statistic)
