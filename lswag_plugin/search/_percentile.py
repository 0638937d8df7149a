"""The percentile-with-warm-up rule that gates a candidate on its zero-cost score (written once).

Optuna's :class:`~lswag_plugin.optuna.ZeroCostPruner` prunes with it (earlier scores read from the study)
and compare's NNI hybrid gates NNI's proposals with it (earlier scores kept in the run).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["PercentileRule"]


@dataclass(frozen=True)
class PercentileRule:
    """Prunes a score worse than the ``percentile``-th percentile of the earlier scores.

    Worse is in ``direction``: ``"max"`` (higher is better) prunes scores below the percentile,
    ``"min"`` prunes scores above the mirrored one. A NaN score is always pruned; NaN earlier scores
    are ignored. Nothing is pruned until ``n_warmup`` earlier scores exist (at least one).

    Args:
        percentile: In [0, 100] (25: keep the best 75 %).
        n_warmup: Earlier scores needed before anything is pruned.
        direction: ``"max"`` or ``"min"``.

    Raises:
        ValueError: An argument is out of range.

    Example:
        >>> rule = PercentileRule(50.0, n_warmup=2)
        >>> rule.prunes(1.0, [3.0]), rule.prunes(1.0, [3.0, 2.0]), rule.prunes(2.5, [3.0, 2.0])
        (False, True, False)
        >>> PercentileRule(50.0, n_warmup=1, direction="min").prunes(3.0, [1.0, 2.0])
        True
    """

    percentile: float
    n_warmup: int = 5
    direction: str = "max"

    def __post_init__(self) -> None:
        if math.isnan(self.percentile) or not 0.0 <= self.percentile <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {self.percentile}")
        if self.n_warmup < 0:
            raise ValueError(f"n_warmup must be >= 0, got {self.n_warmup}")
        if self.direction not in ("max", "min"):
            raise ValueError(f"direction must be 'max' or 'min', got {self.direction!r}")

    def prunes(self, value: float, earlier: Iterable[float]) -> bool:
        """Returns whether ``value`` is pruned given the ``earlier`` scores."""
        if math.isnan(value):
            return True
        seen = [float(v) for v in earlier if not math.isnan(v)]
        if len(seen) < max(self.n_warmup, 1):
            return False
        sign = 1.0 if self.direction == "max" else -1.0
        threshold = float(np.percentile(sign * np.asarray(seen, dtype=float), self.percentile))
        return sign * value < threshold
