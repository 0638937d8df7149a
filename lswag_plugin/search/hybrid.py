"""Hybrid searches: zero-cost scores decide **what to train**; the budget is a number of trainings.

A hybrid strategy gets two evaluators: ``screen(archs)``, a zero-cost score (e.g. a
:class:`~lswag_plugin.search.ProxyEvaluator`; free in the budget, its calls counted and timed apart),
and ``train(archs)``, the expensive evaluation (a training run, or a benchmark table's validation
accuracy). Both return fitness, higher is better (NaN counts as −inf). Trainings go through a
:class:`~lswag_plugin.search._budget.Budget`: at most ``trainings`` distinct architectures are trained,
repeats are free and not counted. The result is the architecture with the best *trained* fitness.

Strategies here (registered as ``screen-random``, ``screen-evolution`` and ``zc-local``; the Optuna and
NNI hybrids, which sit above this layer, are in :mod:`lswag_plugin.compare`):

- :class:`ScreenThenTrain` — screen a pool (random cells, or a zero-cost evolution), then train the
  proxy's top cells in order.
- :class:`ScreenedLocalSearch` — train the proxy's favourite, then keep training the most promising
  (by the proxy) untrained mutation of the best *trained* cells: the trainings steer where the proxy
  looks, the proxy decides what is trained.

Every strategy is *anytime*: its first ``t`` trainings do not depend on the budget, so one run with
``trainings=100`` also gives the result at 10, 20 and 50 trainings (tested).

Example:
    >>> from lswag_plugin.search.hybrid import ScreenedLocalSearch
    >>> from lswag_plugin.spaces import get_space
    >>> space = get_space("nb201")
    >>> def screen(archs):  # a zero-cost stand-in: counts 3x3 convolutions
    ...     return [a.count("conv_3x3") for a in archs]
    >>> def train(archs):  # the expensive one: 3x3 convolutions, but a skip on the last edge is best
    ...     return [a.count("conv_3x3") + 2 * a.endswith("skip_connect~2|") for a in archs]
    >>> result = ScreenedLocalSearch(pool=200).search(space, train, screen, trainings=20, seed=0)
    >>> result.trainings, result.best_score, result.best_arch.split("+")[2]
    (20, 7.0, '|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|')
"""

from __future__ import annotations

import abc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lswag_plugin.errors import SearchError
from lswag_plugin.search._budget import Budget
from lswag_plugin.search._registry import register_strategy
from lswag_plugin.spaces import PoolSpace, SearchSpace

__all__ = [
    "HybridResult",
    "HybridRun",
    "HybridStrategy",
    "ScreenThenTrain",
    "ScreenedLocalSearch",
    "screen_evolution",
    "screen_random",
]

#: Scores a list of architectures; one fitness per architecture, higher is better.
Evaluate = Callable[[Sequence[Any]], Sequence[float]]
#: Called after every training with (trainings so far, budget, best trained fitness so far).
Callback = Callable[[int, int, float], None]


@dataclass
class HybridResult:
    """What a hybrid search trained and found.

    Attributes:
        best_arch: The architecture with the best trained fitness (the earliest among ties).
        best_score: Its trained fitness.
        trainings: Distinct architectures trained (never more than the budget).
        screened: Distinct architectures scored zero-cost.
        screen_seconds: Wall-clock seconds spent in ``screen``.
        history: One entry per training, in order: ``{"training", "arch", "score", "best_score",
            "screened", "screen_seconds"}`` (the last two: zero-cost work done so far).
        strategy: The strategy's name.
        seed: The seed of the run.
        seconds: Wall-clock time of the run.
    """

    best_arch: Any
    best_score: float
    trainings: int
    screened: int
    screen_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    strategy: str = ""
    seed: int = 0
    seconds: float = 0.0

    def trajectory(self) -> list[float]:
        """Returns the best trained fitness after each training."""
        return [h["best_score"] for h in self.history]


