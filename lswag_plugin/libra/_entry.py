"""LIBRA's member-entry rules: the ρ window alone, or the window and a paired bootstrap on the fit rows.

``"window"`` (the paper's rule, the default): z2 and z3 enter when the window holds them.
``"bootstrap"``: each of them (z2 first, then z3) enters only if fusing it raises Spearman's ρ on the fit
rows in at least ``level`` of ``resamples`` bootstrap resamples of those rows, compared with the members
accepted so far (paired: both fusions are ranked on the same resample). A member that is refused is
skipped, so z3 is tested against z1 alone when z2 was refused. The members' transforms and weights are
those of the whole fit (only the rows are resampled), so the test asks "does this fused score rank
better", not "would a refit".
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENTRY_RULES", "bootstrap_rows", "bootstrap_support"]

#: Member-entry rules of :func:`lswag_plugin.libra.fit`.
ENTRY_RULES = ("window", "bootstrap")


def bootstrap_rows(n: int, resamples: int, seed: int) -> np.ndarray:
    """Returns ``resamples`` × ``n`` row indices drawn with replacement (one bootstrap resample a row).

    Example:
        >>> bootstrap_rows(4, 2, 0).shape
        (2, 4)
    """
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _rho_rows(scores: np.ndarray, y_ranks: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Spearman ρ of ``scores[rows[b]]`` with the target on each resample ``b`` (0 when undefined)."""
    from scipy.stats import rankdata

    r = rankdata(scores[rows], axis=1)
    r = r - r.mean(axis=1, keepdims=True)
    num = (r * y_ranks).sum(axis=1)
    den = np.sqrt((r * r).sum(axis=1) * (y_ranks * y_ranks).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = num / den
    return np.where(np.isfinite(rho), rho, 0.0)


def bootstrap_support(
    current: np.ndarray, candidate: np.ndarray, target: np.ndarray, rows: np.ndarray
) -> float:
    """Returns the fraction of resamples in which ``candidate`` ranks ``target`` strictly better.

    Args:
        current: The fused score of the members accepted so far, one value per fit row (−inf allowed).
        candidate: The fused score with the new member, same rows.
        target: The accuracy of the fit rows.
        rows: Resampled row indices, one resample per row (:func:`bootstrap_rows`).

    Example:
        >>> y = np.arange(10.0)
        >>> rows = bootstrap_rows(10, 50, 0)
        >>> bootstrap_support(y[::-1].copy(), y, y, rows), bootstrap_support(y, y, y, rows)
        (1.0, 0.0)
    """
    from scipy.stats import rankdata

    y = rankdata(target[rows], axis=1)
    y = y - y.mean(axis=1, keepdims=True)
    better = _rho_rows(candidate, y, rows) > _rho_rows(current, y, rows)
    return float(better.mean())
