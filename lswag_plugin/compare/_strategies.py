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

from lswag_plugin.errors import BudgetSpent, CompareError
from lswag_plugin.spaces import SearchSpace

__all__ = ["RUNNERS", "BudgetSpent"]

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
            arch = suggest_architecture(trial, space)
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
    """NNI 3.0 RegularizedEvolution on NNI's NasBench201 hub space, in-process (sequential engine)."""
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
    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import NasBench201

    from lswag_plugin.nni import nb201_arch_from_sample, sequential_config

    class _Tracked(Evaluator):
        def evaluate(self, model: Any) -> None:  # pragma: no cover - _execute never builds a model
            raise NotImplementedError

        def _execute(self, model: Any) -> float | None:
            arch = nb201_arch_from_sample(model.sample)
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
    exp = NasExperiment(
        NasBench201(), _Tracked(), search, sequential_config(max_trial_number=budget)
    )
    try:
        exp.run()
    except BudgetSpent:
        pass
    finally:
        exp.stop()


#: Strategy name → ``run(space, track, *, budget, seed)``.
RUNNERS: dict[str, Callable[..., None]] = {
    "random": _ours("random"),
    "evolution": _ours("evolution"),
    "optuna-tpe": _optuna("tpe"),
    "optuna-nsga2": _optuna("nsga2"),
    "nni-evolution": _nni_evolution,
}
