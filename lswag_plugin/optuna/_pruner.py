"""``ZeroCostPruner``: stops a trial before training when its zero-cost score is poor."""

from __future__ import annotations

import copy
import math

import optuna

from lswag_plugin.search import PercentileRule

__all__ = ["ZERO_COST_STEP", "ZeroCostPruner", "report_zero_cost"]

#: The step at which a trial reports its zero-cost score, before any training step. Optuna's steps are
#: integers >= 0, so step 0 is reserved: training steps (epochs, iterations) must start at 1. The score is
#: also kept in ``trial.user_attrs["zero_cost"]``.
ZERO_COST_STEP = 0


def report_zero_cost(trial: optuna.Trial, score: float) -> bool:
    """Reports ``score`` at the reserved step and returns ``trial.should_prune()``.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import ZeroCostPruner, report_zero_cost
        >>> study = optuna.create_study(pruner=ZeroCostPruner(n_warmup_trials=0))
        >>> trial = study.ask()
        >>> report_zero_cost(trial, 1.5)
        False
    """
    trial.set_user_attr("zero_cost", None if math.isnan(score) else float(score))
    trial.report(float(score), ZERO_COST_STEP)
    return trial.should_prune()


def _direction(value: str) -> str:
    words = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}
    if value not in words:
        raise ValueError(
            f"direction must be 'max' or 'min' (or 'maximize'/'minimize'), got {value!r}"
        )
    return words[value]


class ZeroCostPruner(optuna.pruners.BasePruner):
    """Prunes a trial whose zero-cost score is below a percentile of the earlier trials' scores.

    A study that still trains reports each candidate's zero-cost score at :data:`ZERO_COST_STEP` (step 0)
    before training (:func:`report_zero_cost`), then its training metric at steps 1, 2, ... At step 0 this
    pruner compares the score with those of earlier trials (lower trial numbers, any state, that reported
    a finite score at step 0): it prunes when the score is worse than the ``percentile``-th percentile of
    theirs, *in the proxy's own direction* (a higher-is-better proxy prunes low scores even in a study that
    minimises a loss). A NaN score is pruned. Nothing is pruned until ``n_warmup_trials`` earlier scores
    exist. At later steps it defers to ``wrapped`` (e.g. ``optuna.pruners.MedianPruner()``), which sees the
    trial without its step-0 score; with no ``wrapped`` pruner it never prunes there.

    The pruner is stateless: it reads scores from the study's storage, so it works with ``n_jobs``,
    ask/tell and worker processes sharing a study.

    Args:
        percentile: Prune below this percentile of earlier scores, in [0, 100] (25: keep the best 75 %).
        n_warmup_trials: Earlier scores needed before pruning starts.
        proxy: Registered proxy whose direction is used (``"lswag"`` → higher is better).
        direction: ``"max"`` or ``"min"``, instead of ``proxy`` (for a score that is not a registered proxy).
        wrapped: A pruner for the training steps (any ``optuna.pruners.BasePruner``), or None.

    Raises:
        ValueError: An argument is out of range, or both ``proxy`` and ``direction`` are given.
        UnknownProxy: ``proxy`` is not registered.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import ZeroCostPruner, report_zero_cost
        >>> pruner = ZeroCostPruner(percentile=50, n_warmup_trials=2, wrapped=optuna.pruners.MedianPruner())
        >>> study = optuna.create_study(direction="minimize", pruner=pruner)
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", 0, 1)
        ...     if report_zero_cost(trial, score=x):  # higher is better for this score
        ...         raise optuna.TrialPruned()
        ...     for epoch in range(1, 3):  # training steps start at 1
        ...         trial.report(1 - x, epoch)
        ...         if trial.should_prune():
        ...             raise optuna.TrialPruned()
        ...     return 1 - x
        >>> for x in (0.9, 0.8, 0.1):
        ...     study.enqueue_trial({"x": x})
        >>> study.optimize(objective, n_trials=3)
        >>> [t.state.name for t in study.trials]
        ['COMPLETE', 'COMPLETE', 'PRUNED']
    """

    def __init__(
        self,
        *,
        percentile: float = 25.0,
        n_warmup_trials: int = 5,
        proxy: str | None = None,
        direction: str | None = None,
        wrapped: optuna.pruners.BasePruner | None = None,
    ) -> None:
        if n_warmup_trials < 0:
            raise ValueError(f"n_warmup_trials must be >= 0, got {n_warmup_trials}")
        if proxy is not None and direction is not None:
            raise ValueError("give proxy (its registered direction is used) or direction, not both")
        if wrapped is not None and not isinstance(wrapped, optuna.pruners.BasePruner):
            raise TypeError(f"wrapped must be an optuna.pruners.BasePruner, got {wrapped!r}")
        if direction is None:
            from lswag_plugin.proxies import get_proxy

            direction = get_proxy(proxy or "lswag").direction
        self._rule = PercentileRule(
            float(percentile), n_warmup=int(n_warmup_trials), direction=_direction(direction)
        )
        self._wrapped = wrapped
        self._step = ZERO_COST_STEP

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """Returns whether ``trial`` should stop now (see the class docstring)."""
        step = trial.last_step
        if step is None:
            return False
        if step == self._step:
            return self._prune_zero_cost(study, trial)
        if self._wrapped is None:
            return False
        view = copy.copy(trial)
        view.intermediate_values = {
            s: v for s, v in trial.intermediate_values.items() if s != self._step
        }
        if not view.intermediate_values:
            return False
        return self._wrapped.prune(study, view)

    def _prune_zero_cost(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        earlier = (
            t.intermediate_values[self._step]
            for t in study.get_trials(deepcopy=False)
            if t.number < trial.number and self._step in t.intermediate_values
        )
        return self._rule.prunes(trial.intermediate_values[self._step], earlier)