class HybridRun:
    """The book-keeping of one hybrid search: trainings under a budget, zero-cost scores apart.

    ``train`` is counted by a :class:`~lswag_plugin.search._budget.Budget` of ``trainings`` (distinct
    architectures; repeats answered from memory), ``screen`` by an unlimited one (each architecture
    scored once), with the seconds spent in it. Strategies call :meth:`train`, :meth:`screen` and read
    :attr:`left`; Optuna and NNI hybrids use it too.

    Args:
        space: The search space.
        train: The expensive evaluator.
        screen: The zero-cost evaluator.
        trainings: The budget of distinct trainings.
        callback: Called after every training.

    Example:
        >>> from lswag_plugin.spaces import get_space
        >>> run = HybridRun(get_space("nb201"), lambda a: [1.0] * len(a), lambda a: [0.5] * len(a),
        ...                 trainings=1)
        >>> a = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
        >>> run.screen([a, a]), run.train([a]), run.left, run.screened.scores == {a: 0.5}
        ([0.5, 0.5], [1.0], 0, True)
    """

    def __init__(
        self,
        space: SearchSpace,
        train: Evaluate,
        screen: Evaluate,
        *,
        trainings: int,
        callback: Callback | None = None,
    ) -> None:
        self.space = space
        self._train = train
        self._screen = screen
        self.callback = callback
        #: Trained architectures: canonical key → trained fitness (at most ``trainings``).
        self.trained = Budget(space, trainings)
        #: Zero-cost scores: canonical key → fitness (unlimited).
        self.screened = Budget(space, sys.maxsize)
        self.screen_seconds = 0.0
        self.archs: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []

    @property
    def left(self) -> int:
        """Trainings left."""
        return self.trained.left

    @staticmethod
    def _checked(values: Sequence[float], n: int, what: str) -> list[float]:
        values = list(values)
        if len(values) != n:
            raise SearchError(f"{what} returned {len(values)} values for {n} architectures")
        return values

    def screen(self, archs: Sequence[Any]) -> list[float]:
        """Returns the zero-cost fitness of each architecture (each scored once, whatever the budget)."""
        new = self.screened.unseen(archs)
        if new:
            started = time.perf_counter()
            values = self._checked(
                self._screen([self.space.decode(k) for k in new]), len(new), "screen"
            )
            self.screen_seconds += time.perf_counter() - started
            for key, value in zip(new, values):
                self.screened.add(key, value)
        return self.screened.fitness(archs)

    def train(self, archs: Sequence[Any]) -> list[float]:
        """Trains the new ones among ``archs`` (in order, up to the budget); returns their fitness.

        An architecture that could not be trained because the budget ran out gets −inf.
        """
        new = self.trained.new(archs)
        if new:
            values = self._checked(
                self._train([self.space.decode(k) for k in new]), len(new), "train"
            )
            for key, value in zip(new, values):
                best = self.trained.add(key, value)
                self.archs.setdefault(key, self.space.decode(key))
                self.history.append(
                    {
                        "training": len(self.trained.scores),
                        "arch": key,
                        "score": self.trained.scores[key],
                        "best_score": best,
                        "screened": len(self.screened.scores),
                        "screen_seconds": self.screen_seconds,
                    }
                )
                if self.callback is not None:
                    self.callback(len(self.trained.scores), self.trained.budget, best)
        return self.trained.fitness(archs)

    def is_trained(self, arch: Any) -> bool:
        """Whether ``arch`` has been trained."""
        return self.space.encode(arch) in self.trained.scores

    def top_trained(self, k: int) -> list[str]:
        """Returns the keys of the ``k`` best trained architectures (ties: earliest first)."""
        scores = self.trained.scores
        return sorted(scores, key=lambda key: -scores[key])[:k]

    def top_screened(self, k: int | None = None, *, untrained: bool = True) -> list[str]:
        """Returns the keys of the best zero-cost scores (ties: earliest first), untrained ones only."""
        scores = self.screened.scores
        keys = [key for key in scores if not (untrained and key in self.trained.scores)]
        keys.sort(key=lambda key: -scores[key])
        return keys if k is None else keys[:k]

    def sample(self, rng: np.random.Generator, n: int, *, tries: int = 100) -> list[Any]:
        """Returns up to ``n`` distinct random architectures never screened nor trained.

        On a :class:`~lswag_plugin.spaces.PoolSpace` they are drawn without replacement from the
        members left (a pool smaller than ``n`` is not sampled ``tries × n`` times).
        """
        if isinstance(self.space, PoolSpace):
            left = [
                k
                for k in self.space.keys
                if k not in self.screened.scores and k not in self.trained.scores
            ]
            return [self.space.decode(left[int(i)]) for i in rng.permutation(len(left))[:n]]
        out: dict[str, Any] = {}
        for _ in range(tries * n):
            if len(out) == n:
                break
            arch = self.space.sample(rng)
            key = self.space.encode(arch)
            if (
                key not in out
                and key not in self.screened.scores
                and key not in self.trained.scores
            ):
                out[key] = arch
        return list(out.values())


