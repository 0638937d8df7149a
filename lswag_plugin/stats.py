"""Rank statistics of proxy scores: Spearman ρ, Kendall τ-b, information gain, size bias (scipy.stats).

Every function here follows one NaN policy:

- **NaN is dropped.** A pair (for :func:`information_gain`, a row) with NaN on either side is left out:
  NaN means "not measured" (a score that could not be computed, a missing label).
- **±inf is kept** as the most extreme value: it ranks last (−inf) or first (+inf), ties with other
  ±inf of the same sign, and falls in the lowest or highest histogram bin. NWOT's −inf for a
  disconnected NB201 cell is an order (that cell is worse than every connected one), not a gap.
- **NaN when undefined.** A correlation (:func:`spearman`, :func:`kendall`, :func:`bias`) is NaN when
  fewer than 2 pairs remain or when either side is constant over the remaining pairs; an information
  gain is NaN when fewer than 2 rows remain (a constant variable is fine there: its entropy is 0).

Callers that need another rule transform their inputs first. LIBRA (:mod:`lswag_plugin.libra`) maps
NaN to −inf before calling these (a proxy that could not be computed ranks lowest, so no row is
dropped from its fit sample) and takes the undefined ρ of a constant column as 0.

scipy is imported on first use, so that importing :mod:`lswag_plugin` (which imports LIBRA) stays fast.

Example:
    >>> from lswag_plugin import stats
    >>> round(stats.spearman([1, 2, 3, 4], [10, 20, 40, 30]), 12)
    0.8
    >>> stats.spearman([float("-inf"), 1, 2, float("nan")], [0, 1, 2, 100])  # −inf ranks last
    1.0
    >>> stats.spearman([1, 1, 1], [1, 2, 3])  # a constant side: undefined
    nan
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["bias", "information_gain", "kendall", "spearman"]

#: Histogram bins of :func:`information_gain` (NAS-Bench-Suite-Zero's 24).
DEFAULT_BINS = 24

ArrayLike = Sequence[float | None] | np.ndarray


def _kept(*columns: ArrayLike) -> tuple[np.ndarray, ...]:
    """Returns the columns as float arrays without the rows that hold a NaN (None counts as NaN).

    Raises:
        ValueError: The columns have different lengths.
    """
    arrays = [np.asarray(c, dtype=np.float64).reshape(-1) for c in columns]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(
            f"columns of different lengths {[len(a) for a in arrays]}: give one value per row"
        )
    keep = ~np.any([np.isnan(a) for a in arrays], axis=0)
    return tuple(a[keep] for a in arrays)


def _constant(a: np.ndarray) -> bool:
    return a.size < 2 or bool(np.all(a == a[0]))


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Returns Spearman's ρ of ``x`` and ``y`` (mid-ranks for ties) under the module's NaN policy.

    Args:
        x: One value per row (e.g. a proxy's scores); NaN/None rows are dropped, ±inf kept.
        y: One value per row (e.g. the accuracies), same length.

    Returns:
        ρ in [−1, 1]; NaN when fewer than 2 pairs remain or a side is constant.

    Raises:
        ValueError: ``x`` and ``y`` have different lengths.

    Example:
        >>> round(spearman([1, 3, 2, 4], [1, 2, 3, 4]), 12)
        0.8
        >>> spearman([1, 2, 3, float("-inf")], [0.3, 0.5, 0.9, 0.1])
        1.0
        >>> spearman([1, 2, 3, float("nan")], [1, 2, 3, 4]), spearman([1, float("nan")], [1, 2])
        (1.0, nan)
    """
    from scipy import stats as _scipy_stats

    a, b = _kept(x, y)
    if _constant(a) or _constant(b):
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):  # its p-value is undefined for 2 pairs
        return float(
            _scipy_stats.spearmanr(_scipy_stats.rankdata(a), _scipy_stats.rankdata(b)).statistic
        )


