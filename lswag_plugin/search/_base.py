"""The search-strategy interface: a budget of evaluations over any :class:`~lswag_plugin.spaces.SearchSpace`."""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lswag_plugin.errors import SearchError
from lswag_plugin.search._budget import Budget
from lswag_plugin.spaces import SearchSpace

__all__ = ["Evaluator", "SearchError", "SearchResult", "SearchStrategy"]

#: Scores a list of architectures; returns one fitness per architecture, higher is better. NaN is
#: treated as −inf (never the best).
Evaluator = Callable[[Sequence[Any]], Sequence[float]]
#: Called after every evaluation with (evaluations so far, budget, best fitness so far).
Callback = Callable[[int, int, float], None]


@dataclass
class SearchResult:
    """What a search found and how it got there.

    Attributes:
        best_arch: The best architecture evaluated (highest fitness; the earliest among ties).
        best_score: Its fitness.
        evaluations: Distinct architectures evaluated (never more than the budget).
        history: One entry per evaluation, in order: ``{"evaluation", "arch", "score", "best_score"}``.
        strategy: The strategy's name.
        seed: The seed of the run.
        seconds: Wall-clock time of the run.
        best_params: The best architecture's parameter count.
    """

    best_arch: Any
    best_score: float
    evaluations: int
    history: list[dict[str, Any]] = field(default_factory=list)
    strategy: str = ""
    seed: int = 0
    seconds: float = 0.0
    best_params: int | None = None

    def trajectory(self) -> list[float]:
        """Returns the best fitness so far after each evaluation."""
        return [h["best_score"] for h in self.history]

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready summary (the history included)."""
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "best_arch": self.best_arch,
            "best_score": self.best_score,
            "best_params": self.best_params,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "history": self.history,
        }


class _Run:
    """Book-keeping of one search: memoised evaluations, budget, parameter limits, history."""

    def __init__(
        self,
        space: SearchSpace,
        evaluate: Evaluator,
        *,
        budget: int,
        params_min: float | None,
        params_max: float | None,
        callback: Callback | None,
        seed: int = 0,
    ) -> None:
        self.space, self.evaluate, self.budget, self.callback = space, evaluate, budget, callback
        self.params_min, self.params_max = params_min, params_max
        #: The run's seed (for strategies whose host library takes an integer seed, e.g. Optuna's samplers).
        self.seed = seed
        self.evaluated = Budget(space, budget)
        self.archs: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self._params: dict[str, int] = {}

    @property
    def scores(self) -> dict[str, float]:
        return self.evaluated.scores

    @property
    def best_key(self) -> str | None:
        return self.evaluated.best_key

    @property
    def left(self) -> int:
        return self.evaluated.left

    def params(self, key: str, arch: Any) -> int:
        if key not in self._params:
            self._params[key] = int(self.space.num_params(arch))
        return self._params[key]

    def legal(self, arch: Any) -> str | None:
        """Returns the key of ``arch`` if it is new and within the parameter limits, else None."""
        key = self.space.encode(arch)
        if key in self.scores:
            return None
        if self.params_min is not None or self.params_max is not None:
            millions = self.params(key, arch) / 1e6
            if self.params_min is not None and millions < self.params_min:
                return None
            if self.params_max is not None and millions > self.params_max:
                return None
        return key

    def sample(self, rng: np.random.Generator, taken: set[str], *, tries: int = 1000) -> Any | None:
        """Returns a random legal architecture not in ``taken``, or None after ``tries`` draws."""
        for _ in range(tries):
            arch = self.space.sample(rng)
            key = self.legal(arch)
            if key is not None and key not in taken:
                taken.add(key)
                return arch
        return None

    def run(self, archs: Sequence[Any]) -> list[float]:
        """Evaluates the new ones among ``archs`` (up to the budget); returns their fitness in order."""
        new = [(key, self.space.decode(key)) for key in self.evaluated.new(archs)]
        if new:
            values = list(self.evaluate([a for _, a in new]))
            if len(values) != len(new):
                raise SearchError(
                    f"the evaluator returned {len(values)} scores for {len(new)} architectures"
                )
            for (key, arch), value in zip(new, values):
                best = self.evaluated.add(key, value)
                self.archs[key] = arch
                self.history.append(
                    {
                        "evaluation": len(self.scores),
                        "arch": key,
                        "score": self.scores[key],
                        "best_score": best,
                    }
                )
                if self.callback is not None:
                    self.callback(len(self.scores), self.budget, best)
        return self.evaluated.fitness(archs)

    def top(self, k: int) -> list[Any]:
        """Returns the ``k`` best architectures evaluated so far (ties: earliest first)."""
        order = sorted(self.scores, key=lambda key: -self.scores[key])  # stable
        return [self.archs[key] for key in order[:k]]


class SearchStrategy(abc.ABC):
    """A search strategy: spends a budget of evaluations to find the architecture of highest fitness.

    Concrete strategies implement :meth:`_search`; :meth:`search` validates the arguments, memoises
    evaluations (an architecture is evaluated once per run; repeats are free and not counted) and builds
    the :class:`SearchResult`.

    Args:
        params_min: Lower limit on #params, in millions (architectures below it are never evaluated).
        params_max: Upper limit on #params, in millions.

    Example:
        >>> from lswag_plugin.search import RandomSearch
        >>> from lswag_plugin.spaces import get_space
        >>> space = get_space("nb201")
        >>> result = RandomSearch().search(space, lambda archs: [a.count("conv_3x3") for a in archs], budget=20, seed=0)
        >>> result.evaluations, result.best_score >= 2
        (20, True)
    """

    #: Name used in results and on the command line.
    name: str = ""

    def __init__(self, *, params_min: float | None = None, params_max: float | None = None) -> None:
        for label, value in (("params_min", params_min), ("params_max", params_max)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{label} must be a non-negative number of millions, got {value}")
        if params_min is not None and params_max is not None and params_min > params_max:
            raise ValueError(f"params_min ({params_min}) is above params_max ({params_max})")
        self.params_min = params_min
        self.params_max = params_max

    def search(
        self,
        space: SearchSpace,
        evaluate: Evaluator,
        *,
        budget: int,
        seed: int = 0,
        callback: Callback | None = None,
    ) -> SearchResult:
        """Returns the best architecture found with at most ``budget`` distinct evaluations.

        Args:
            space: The search space.
            evaluate: Scores a list of architectures (higher is better), e.g. a
                :class:`~lswag_plugin.search.ProxyEvaluator`.
            budget: The most distinct architectures to evaluate.
            seed: Seeds every random choice of the strategy.
            callback: Called after every evaluation (progress bars).

        Raises:
            SearchError: No architecture within the parameter limits could be found.
        """
        if int(budget) != budget or budget < 1:
            raise ValueError(f"budget must be a positive integer, got {budget}")
        started = time.perf_counter()
        run = _Run(
            space,
            evaluate,
            budget=int(budget),
            params_min=self.params_min,
            params_max=self.params_max,
            callback=callback,
            seed=seed,
        )
        self._search(run, np.random.default_rng(seed))
        if run.best_key is None:
            raise SearchError(
                f"no architecture of {space.name or type(space).__name__} within the parameter limits "
                f"[{self.params_min}, {self.params_max}] M was found; widen --params-min/--params-max"
            )
        best = run.archs[run.best_key]
        best_params = run.params(run.best_key, best)
        return SearchResult(
            best_arch=best,
            best_score=run.scores[run.best_key],
            evaluations=len(run.scores),
            history=run.history,
            strategy=self.name,
            seed=seed,
            seconds=time.perf_counter() - started,
            best_params=best_params,
        )

    @abc.abstractmethod
    def _search(self, run: _Run, rng: np.random.Generator) -> None:
        """Spends ``run``'s budget (``run.run(archs)`` evaluates; ``run.left`` is what remains)."""
