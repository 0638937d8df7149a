from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from lswag_plugin.errors import UnknownProxy
from lswag_plugin.optuna import ZERO_COST_STEP, ZeroCostPruner, report_zero_cost


def zero_cost_only(trial: optuna.Trial) -> float:
    """Reports the enqueued score ``s`` as the zero-cost score, then 'trains' two steps at ``loss``."""
    if report_zero_cost(trial, trial.user_attrs["s"]):
        raise optuna.TrialPruned()
    for step in (1, 2):
        trial.report(trial.user_attrs["loss"], step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return trial.user_attrs["loss"]


def run(pruner: ZeroCostPruner, scores, *, direction: str = "minimize", losses=None) -> list[str]:
    study = optuna.create_study(direction=direction, pruner=pruner)
    for i, s in enumerate(scores):
        study.enqueue_trial({}, user_attrs={"s": s, "loss": 1.0 if losses is None else losses[i]})
    study.optimize(zero_cost_only, n_trials=len(scores))
    return [t.state.name[0] for t in study.trials]  # C(omplete) or P(runed)


def test_reserved_step_is_zero_and_the_score_is_kept() -> None:
    assert ZERO_COST_STEP == 0
    study = optuna.create_study(pruner=ZeroCostPruner(n_warmup_trials=0))
    study.enqueue_trial({}, user_attrs={"s": 2.5, "loss": 1.0})
    study.optimize(zero_cost_only, n_trials=1)
    trial = study.trials[0]
    assert trial.intermediate_values[0] == 2.5 == trial.user_attrs["zero_cost"]


def test_warm_up_then_percentile_of_earlier_scores() -> None:
    pruner = ZeroCostPruner(percentile=50, n_warmup_trials=4)
    # Warm-up: the first 4 are never pruned. Then the median of the earlier scores is the bar.
    # 5th: earlier [1,2,3,4] → median 2.5: 2 < 2.5 pruned. 6th: earlier [1,2,3,4,2] → 2: 3 kept.
    assert run(pruner, [4, 3, 2, 1, 2, 3]) == ["C", "C", "C", "C", "P", "C"]


def test_percentile_bounds() -> None:
    scores = [1, 2, 3, 4, 1.5]
    assert run(ZeroCostPruner(percentile=0, n_warmup_trials=4), scores)[-1] == "C"
    assert run(ZeroCostPruner(percentile=100, n_warmup_trials=4), [1, 2, 3, 4, 3.9])[-1] == "P"
    assert run(ZeroCostPruner(percentile=100, n_warmup_trials=4), [1, 2, 3, 4, 4])[-1] == "C"


@pytest.mark.parametrize("study_direction", ["minimize", "maximize"])
def test_uses_the_proxy_direction_not_the_study_direction(study_direction, min_proxy) -> None:
    scores = [1, 2, 3, 4, 1.2, 3.8]
    high = ZeroCostPruner(percentile=50, n_warmup_trials=4)  # lswag: higher is better
    assert run(high, scores, direction=study_direction)[4:] == ["P", "C"]
    low = ZeroCostPruner(percentile=50, n_warmup_trials=4, proxy=min_proxy)
    assert run(low, scores, direction=study_direction)[4:] == ["C", "P"]
    low = ZeroCostPruner(percentile=50, n_warmup_trials=4, direction="minimize")
    assert run(low, scores, direction=study_direction)[4:] == ["C", "P"]


def test_nan_scores_are_pruned_and_ignored_as_references() -> None:
    pruner = ZeroCostPruner(percentile=50, n_warmup_trials=2)
    # NaN is pruned at once (even in warm-up); it is not an earlier score of later trials.
    assert run(pruner, [math.nan, 1, 2, 1.4, 1.6]) == ["P", "C", "C", "P", "C"]


def test_wrapped_pruner_judges_training_steps_without_step_zero() -> None:
    median = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    pruner = ZeroCostPruner(percentile=0, n_warmup_trials=0, wrapped=median)
    # Zero-cost never prunes (percentile 0 and equal scores); losses 1, 2, then 9 > median → pruned.
    states = run(pruner, [5, 5, 5], losses=[1.0, 2.0, 9.0])
    assert states == ["C", "C", "P"]
    study = optuna.create_study(pruner=ZeroCostPruner(n_warmup_trials=0))
    for loss in (1.0, 2.0, 9.0):
        study.enqueue_trial({}, user_attrs={"s": 5, "loss": loss})
    study.optimize(zero_cost_only, n_trials=3)  # no wrapped pruner: training steps never pruned
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_ask_and_tell_and_only_earlier_trials_count() -> None:
    study = optuna.create_study(pruner=ZeroCostPruner(percentile=50, n_warmup_trials=1))
    first, second, third = study.ask(), study.ask(), study.ask()
    third.report(10.0, ZERO_COST_STEP)  # a later trial reporting first is no reference for 2nd
    assert report_zero_cost(first, 5.0) is False  # no earlier score: warm-up
    assert report_zero_cost(second, 4.0) is True  # earlier [5] → 4 < 5
    study.tell(second, state=TrialState.PRUNED)
    assert third.should_prune() is False  # earlier [5, 4] → median 4.5 < 10
    study.tell(first, 1.0)
    study.tell(third, 1.0)
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
    ]


def test_no_report_no_pruning() -> None:
    study = optuna.create_study(pruner=ZeroCostPruner(n_warmup_trials=0))
    assert study.ask().should_prune() is False


def test_arguments_are_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        ZeroCostPruner(25.0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="percentile"):
        ZeroCostPruner(percentile=101)
    with pytest.raises(ValueError, match="percentile"):
        ZeroCostPruner(percentile=math.nan)
    with pytest.raises(ValueError, match="n_warmup_trials"):
        ZeroCostPruner(n_warmup_trials=-1)
    with pytest.raises(ValueError, match="not both"):
        ZeroCostPruner(proxy="lswag", direction="max")
    with pytest.raises(ValueError, match="direction"):
        ZeroCostPruner(direction="up")
    with pytest.raises(TypeError, match="BasePruner"):
        ZeroCostPruner(wrapped="median")  # type: ignore[arg-type]
    with pytest.raises(UnknownProxy):
        ZeroCostPruner(proxy="no_such_proxy")
    assert isinstance(ZeroCostPruner(), optuna.pruners.BasePruner)
