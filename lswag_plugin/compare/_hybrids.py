"""Optuna and NNI hybrids: the zero-cost score decides which of a host strategy's proposals is trained.

They are :class:`~lswag_plugin.search.hybrid.HybridStrategy` subclasses (``search(space, train,
screen, trainings=T, seed=s)``), usable on their own; they live here because this package sits above
the host adapters (:mod:`lswag_plugin.optuna`, :mod:`lswag_plugin.nni`).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from typing import Any

import numpy as np

from lswag_plugin.errors import BudgetSpent, CompareError
from lswag_plugin.search.hybrid import HybridRun, HybridStrategy
from lswag_plugin.spaces import PoolSpace

__all__ = ["NNIScreenedEvolution", "OptunaHybrid"]


def _finite_or_nan(value: float) -> float:
    return value if math.isfinite(value) else math.nan


class OptunaHybrid(HybridStrategy):
    """An Optuna study whose trials are trained, with a zero-cost pre-screen or pruner in front.

    - ``n_candidates=K`` (pre-screen): the study's sampler is wrapped in
      :class:`~lswag_plugin.optuna.PrescreenSampler`; each trial scores K candidates drawn by the
      wrapped sampler zero-cost and is given the best one, which is trained. A candidate already trained
      is ranked last (its result is known, training it again would teach the study nothing).
    - ``percentile=p`` (pruner): the study has a :class:`~lswag_plugin.optuna.ZeroCostPruner`
      (``percentile=p``, ``n_warmup_trials``); each trial reports its zero-cost score at step 0 and a
      pruned trial is not trained and does not count (Optuna's samplers see it as PRUNED).

    A trial whose cell was trained before gets the known value (free). The study ends when ``trainings``
    cells are trained (or after ``max_trials_per_training × trainings`` trials).

    Args:
        sampler: ``"tpe"`` (``TPESampler(seed=seed)``) or ``"nsga2"`` (``NSGAIISampler(seed=seed)``).
        n_candidates: K of the pre-screen (None: no pre-screen).
        percentile: The pruner's percentile (None: no pruner).
        n_warmup_trials: Earlier zero-cost scores before the pruner prunes.
        max_trials_per_training: Trials asked per training at most (repeats and pruned trials are free).

    Example:
        >>> from lswag_plugin.compare import OptunaHybrid
        >>> from lswag_plugin.spaces import get_space
        >>> zc = lambda archs: [a.count("conv_3x3") for a in archs]
        >>> result = OptunaHybrid("tpe", n_candidates=4).search(get_space("nb201"), zc, zc, trainings=5)
        >>> result.trainings, result.screened >= 5
        (5, True)
    """

    def __init__(
        self,
        sampler: str = "tpe",
        *,
        n_candidates: int | None = None,
        percentile: float | None = None,
        n_warmup_trials: int = 5,
        max_trials_per_training: int = 100,
    ) -> None:
        if sampler not in ("tpe", "nsga2"):
            raise ValueError(f"sampler must be 'tpe' or 'nsga2', got {sampler!r}")
        if (n_candidates is None) == (percentile is None):
            raise ValueError(
                "give n_candidates (a pre-screen) or percentile (a pruner), one of them"
            )
        self.sampler = sampler
        self.n_candidates = n_candidates
        self.percentile = percentile
        self.n_warmup_trials = n_warmup_trials
        self.max_trials_per_training = max_trials_per_training
        self.name = f"prescreen-{sampler}" if n_candidates is not None else f"pruner-{sampler}"

    def _study(self, run: HybridRun, seed: int) -> Any:
        import optuna

        from lswag_plugin.optuna import PrescreenSampler, ZeroCostPruner, suggest_architecture

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        base: Any = (
            optuna.samplers.TPESampler(seed=seed)
            if self.sampler == "tpe"
            else optuna.samplers.NSGAIISampler(seed=seed)
        )
        if self.n_candidates is not None:

            def zero_cost(trial: Any) -> float:
                arch = suggest_architecture(trial, run.space)
                if run.is_trained(arch):
                    return -math.inf  # known: ranked last
                return run.screen([arch])[0]

            sampler: Any = PrescreenSampler(
                base, objective=zero_cost, n_candidates=self.n_candidates, direction="maximize"
            )
            return optuna.create_study(direction="maximize", sampler=sampler)
        pruner = ZeroCostPruner(
            percentile=float(self.percentile),  # type: ignore[arg-type]
            n_warmup_trials=self.n_warmup_trials,
            direction="max",
        )
        return optuna.create_study(direction="maximize", sampler=base, pruner=pruner)

    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        import optuna

        from lswag_plugin.optuna import report_zero_cost, suggest_architecture

        seed = int(rng.integers(2**31))
        study = self._study(run, seed)
        state = optuna.trial.TrialState
        for _ in range(self.max_trials_per_training * run.trained.budget):
            if run.left <= 0:
                return
            trial = study.ask()
            try:
                arch = suggest_architecture(trial, run.space)
            except optuna.TrialPruned:  # NB101: a draw with no valid cell, not a candidate
                study.tell(trial, state=state.PRUNED)
                continue
            if not run.is_trained(arch) and self.percentile is not None:
                score = _finite_or_nan(run.screen([arch])[0])
                if report_zero_cost(trial, score):
                    study.tell(trial, state=state.PRUNED)
                    continue
            value = run.train([arch])[0]
            if math.isfinite(value):
                study.tell(trial, value)
            else:  # a cell that cannot be trained: a failed trial, which the samplers skip
                study.tell(trial, state=state.FAIL)


class NNIScreenedEvolution(HybridStrategy):
    """NNI 3.0 ``RegularizedEvolution`` on NNI's NB201 hub space, with a zero-cost gate before training.

    Every candidate NNI proposes (the random population, then each mutated child) is scored zero-cost
    first; one whose score is below the ``percentile``-th percentile of the earlier candidates' scores
    (after ``n_warmup`` of them) is not trained: it reports no metric, so NNI leaves it out of the
    population (as a failed trial) and proposes another. The others are trained and join the
    population. NB201 only (NNI's hub space); run in-process on the sequential engine. On a
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
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {percentile}")
        self.percentile = float(percentile)
        self.n_warmup = int(n_warmup)
        self.population_size = population_size
        self.sample_size = sample_size
        self.max_trials_per_training = max_trials_per_training

    def _search(self, run: HybridRun, rng: np.random.Generator) -> None:
        if run.space.name != "nb201":
            raise CompareError(
                f"{self.name} runs on nb201 only (NNI's hub space), not {run.space.name!r}"
            )
        os.environ.setdefault("HOME", tempfile.mkdtemp())
        warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
        import nni
        from nni.nas import strategy
        from nni.nas.evaluator import Evaluator

        from lswag_plugin.compare._strategies import run_nni_experiment
        from lswag_plugin.nni import nb201_arch_from_sample, sequential_config

        seen: list[float] = []
        gate = self

        class _Gated(Evaluator):
            def evaluate(self, model: Any) -> None:  # pragma: no cover - _execute builds no model
                raise NotImplementedError

            def _execute(self, model: Any) -> float | None:
                arch = nb201_arch_from_sample(model.sample)
                if isinstance(run.space, PoolSpace):  # pool-restricted: the nearest member
                    arch = run.space.nearest(arch)
                if not run.is_trained(arch):
                    score = run.screen([arch])[0]
                    earlier = [s for s in seen if not math.isnan(s)]
                    seen.append(_finite_or_nan(score))
                    if not math.isfinite(score):
                        return None
                    if len(earlier) >= max(gate.n_warmup, 1) and score < float(
                        np.percentile(earlier, gate.percentile)
                    ):
                        return None  # not trained: no metric, not in the population
                    if run.left <= 0:
                        raise BudgetSpent
                value = run.train([arch])[0]
                if not math.isfinite(value):
                    return None
                nni.report_final_result(value)
                return value

        search = strategy.RegularizedEvolution(
            population_size=self.population_size,
            sample_size=self.sample_size,
            seed=int(rng.integers(2**31)),
            dedup=True,
        )
        config = sequential_config(
            max_trial_number=self.max_trials_per_training * run.trained.budget
        )
        config.execution_engine.continue_on_failure = False  # BudgetSpent ends the experiment
        # A gated candidate "fails" by design: not worth a log line.
        run_nni_experiment(_Gated(), search, config, log_level=logging.CRITICAL)
