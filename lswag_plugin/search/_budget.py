"""The book-keeping every search shares: distinct evaluations under a budget, and the best so far."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lswag_plugin.spaces import SearchSpace

__all__ = ["Budget"]


class Budget:
    """Memoised fitness of distinct architectures, at most ``budget`` of them, and the best so far.

    An architecture is evaluated once (by its canonical key); repeats are free and not counted. Used by
    our strategies (:class:`~lswag_plugin.search.SearchStrategy`) and by the comparison grid, so both
    count evaluations and break ties (the earliest best) the same way.

    Example:
        >>> from lswag_plugin.spaces import get_space
        >>> budget = Budget(get_space("nb201"), 2)
        >>> a = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
        >>> budget.new([a, a])
        ['|none~0|+|none~0|none~1|+|none~0|none~1|none~2|']
        >>> budget.add(a, 1.5), budget.left, budget.fitness([a])
        (1.5, 1, [1.5])
    """

    def __init__(self, space: SearchSpace, budget: int) -> None:
        self.space = space
        self.budget = int(budget)
        #: Canonical key → fitness (NaN stored as −inf), in evaluation order.
        self.scores: dict[str, float] = {}
        self.best_key: str | None = None

    @property
    def left(self) -> int:
        """Evaluations left."""
        return self.budget - len(self.scores)

    def unseen(self, archs: Sequence[Any]) -> list[str]:
        """Returns the distinct keys of ``archs`` not evaluated yet, in order (budget ignored)."""
        keys = dict.fromkeys(self.space.encode(a) for a in archs)
        return [k for k in keys if k not in self.scores]

    def new(self, archs: Sequence[Any]) -> list[str]:
        """Returns the keys of ``archs`` to evaluate now: distinct, unseen, at most :attr:`left`."""
        return self.unseen(archs)[: max(self.left, 0)]

    def add(self, key: str, fitness: float) -> float:
        """Records one evaluation (NaN counts as −inf); returns the best fitness so far."""
        value = float(fitness)
        self.scores[key] = -math.inf if math.isnan(value) else value
        if self.best_key is None or self.scores[key] > self.scores[self.best_key]:
            self.best_key = key
        return self.scores[self.best_key]

    def fitness(self, archs: Sequence[Any]) -> list[float]:
        """Returns the recorded fitness of each architecture (−inf for one never evaluated)."""
        return [self.scores.get(self.space.encode(a), -math.inf) for a in archs]