class HybridStrategy(abc.ABC):
    """A search that screens zero-cost and spends a budget of trainings.

    Concrete strategies implement :meth:`_search` with a :class:`HybridRun`; :meth:`search` validates
    the arguments and builds the :class:`HybridResult`.

    Example:
        >>> from lswag_plugin.search.hybrid import ScreenThenTrain
        >>> from lswag_plugin.spaces import get_space
        >>> score = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> result = ScreenThenTrain(pool=100).search(get_space("nb201"), score, score, trainings=3)
        >>> result.trainings, result.screened
        (3, 100)
    """

    #: Name used in reports and on the command line.
    name: str = ""

    def search(
        self,
        space: SearchSpace,
        train: Evaluate,
        screen: Evaluate,
        *,
        trainings: int,
        seed: int = 0,
        callback: Callback | None = None,
    ) -> HybridResult:
        """Returns the best trained architecture found with at most ``trainings`` distinct trainings.

        Args:
            space: The search space.
            train: The expensive evaluator (a training run, or a table's validation accuracy).
            screen: The zero-cost evaluator (e.g. a :class:`~lswag_plugin.search.ProxyEvaluator`).
            trainings: The most distinct architectures to train.
            seed: Seeds every random choice of the strategy.
            callback: Called after every training.
        """
        if int(trainings) != trainings or trainings < 1:
            raise ValueError(f"trainings must be a positive integer, got {trainings}")
        started = time.perf_counter()
        run = HybridRun(space, train, screen, trainings=int(trainings), callback=callback)
        self._search(run, np.random.default_rng(seed))
        if run.trained.best_key is None:
            raise SearchError(
                f"{self.name} trained nothing in {space.name or type(space).__name__}"
            )
        return HybridResult(
            best_arch=run.archs[run.trained.best_key],
            best_score=run.trained.scores[run.trained.best_key],
            trainings=len(run.trained.scores),
            screened=len(run.screened.scores),
            screen_seconds=run.screen_seconds,
            history=run.history,
            strategy=self.name,
            seed=seed,
            seconds=time.perf_counter() - started,
        )

    @abc.abstractmethod
    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        """Spends ``run``'s trainings (``run.train``), screening with ``run.screen`` as it likes."""


