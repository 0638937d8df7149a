"""Random search: evaluate ``budget`` distinct random architectures, keep the best."""

from __future__ import annotations

import numpy as np

from lswag_plugin.search._base import SearchStrategy, _Run
from lswag_plugin.search._registry import register_strategy

__all__ = ["RandomSearch"]


@register_strategy("random")
class RandomSearch(SearchStrategy):
    """Samples distinct architectures uniformly (within the parameter limits) until the budget is spent.

    Args:
        params_min: Lower limit on #params, in millions.
        params_max: Upper limit on #params, in millions.
        chunk: Architectures handed to the evaluator at once.

    Example:
        >>> from lswag_plugin.search import RandomSearch
        >>> from lswag_plugin.spaces import get_space
        >>> result = RandomSearch().search(get_space("nb201"), lambda archs: [0.0] * len(archs), budget=5)
        >>> result.evaluations
        5
    """

    name = "random"

    def __init__(
        self, *, params_min: float | None = None, params_max: float | None = None, chunk: int = 50
    ) -> None:
        super().__init__(params_min=params_min, params_max=params_max)
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.chunk = chunk

    def _search(self, run: _Run, rng: np.random.Generator) -> None:
        taken: set[str] = set()
        while run.left > 0:
            batch = []
            for _ in range(min(self.chunk, run.left)):
                arch = run.sample(rng, taken)
                if arch is None:
                    break
                batch.append(arch)
            if not batch:
                return  # the space (within the limits) is exhausted
            run.run(batch)
