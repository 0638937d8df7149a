"""``PrescreenSampler``: draws K candidates per trial from any sampler and keeps the best zero-cost one."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lswag_plugin.optuna._attrs import PRESCREEN_ATTR

__all__ = ["SCRATCH_STUDY", "PrescreenSampler"]

#: Name of the in-memory studies in which candidates are scored (the objective logs their failures quietly).
SCRATCH_STUDY = "lswag-prescreen-candidate"


class _ReplaySampler(BaseSampler):
    """Samples a scratch trial from the wrapped sampler on behalf of the real study's trial."""

    def __init__(
        self,
        base: BaseSampler,
        study: Study,
        trial: FrozenTrial,
        relative: dict[str, Any],
        relative_space: dict[str, BaseDistribution],
    ) -> None:
        self._base, self._study, self._trial = base, study, trial
        self._relative, self._relative_space = relative, relative_space

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        if name in self._relative and self._relative_space.get(name) == distribution:
            return self._relative[name]
        return self._base.sample_independent(self._study, self._trial, name, distribution)


class PrescreenSampler(BaseSampler):
    """Wraps any sampler: per trial, scores K candidates zero-cost and gives the trial the best one.

    When a trial starts (``before_trial``, also on ``study.ask()``), the sampler draws ``n_candidates``
    parameter sets from the wrapped sampler, each drawn as the wrapped sampler would draw the trial: its
    relative search space and ``sample_relative`` first, then ``sample_independent`` for every other
    parameter the model builder asks for (so define-by-run and conditional parameters work). Each candidate
    is built and scored by ``objective`` on a scratch in-memory trial; the best-scoring one, in the
    objective's direction, becomes the trial's parameters (as its relative parameters). A candidate that
    fails or scores NaN is never chosen over one that scores; if all fail the first is kept, and the
    trial's own objective records why. Parameters the scorer never asked for (e.g. a learning rate of a
    training objective) are sampled by the wrapped sampler as usual. The candidates and their scores are
    stored in the trial's system attribute ``"lswag:prescreen"``. Trials enqueued with fixed parameters
    are not prescreened.

    State: a dict trial id → chosen parameters and distributions, filled in ``before_trial`` and emptied
    in ``after_trial``, guarded by a lock. Each trial is prepared by the thread (``n_jobs``) or process
    (worker, ask/tell client) that created it, which also calls ``after_trial``, so no state is shared
    between trials; everything else lives in the study's storage. A trial asked but never told keeps its
    entry until the sampler is discarded. Thread safety of the wrapped sampler is its own (Optuna's
    samplers are safe with ``n_jobs``). With a deterministic wrapped sampler (e.g. ``GridSampler``) the K
    candidates coincide.

    Cost: K zero-cost evaluations per trial. When ``objective`` is the study's own
    :class:`ZeroCostObjective`, the chosen candidate's score is served from its cache.

    Args:
        sampler: The wrapped sampler (default ``optuna.samplers.TPESampler()``).
        objective: ``objective(trial) -> float`` (or a tuple whose first value is the score), usually a
            :class:`ZeroCostObjective`; called with scratch trials.
        n_candidates: K, candidates scored per trial (>= 1).
        direction: ``"maximize"`` or ``"minimize"``; default the objective's ``directions()[0]``.

    Example:
        >>> import optuna
        >>> from torch import nn
        >>> from lswag_plugin.optuna import PrescreenSampler, ZeroCostObjective
        >>> def build(trial):
        ...     width = trial.suggest_int("width", 2, 32)
        ...     return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                          nn.Flatten(), nn.Linear(width, 8))
        >>> objective = ZeroCostObjective(build, proxy="params", batch_size=8)
        >>> sampler = PrescreenSampler(optuna.samplers.RandomSampler(seed=0), objective=objective,
        ...                            n_candidates=4)
        >>> study = objective.create_study(sampler=sampler)
        >>> study.optimize(objective, n_trials=2)
        >>> len(study.trials[0].system_attrs["lswag:prescreen"])
        4
    """

    def __init__(
        self,
        sampler: BaseSampler | None = None,
        *,
        objective: Callable[[Any], Any],
        n_candidates: int = 8,
        direction: str | None = None,
    ) -> None:
        if sampler is not None and not isinstance(sampler, BaseSampler):
            raise TypeError(f"sampler must be an optuna.samplers.BaseSampler, got {sampler!r}")
        if not callable(objective):
            raise TypeError(f"objective must be callable(trial) -> float, got {objective!r}")
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 1:
            raise ValueError(f"n_candidates must be an integer >= 1, got {n_candidates!r}")
        directions = getattr(objective, "directions", None)
        if direction is not None and direction not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        if direction is None and directions is None:
            raise ValueError(
                "objective has no directions(): pass direction='maximize' or 'minimize'"
            )
        # Directions of the scratch studies (the objective checks them) and of the choice.
        self._scratch_directions = list(directions()) if directions is not None else [direction]
        self._direction = direction or self._scratch_directions[0]
        self._base = sampler or optuna.samplers.TPESampler()
        self._objective = objective
        self._n_candidates = n_candidates
        self._lock = threading.Lock()
        self._chosen: dict[int, tuple[dict[str, Any], dict[str, BaseDistribution]]] = {}

    @property
    def base_sampler(self) -> BaseSampler:
        """The wrapped sampler."""
        return self._base

    def reseed_rng(self) -> None:
        self._base.reseed_rng()

    # -- the prescreen ----------------------------------------------------------------------------
    def _score(self, value: Any) -> float:
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = value[0] if len(value) else math.nan
        try:
            value = float(value)
        except (TypeError, ValueError):
            return math.nan
        return value

    def _candidate(
        self, study: Study, trial: FrozenTrial
    ) -> tuple[dict[str, Any], dict[str, BaseDistribution], float]:
        relative_space = self._base.infer_relative_search_space(study, trial)
        relative = (
            self._base.sample_relative(study, trial, relative_space) if relative_space else {}
        )
        storage = optuna.storages.InMemoryStorage()
        storage.create_new_study(
            directions=[StudyDirection[d.upper()] for d in self._scratch_directions],
            study_name=SCRATCH_STUDY,
        )
        scratch_study = Study(
            study_name=SCRATCH_STUDY,
            storage=storage,
            sampler=_ReplaySampler(self._base, study, trial, relative, relative_space),
        )
        scratch = scratch_study.ask()
        try:
            value = self._score(self._objective(scratch))
        except Exception:  # a candidate that cannot be scored is never chosen
            value = math.nan
        return dict(scratch.params), dict(scratch.distributions), value

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)
        if trial.system_attrs.get("fixed_params"):
            return
        candidates = [self._candidate(study, trial) for _ in range(self._n_candidates)]
        sign = 1.0 if self._direction == "maximize" else -1.0
        order = sorted(
            range(len(candidates)),
            key=lambda i: (math.isnan(candidates[i][2]), -sign * candidates[i][2], i),
        )
        params, distributions, _ = candidates[order[0]]
        with self._lock:
            self._chosen[trial._trial_id] = (params, distributions)
        study._storage.set_trial_system_attr(
            trial._trial_id,
            PRESCREEN_ATTR,
            [
                {
                    "params": candidates[i][0],
                    "score": None if math.isnan(candidates[i][2]) else candidates[i][2],
                }
                for i in order
            ],
        )

    # -- Optuna's sampling interface ----------------------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._lock:
            chosen = self._chosen.get(trial._trial_id)
        if chosen is None:
            return self._base.infer_relative_search_space(study, trial)
        return dict(chosen[1])

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        with self._lock:
            chosen = self._chosen.get(trial._trial_id)
        if chosen is None:
            return self._base.sample_relative(study, trial, search_space)
        return {name: value for name, value in chosen[0].items() if name in search_space}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._chosen.pop(trial._trial_id, None)
        self._base.after_trial(study, trial, state, values)