def _positive(label: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    return int(value)


def _screen_pool(run: HybridRun, rng: np.random.Generator, pool: int, screener: str) -> None:
    """Screens ``pool`` distinct cells: random ones, or those a zero-cost evolution evaluates."""
    if screener == "random":
        for start in range(0, pool, 500):  # in chunks: a big pool is no big list of arguments
            batch = run.sample(rng, min(500, pool - start))
            if not batch:
                return
            run.screen(batch)
    else:
        from lswag_plugin.search.evolution import EvolutionSearch

        seed = int(rng.integers(2**31))
        EvolutionSearch().search(run.space, run.screen, budget=pool, seed=seed)


class ScreenThenTrain(HybridStrategy):
    """Screens a pool zero-cost, then trains the proxy's top cells in order (best first).

    The pool is ``pool`` distinct random cells (``screener="random"``) or the cells a zero-cost
    :class:`~lswag_plugin.search.EvolutionSearch` evaluates with a budget of ``pool``
    (``screener="evolution"``). The trainings only decide which cell is *reported* (the best trained);
    they never change what is trained next. If the pool runs out, random cells are trained.

    Args:
        pool: Cells screened before any training.
        screener: ``"random"`` or ``"evolution"``.

    Example:
        >>> from lswag_plugin.search.hybrid import ScreenThenTrain
        >>> from lswag_plugin.spaces import get_space
        >>> zc = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> result = ScreenThenTrain(pool=300, screener="evolution").search(
        ...     get_space("nb201"), zc, zc, trainings=5, seed=0)
        >>> [h["score"] for h in result.history]  # trained in the proxy's order
        [6.0, 5.0, 5.0, 5.0, 5.0]
    """

    def __init__(self, *, pool: int = 3000, screener: str = "random") -> None:
        if screener not in ("random", "evolution"):
            raise ValueError(f"screener must be 'random' or 'evolution', got {screener!r}")
        self.pool = _positive("pool", pool)
        self.screener = screener
        self.name = f"screen-{screener}"

    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        _screen_pool(run, rng, self.pool, self.screener)
        for key in run.top_screened():
            if run.left <= 0:
                return
            run.train([key])
        while run.left > 0:  # the pool ran out
            batch = run.sample(rng, 1)
            if not batch:
                return
            run.train(batch)


@register_strategy("screen-random", needs_proxy=True, defaults={"pool": 3000})
def screen_random(**options: Any) -> ScreenThenTrain:
    """:class:`ScreenThenTrain` over a pool of random cells."""
    return ScreenThenTrain(screener="random", **options)


@register_strategy("screen-evolution", needs_proxy=True, defaults={"pool": 1000})
def screen_evolution(**options: Any) -> ScreenThenTrain:
    """:class:`ScreenThenTrain` over the cells a zero-cost evolution evaluates (pool 1000: docs/prescreen.md)."""
    return ScreenThenTrain(screener="evolution", **options)


@register_strategy("zc-local", needs_proxy=True)
class ScreenedLocalSearch(HybridStrategy):
    """Local search on trained results, steered by the proxy: the proxy decides what is trained.

    1. Screen ``pool`` cells (random, or a zero-cost evolution) and train the proxy's ``init`` best.
    2. Then, before every training: take the ``parents`` best *trained* cells; for each, draw up to
       ``children`` distinct untrained mutations (``space.mutate(parent, prob=mutation_prob)``; with
       the default 0 every mutation changes exactly one choice, so on NB201 this is the cell's whole
       one-edge neighbourhood); screen them, and train the child with the best zero-cost score among
       the children of the best parent that has any. New trainings change the parents at once, so
       a trained improvement is followed immediately (proxy-ordered first-improvement hill climbing,
       widening to the next-best trained cell when a neighbourhood is exhausted).
    3. If no parent has an untrained child left, the proxy's best untrained screened cell is trained.

    The proxy is never asked to pick the winner, only to order candidates near cells whose training
    already proved good, which is where a proxy's ranking is unreliable and a training's is not.

    Args:
        pool: Cells screened before the first training.
        screener: ``"random"`` or ``"evolution"`` (how the pool is found).
        init: Trainings of the proxy's top pool cells before the local search starts.
        parents: Best trained cells whose mutations are candidates.
        children: Distinct mutations drawn per parent (24 covers an NB201 neighbourhood).
        mutation_prob: ``prob`` passed to ``space.mutate`` (0: exactly one choice changes; a space
            whose ``mutate`` needs ``prob`` > 0, as NB101's and PiT's, gets ``prob`` 0.001 instead:
            its draws repeat until the child differs, so almost always one choice changes).

    Example:
        >>> from lswag_plugin.search.hybrid import ScreenedLocalSearch
        >>> from lswag_plugin.spaces import get_space
        >>> zc = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> result = ScreenedLocalSearch(pool=300).search(get_space("nb201"), zc, zc, trainings=4)
        >>> [h["score"] for h in result.history]  # the pool's favourite, then its best mutants
        [5.0, 6.0, 5.0, 5.0]
    """

    name = "zc-local"

    def __init__(
        self,
        *,
        pool: int = 1000,
        screener: str = "random",
        init: int = 1,
        parents: int = 1,
        children: int = 24,
        mutation_prob: float = 0.0,
    ) -> None:
        if screener not in ("random", "evolution"):
            raise ValueError(f"screener must be 'random' or 'evolution', got {screener!r}")
        if not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {mutation_prob}")
        self.pool = _positive("pool", pool)
        self.screener = screener
        self.init = _positive("init", init)
        self.parents = _positive("parents", parents)
        self.children = _positive("children", children)
        self.mutation_prob = float(mutation_prob)

    def _mutate(self, space: SearchSpace, arch: Any, rng: np.random.Generator) -> Any:
        if self.mutation_prob > 0.0:
            return space.mutate(arch, rng, prob=self.mutation_prob)
        try:
            return space.mutate(arch, rng, prob=0.0)  # NB201, DARTS: one choice changes
        except ValueError:  # NB101, PiT: prob must be > 0; they redraw until the child differs
            return space.mutate(arch, rng, prob=1e-3)

    def _mutants(self, run: HybridRun, parent: str, rng: np.random.Generator) -> list[str]:
        arch = run.archs.get(parent, parent)
        found: dict[str, None] = {}
        # In a PoolSpace mutations land on few members: stop after `children` draws found nothing new.
        patience = self.children if isinstance(run.space, PoolSpace) else 10 * self.children
        misses = 0
        for _ in range(10 * self.children):
            if len(found) == self.children or misses >= patience:
                break
            key = run.space.encode(self._mutate(run.space, arch, rng))
            misses = 0 if key != parent and key not in found else misses + 1
            if key != parent:
                found[key] = None
        return list(found)

    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        _screen_pool(run, rng, self.pool, self.screener)
        for key in run.top_screened(self.init):
            if run.left <= 0:
                return
            run.train([key])
        neighbourhoods: dict[str, list[str]] = {}  # parent → its mutants (drawn once)
        while run.left > 0:
            choice = None
            for parent in run.top_trained(self.parents):
                if parent not in neighbourhoods:
                    neighbourhoods[parent] = self._mutants(run, parent, rng)
                untrained = [k for k in neighbourhoods[parent] if k not in run.trained.scores]
                if untrained:
                    scores = run.screen(untrained)
                    choice = untrained[int(np.argmax(scores))]  # ties: the first drawn
                    break
            if choice is None:  # every parent's neighbourhood is trained: the proxy's best left
                left = run.top_screened(1) or [run.space.encode(a) for a in run.sample(rng, 1)]
                if not left:
                    return
                choice = left[0]
            run.train([choice])
