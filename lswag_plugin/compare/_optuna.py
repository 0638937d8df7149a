"""Optuna's strategies in a comparison: TPE and NSGA-II alone, and with a zero-cost pre-screen or pruner.

Registered as ``optuna-tpe``, ``optuna-nsga2`` (training-only: :class:`OptunaSearch`) and
``prescreen-tpe``, ``prescreen-nsga2``, ``pruner-tpe`` (hybrids: :class:`OptunaHybrid`). Every study is
built here, with the sampler of :func:`optuna_sampler`; architectures come from the space's own
:meth:`~lswag_plugin.spaces.SearchSpace.suggest`. Optuna is imported when a strategy runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from lswag_plugin.search import HybridRun, HybridStrategy, SearchStrategy, register_strategy

if TYPE_CHECKING:
    from lswag_plugin.search._base import _Run

__all__ = ["SAMPLERS", "OptunaHybrid", "OptunaSearch", "optuna_sampler"]

#: The samplers a comparison runs: name → Optuna class (seeded with the run's seed).
SAMPLERS = {"tpe": "TPESampler", "nsga2": "NSGAIISampler"}


def _check_sampler(sampler: str) -> str:
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be 'tpe' or 'nsga2', got {sampler!r}")
    return sampler


def optuna_sampler(sampler: str, seed: int) -> Any:
    """Returns ``optuna.samplers.TPESampler(seed=seed)`` (``"tpe"``) or ``NSGAIISampler(seed=seed)``.

    Example:
        >>> type(optuna_sampler("nsga2", 0)).__name__
        'NSGAIISampler'
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return getattr(optuna.samplers, SAMPLERS[_check_sampler(sampler)])(seed=seed)


def _ask(study: Any, space: Any) -> tuple[Any, Any]:
    """Asks the study for a trial and its architecture; None (the trial told PRUNED) for a draw with
    no valid cell (NB101: ``optuna.TrialPruned``), which is not an evaluation."""
    import optuna

    trial = study.ask()
    try:
        return trial, space.suggest(trial)
    except optuna.TrialPruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return trial, None


def _tell(study: Any, trial: Any, value: float) -> None:
    """Tells a finite value; a cell that cannot be evaluated is a FAILed trial (the samplers skip it)."""
    import optuna

    if math.isfinite(value):
        study.tell(trial, value)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


class OptunaSearch(SearchStrategy):
    """An Optuna study (TPE or NSGA-II, single objective) spending a budget of distinct evaluations.

    Each trial suggests an architecture (:meth:`~lswag_plugin.spaces.SearchSpace.suggest`; on a
    :class:`~lswag_plugin.spaces.PoolSpace` the nearest member). A repeat is told its known value and
    not counted; a draw with no valid cell (NB101: ``optuna.TrialPruned``) is told PRUNED; a cell whose
    fitness is not finite is a FAILed trial, which the samplers skip. The study ends when the budget
    is spent (or after ``max_trials_per_evaluation × budget`` trials: a sampler stuck on repeats).

    Args:
        sampler: ``"tpe"`` or ``"nsga2"`` (:func:`optuna_sampler`, seeded with the run's seed).
        max_trials_per_evaluation: Trials asked per evaluation of the budget at most.

    Example:
        >>> from lswag_plugin.search import get_strategy
        >>> from lswag_plugin.spaces import get_space
        >>> result = get_strategy("optuna-tpe").search(
        ...     get_space("nb201"), lambda archs: [a.count("conv_3x3") for a in archs], budget=10)
        >>> result.strategy, result.evaluations
        ('optuna-tpe', 10)
    """

    def __init__(self, sampler: str = "tpe", *, max_trials_per_evaluation: int = 50) -> None:
        super().__init__()
        self.sampler = _check_sampler(sampler)
        if max_trials_per_evaluation < 1:
            raise ValueError(
                f"max_trials_per_evaluation must be >= 1, got {max_trials_per_evaluation}"
            )
        self.max_trials_per_evaluation = int(max_trials_per_evaluation)
        self.name = f"optuna-{sampler}"

    def _search(self, run: _Run, rng: np.random.Generator) -> None:
        import optuna

        study = optuna.create_study(
            direction="maximize", sampler=optuna_sampler(self.sampler, run.seed)
        )
        for _ in range(self.max_trials_per_evaluation * run.budget):
            trial, arch = _ask(study, run.space)
            if arch is None:
                continue
            key = run.space.encode(arch)
            if key not in run.scores:
                if run.left <= 0:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    return
                run.run([arch])
            _tell(study, trial, run.scores[key])
            if run.left <= 0:
                return


@register_strategy("optuna-tpe", host="optuna")
def optuna_tpe(**options: Any) -> OptunaSearch:
    """:class:`OptunaSearch` with ``TPESampler(seed=seed)``."""
    return OptunaSearch("tpe", **options)


@register_strategy("optuna-nsga2", host="optuna")
def optuna_nsga2(**options: Any) -> OptunaSearch:
    """:class:`OptunaSearch` with ``NSGAIISampler(seed=seed)`` (single objective)."""
    return OptunaSearch("nsga2", **options)


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
        _check_sampler(sampler)
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

        from lswag_plugin.optuna import PrescreenSampler, ZeroCostPruner

        base = optuna_sampler(self.sampler, seed)
        if self.n_candidates is not None:

            def zero_cost(trial: Any) -> float:
                arch = run.space.suggest(trial)
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

        from lswag_plugin.optuna import report_zero_cost

        seed = int(rng.integers(2**31))
        study = self._study(run, seed)
        for _ in range(self.max_trials_per_training * run.trained.budget):
            if run.left <= 0:
                return
            trial, arch = _ask(study, run.space)
            if arch is None:
                continue
            if not run.is_trained(arch) and self.percentile is not None:
                score = run.screen([arch])[0]
                if report_zero_cost(trial, score if math.isfinite(score) else math.nan):
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
            _tell(study, trial, run.train([arch])[0])


@register_strategy("prescreen-tpe", host="optuna", needs_proxy=True, defaults={"n_candidates": 8})
def prescreen_tpe(**options: Any) -> OptunaHybrid:
    """TPE whose every trial is the best of ``n_candidates`` (8) zero-cost-scored draws."""
    return OptunaHybrid("tpe", **options)


@register_strategy("prescreen-nsga2", host="optuna", needs_proxy=True, defaults={"n_candidates": 8})
def prescreen_nsga2(**options: Any) -> OptunaHybrid:
    """NSGA-II whose every trial is the best of ``n_candidates`` (8) zero-cost-scored draws."""
    return OptunaHybrid("nsga2", **options)


@register_strategy("pruner-tpe", host="optuna", needs_proxy=True, defaults={"percentile": 50.0})
def pruner_tpe(**options: Any) -> OptunaHybrid:
    """TPE with a :class:`~lswag_plugin.optuna.ZeroCostPruner` (``percentile`` 50) before training."""
    return OptunaHybrid("tpe", **options)
