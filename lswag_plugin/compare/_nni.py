"""NNI's strategy in a comparison: ``RegularizedEvolution`` alone, and with a zero-cost gate.

Registered as ``nni-evolution`` (training-only: :class:`NNIEvolution`) and ``nni-evolution-zc`` (hybrid:
:class:`NNIScreenedEvolution`). Both search the space's NNI model space
(:meth:`~lswag_plugin.spaces.SearchSpace.nni_model_space`; of the built-in spaces NB201's, NNI's
``NasBench201`` hub space) in-process on the sequential engine, through
:func:`lswag_plugin.nni.run_experiment`; NNI is imported when a strategy runs.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from lswag_plugin.errors import BadArchitecture, BudgetSpent, CompareError
from lswag_plugin.search import (
    HybridRun,
    HybridStrategy,
    PercentileRule,
    SearchStrategy,
    register_strategy,
)
from lswag_plugin.spaces import PoolSpace, SearchSpace

if TYPE_CHECKING:
    from lswag_plugin.search._base import _Run

__all__ = ["NNIEvolution", "NNIScreenedEvolution"]


def _nni() -> ModuleType:
    """Imports :mod:`lswag_plugin.nni` quietly (NNI writes under ``$HOME``; its logger says INFO)."""
    os.environ.setdefault("HOME", tempfile.mkdtemp())
    logging.getLogger("nni").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
    import lswag_plugin.nni

    return lswag_plugin.nni


def _model_space(name: str, space: SearchSpace) -> Any:
    """Returns ``space``'s NNI model space, or a :class:`CompareError` saying the strategy cannot run."""
    try:
        return space.nni_model_space()
    except BadArchitecture as exc:
        raise CompareError(
            f"{name} runs on a space with an NNI model space (of the built-in spaces nb201 only, "
            f"NNI's hub space), not {space.name!r}: {exc}"
        ) from None


def _evolution(*, population_size: int, sample_size: int, seed: int) -> Any:
    from nni.nas import strategy

    return strategy.RegularizedEvolution(
        population_size=population_size, sample_size=sample_size, seed=seed, dedup=True
    )


@register_strategy("nni-evolution", host="nni")
class NNIEvolution(SearchStrategy):
    """NNI 3.0 ``RegularizedEvolution`` (``dedup=True``) spending a budget of distinct evaluations.

    Each NNI sample is converted by the space (:meth:`~lswag_plugin.spaces.SearchSpace.from_nni_sample`;
    on a :class:`~lswag_plugin.spaces.PoolSpace` the nearest pool member). A cell whose fitness is not
    finite reports no metric, so the evolution leaves it out of its population (no sentinel value).
    On a pool, distinct NNI samples can share a member (a free repeat): up to 50 × budget trials.

    Args:
        population_size: The evolution's population (50).
        sample_size: Its tournament size (10).

    Example:
        >>> from lswag_plugin.search import get_strategy
        >>> from lswag_plugin.spaces import get_space
        >>> fitness = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> get_strategy("nni-evolution").search(get_space("nb201"), fitness, budget=5).evaluations
        5
    """

    name = "nni-evolution"

    def __init__(self, *, population_size: int = 50, sample_size: int = 10) -> None:
        super().__init__()
        self.population_size = population_size
        self.sample_size = sample_size

    def _search(self, run: _Run, rng: np.random.Generator) -> None:
        nni = _nni()
        model_space = _model_space(self.name, run.space)

        def value(arch: Any) -> float:
            if run.left <= 0 and run.space.encode(arch) not in run.scores:
                raise BudgetSpent
            return run.run([arch])[0]

        search = _evolution(
            population_size=self.population_size, sample_size=self.sample_size, seed=run.seed
        )
        if not isinstance(run.space, PoolSpace):
            config = nni.sequential_config(max_trial_number=run.budget)
        else:  # distinct NNI samples can share a nearest pool member (a free repeat): more trials
            config = nni.sequential_config(max_trial_number=50 * run.budget)
            config.execution_engine.continue_on_failure = False  # BudgetSpent ends the experiment
        evaluator = nni.SampleEvaluator(run.space, value)
        nni.run_experiment(model_space, evaluator, search, config, log_level=logging.WARNING)


@register_strategy("nni-evolution-zc", host="nni", needs_proxy=True, defaults={"percentile": 50.0})
class NNIScreenedEvolution(HybridStrategy):
    """NNI 3.0 ``RegularizedEvolution`` with a zero-cost gate before training.

    Every candidate NNI proposes (the random population, then each mutated child) is scored zero-cost
    first; one whose score is below the ``percentile``-th percentile of the earlier candidates' scores
    (after ``n_warmup`` of them: :class:`~lswag_plugin.search.PercentileRule`, the rule of
    :class:`~lswag_plugin.optuna.ZeroCostPruner`) is not trained: it reports no metric, so NNI leaves
    it out of the population (as a failed trial) and proposes another. The others are trained and join
    the population. It searches the space's NNI model space in-process on the sequential engine; on a
    :class:`~lswag_plugin.spaces.PoolSpace` each NNI sample is replaced by its nearest pool member.

    Args:
        percentile: Gate: candidates below this percentile of earlier zero-cost scores are not trained.
        n_warmup: Earlier scores needed before the gate closes on anyone.
        population_size: ``RegularizedEvolution``'s population (50, as the training-only baseline).
        sample_size: Its tournament size (10).
        max_trials_per_training: NNI trials per training at most.

    Example:
        >>> from lswag_plugin.compare import NNIScreenedEvolution
        >>> from lswag_plugin.spaces import get_space
        >>> zc = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> NNIScreenedEvolution().search(get_space("nb201"), zc, zc, trainings=3).trainings
        3
    """

    name = "nni-evolution-zc"

    def __init__(
        self,
        *,
        percentile: float = 50.0,
        n_warmup: int = 5,
        population_size: int = 50,
        sample_size: int = 10,
        max_trials_per_training: int = 50,
    ) -> None:
        self.rule = PercentileRule(float(percentile), n_warmup=int(n_warmup))
        self.percentile = self.rule.percentile
        self.n_warmup = self.rule.n_warmup
        self.population_size = population_size
        self.sample_size = sample_size
        self.max_trials_per_training = max_trials_per_training

    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        nni = _nni()
        model_space = _model_space(self.name, run.space)
        seen: list[float] = []  # earlier zero-cost scores (NaN for a non-finite one)

        def value(arch: Any) -> float | None:
            if not run.is_trained(arch):
                score = run.screen([arch])[0]
                earlier = list(seen)
                seen.append(score if math.isfinite(score) else math.nan)
                if not math.isfinite(score) or self.rule.prunes(score, earlier):
                    return None  # not trained: no metric, not in the population
                if run.left <= 0:
                    raise BudgetSpent
            return run.train([arch])[0]

        search = _evolution(
            population_size=self.population_size,
            sample_size=self.sample_size,
            seed=int(rng.integers(2**31)),
        )
        config = nni.sequential_config(
            max_trial_number=self.max_trials_per_training * run.trained.budget
        )
        config.execution_engine.continue_on_failure = False  # BudgetSpent ends the experiment
        # A gated candidate "fails" by design: not worth a log line.
        evaluator = nni.SampleEvaluator(run.space, value)
        nni.run_experiment(model_space, evaluator, search, config, log_level=logging.CRITICAL)