def kendall(x: ArrayLike, y: ArrayLike) -> float:
    """Returns Kendall's τ-b of ``x`` and ``y`` under the module's NaN policy.

    Args:
        x: One value per row; NaN/None rows are dropped, ±inf kept.
        y: One value per row, same length.

    Returns:
        τ-b in [−1, 1]; NaN when fewer than 2 pairs remain or a side is constant.

    Raises:
        ValueError: ``x`` and ``y`` have different lengths.

    Example:
        >>> round(kendall([1, 3, 2, 4], [1, 2, 3, 4]), 6)  # 5 concordant pairs, 1 discordant
        0.666667
        >>> kendall([float("-inf"), 1, 2], [0, 1, 2])
        1.0
    """
    from scipy import stats as _scipy_stats

    a, b = _kept(x, y)
    if _constant(a) or _constant(b):
        return math.nan
    return float(
        _scipy_stats.kendalltau(_scipy_stats.rankdata(a), _scipy_stats.rankdata(b)).statistic
    )


def bias(scores: ArrayLike, params: ArrayLike) -> float:
    """Returns the size bias of a ranking: Spearman ρ between ``scores`` and the #params.

    LIBRA's z3 is the proxy whose bias is closest to the accuracy's own, ``bias(accuracy, params)``.

    Example:
        >>> bias([0.1, 0.5, 0.2, 0.9], [1e5, 2e6, 3e5, 4e6])  # a ranking by size
        1.0
    """
    return spearman(scores, params)


def _binned(x: np.ndarray, bins: int) -> np.ndarray:
    """Returns the 0-based bin of each value on a ``bins``-bin equal-width histogram of the finite values.

    −inf falls into the lowest bin and +inf into the highest, as the extremes of the sample.
    """
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.zeros(len(x), dtype=np.int64)
    edges = np.histogram_bin_edges(finite, bins=bins)
    return np.clip(np.digitize(x, edges[1:-1]), 0, bins - 1).astype(np.int64)


def _joint_entropy(*binned: np.ndarray) -> float:
    """Returns the entropy (bits) of the joint histogram of already-binned variables."""
    from scipy import stats as _scipy_stats

    rows = np.stack(binned, axis=1)
    _, counts = np.unique(rows, axis=0, return_counts=True)
    return float(_scipy_stats.entropy(counts, base=2))


def information_gain(
    target: ArrayLike, z1: ArrayLike, z: ArrayLike, *, bins: int = DEFAULT_BINS
) -> float:
    """Returns IG(z) = H(y | z1) − H(y | z1, z) in bits, each variable on a ``bins``-bin histogram.

    Each variable is binned on an equal-width histogram of its finite values
    (``np.histogram_bin_edges``, 24 bins as in NAS-Bench-Suite-Zero); conditional entropies come from
    the joint histograms' counts (``scipy.stats.entropy``): H(y | a) = H(y, a) − H(a). A duplicate of
    ``z1`` has an information gain of exactly 0.

    Args:
        target: The accuracies y.
        z1: The reference proxy's scores.
        z: The candidate proxy's scores.
        bins: Histogram bins per variable (at least 2).

    Returns:
        The gain in bits; NaN when fewer than 2 rows are left once rows with a NaN are dropped.

    Raises:
        ValueError: Columns of different lengths, or ``bins`` < 2.

    Example:
        >>> y = [1.0, 2.0, 3.0, 4.0]
        >>> information_gain(y, [1, 2, 1, 2], [1, 2, 1, 2], bins=2)  # a duplicate of z1
        0.0
        >>> information_gain(y, [1, 2, 1, 2], [1, 1, 2, 2], bins=2)  # z tells y's bin, z1 does not
        1.0
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    kept = _kept(target, z1, z)
    if kept[0].size < 2:
        return math.nan
    y, a, b = (_binned(v, bins) for v in kept)
    h_y_given_a = _joint_entropy(y, a) - _joint_entropy(a)
    h_y_given_ab = _joint_entropy(y, a, b) - _joint_entropy(a, b)
    return h_y_given_a - h_y_given_ab
