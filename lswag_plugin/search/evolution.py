"""Evolution search with AutoFormer's recipe (Chen et al., ICCV 2021; Cream/AutoFormer ``evolution.py``, MIT).

Generation 0 is ``population`` random architectures within the parameter limits. Every later generation
takes the ``parents`` best architectures evaluated so far and makes ``mutation`` children (a random
parent, each choice re-drawn with ``mutation_prob``; network-level choices such as depth and embedding
width with ``resample_prob`` in spaces that have them) and ``crossover`` children (two random parents,
each choice from either). Only new architectures within the limits are kept (AutoFormer tries up to
10 × the wanted number of children). When fewer children are found than wanted (a small space's
neighbourhood is exhausted), the generation is topped up with random architectures, so the budget is
spent. The search stops after ``generations`` generations or when the evaluation budget is spent.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from lswag_plugin.search._base import SearchStrategy, _Run
from lswag_plugin.search._registry import register_strategy

__all__ = ["EvolutionSearch"]


@register_strategy("evolution")
class EvolutionSearch(SearchStrategy):
    """AutoFormer's evolution: population 50, 20 generations, top-10 parents, 25 mutants + 25 crossovers.

    Args:
        population: Architectures per generation (50).
        generations: Generations, the first one random (20).
        parents: Best architectures kept as parents (10).
        mutation: Mutated children per generation (25).
        crossover: Crossover children per generation (25).
        mutation_prob: Probability to re-draw each layer/edge choice of a mutant (0.2).
        resample_prob: Probability to re-draw each network-level choice (depth, width) of a mutant (0.4);
            spaces without such choices (NB201) ignore it.
        params_min: Lower limit on #params, in millions.
        params_max: Upper limit on #params, in millions.

    Example:
        >>> from lswag_plugin.search import EvolutionSearch
        >>> from lswag_plugin.spaces import get_space
        >>> fitness = lambda archs: [a.count("nor_conv_3x3") for a in archs]  # best: all six edges
        >>> result = EvolutionSearch().search(get_space("nb201"), fitness, budget=300, seed=0)
        >>> result.best_score, result.best_arch.count("nor_conv_3x3"), result.evaluations
        (6.0, 6, 300)
    """

    name = "evolution"

    def __init__(
        self,
        *,
        population: int = 50,
        generations: int = 20,
        parents: int = 10,
        mutation: int = 25,
        crossover: int = 25,
        mutation_prob: float = 0.2,
        resample_prob: float = 0.4,
        params_min: float | None = None,
        params_max: float | None = None,
    ) -> None:
        super().__init__(params_min=params_min, params_max=params_max)
        for label, value in (
            ("population", population),
            ("generations", generations),
            ("parents", parents),
        ):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, got {value}")
        for label, value in (("mutation", mutation), ("crossover", crossover)):
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value}")
        if mutation + crossover < 1:
            raise ValueError("mutation + crossover must be >= 1 (children per generation)")
        for label, p in (("mutation_prob", mutation_prob), ("resample_prob", resample_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {p}")
        self.population = population
        self.generations = generations
        self.parents = parents
        self.mutation = mutation
        self.crossover = crossover
        self.mutation_prob = mutation_prob
        self.resample_prob = resample_prob

    def _mutate(self, run: _Run, arch: Any, rng: np.random.Generator) -> Any:
        kwargs: dict[str, float] = {"prob": self.mutation_prob}
        accepted = inspect.signature(run.space.mutate).parameters
        for name in ("structure_prob", "resample_prob"):
            if name in accepted:
                kwargs[name] = self.resample_prob
        return run.space.mutate(arch, rng, **kwargs)

    def _children(self, run: _Run, rng: np.random.Generator, taken: set[str]) -> list[Any]:
        parents = run.top(self.parents)
        children: list[Any] = []
        for wanted, make in (
            (self.mutation, lambda: self._mutate(run, parents[rng.integers(len(parents))], rng)),
            (
                self.crossover,
                lambda: run.space.crossover(
                    parents[rng.integers(len(parents))], parents[rng.integers(len(parents))], rng
                ),
            ),
        ):
            found = 0
            for _ in range(10 * wanted):
                if found == wanted:
                    break
                child = make()
                key = run.legal(child)
                if key is not None and key not in taken:
                    taken.add(key)
                    children.append(child)
                    found += 1
        return children

    def _search(self, run: _Run, rng: np.random.Generator) -> None:
        taken: set[str] = set()
        for generation in range(self.generations):
            if run.left <= 0:
                return
            wanted = min(self.population, run.left)
            batch = [] if generation == 0 else self._children(run, rng, taken)[:wanted]
            while len(batch) < wanted:  # generation 0, or top-up of an exhausted neighbourhood
                arch = run.sample(rng, taken)
                if arch is None:
                    break
                batch.append(arch)
            if not batch:
                return
            run.run(batch)
