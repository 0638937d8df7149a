"""Strategies of a comparison, behind one interface: spend ``budget`` distinct evaluations of a tracker.

Each runner calls ``track(archs) -> fitness list`` (higher is better, −inf for a failed cell); the
tracker memoises, counts distinct evaluations and stops the strategy at the budget
(:class:`BudgetSpent`). Repeats proposed by a strategy are answered from memory and not counted.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from lswag_plugin.errors import BudgetSpent, CompareError, UnknownStrategy
from lswag_plugin.spaces import PoolSpace, SearchSpace

__all__ = ["HYBRID_DEFAULTS", "HYBRID_RUNNERS", "RUNNERS", "BudgetSpent", "hybrid_strategy"]

Track = Callable[[Sequence[Any]], list[float]]


def _ours(name: str) -> Callable[..., None]:
    def run(space: SearchSpace, track: Track, *, budget: int, seed: int) -> None:
        from lswag_plugin.search import get_strategy

        get_strategy(name).search(space, track, budget=budget, seed=seed)

    return run


def _optuna(kind: str) -> Callable[..., None]:
    def run(space: SearchSpace, track: Track, *, budget: int, seed: int) -> None:
        import optuna

        from lswag_plugin.optuna import suggest_architecture

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if kind == "tpe":
            sampler: Any = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.NSGAIISampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        seen: dict[str, float] = {}
        for _ in range(50 * budget):  # repeats are free; a sampler stuck on repeats still ends
            trial = study.ask()
            try:
                arch = suggest_architecture(trial, space)
            except optuna.TrialPruned:  # NB101: a draw with no valid cell, not an evaluation
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            key = space.encode(arch)
            if key not in seen:
                if len(seen) >= budget:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    return
                seen[key] = track([arch])[0]
            value = seen[key]
            if math.isfinite(value):
                study.tell(trial, value)
            else:  # a disconnected cell: a failed trial, which the samplers skip
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if len(seen) >= budget:
                return

    return run


def _nni_evolution(space: SearchSpace, track: Track, *, budget: int, seed: int) -> None:
    """NNI 3.0 RegularizedEvolution on NNI's NasBench201 hub space, in-process (sequential engine).

    On a :class:`~lswag_plugin.spaces.PoolSpace` of NB201 each NNI sample is replaced by its nearest
    pool member.
    """
    if space.name != "nb201":
        raise CompareError(
            f"nni-evolution runs on nb201 only (NNI's hub space), not {space.name!r}"
        )
    os.environ.setdefault("HOME", tempfile.mkdtemp())
    logging.getLogger("nni").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
    import nni
    from nni.nas import strategy
    from nni.nas.evaluator import Evaluator

    from lswag_plugin.nni import nb201_arch_from_sample, sequential_config

    pool = space if isinstance(space, PoolSpace) else None

    class _Tracked(Evaluator):
        def evaluate(self, model: Any) -> None:  # pragma: no cover - _execute never builds a model
            raise NotImplementedError

        def _execute(self, model: Any) -> float | None:
            arch = nb201_arch_from_sample(model.sample)
            if pool is not None:  # a pool-restricted search: the nearest pool member
                arch = pool.nearest(arch)
            value = track([arch])[0]
            if not math.isfinite(value):
                # A disconnected cell: no metric, so RegularizedEvolution leaves it out of the
                # population (as Optuna's samplers skip a FAILed trial), no sentinel value.
                return None
            nni.report_final_result(value)
            return value

    search = strategy.RegularizedEvolution(
        population_size=50, sample_size=10, seed=seed, dedup=True
    )
    if pool is None:
        config = sequential_config(max_trial_number=budget)
    else:  # distinct NNI samples can share a nearest pool member (a free repeat): more trials
        config = sequential_config(max_trial_number=50 * budget)
        config.execution_engine.continue_on_failure = False  # BudgetSpent ends the experiment
    run_nni_experiment(_Tracked(), search, config, log_level=logging.WARNING)


def run_nni_experiment(evaluator: Any, search: Any, config: Any, *, log_level: int) -> None:
    """Runs an in-process NNI experiment over NAS-Bench-201 until its trials or the budget end.

    ``BudgetSpent`` raised by the evaluator ends it; NNI's logger (set to INFO, on stdout, when nni is
    imported) is held at ``log_level`` meanwhile, and the experiment is always stopped.
    """
    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import NasBench201

    logger = logging.getLogger("nni")
    level = logger.level
    logger.setLevel(log_level)
    try:
        exp = NasExperiment(NasBench201(), evaluator, search, config)
        try:
            exp.run()
        except BudgetSpent:
            pass
        finally:
            exp.stop()
    finally:
        logger.setLevel(level)


#: Strategy name → ``run(space, track, *, budget, seed)``.
RUNNERS: dict[str, Callable[..., None]] = {
    "random": _ours("random"),
    "evolution": _ours("evolution"),
    "optuna-tpe": _optuna("tpe"),
    "optuna-nsga2": _optuna("nsga2"),
    "nni-evolution": _nni_evolution,
}


#: Hybrid strategy name → its defaults (the choices of docs/prescreen.md, made on tuning rows).
HYBRID_DEFAULTS: dict[str, dict[str, Any]] = {
    "screen-random": {"pool": 3000},
    "screen-evolution": {"pool": 1000},
    "zc-local": {},
    "prescreen-tpe": {"n_candidates": 8},
    "prescreen-nsga2": {"n_candidates": 8},
    "pruner-tpe": {"percentile": 50.0},
    "nni-evolution-zc": {"percentile": 50.0},
}


def hybrid_strategy(name: str, **options: Any) -> Any:
    """Returns the hybrid strategy ``name`` with its defaults, overridden by ``options``.

    Raises:
        UnknownStrategy: ``name`` is not a hybrid strategy.
    """
    from lswag_plugin.compare._hybrids import NNIScreenedEvolution, OptunaHybrid
    from lswag_plugin.search.hybrid import get_hybrid

    if name not in HYBRID_DEFAULTS:
        raise UnknownStrategy("hybrid strategy", name, HYBRID_DEFAULTS)
    kwargs = {**HYBRID_DEFAULTS[name], **options}
    if name.startswith(("prescreen-", "pruner-")):
        return OptunaHybrid(name.split("-", 1)[1], **kwargs)
    if name == "nni-evolution-zc":
        return NNIScreenedEvolution(**kwargs)
    return get_hybrid(name, **kwargs)


def _hybrid(name: str) -> Callable[..., None]:
    def run(
        space: SearchSpace,
        train: Track,
        screen: Track,
        *,
        trainings: int,
        seed: int,
        **options: Any,
    ) -> None:
        hybrid_strategy(name, **options).search(
            space, train, screen, trainings=trainings, seed=seed
        )

    return run


#: Hybrid strategy name → ``run(space, train, screen, *, trainings, seed, **options)``.
HYBRID_RUNNERS: dict[str, Callable[..., None]] = {name: _hybrid(name) for name in HYBRID_DEFAULTS}
