from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from torch import nn

from lswag_plugin.optuna import PrescreenSampler, ZeroCostObjective

from .conftest import conv_net, conv_params


def build_width(trial) -> nn.Module:
    return conv_net(trial.suggest_int("width", 1, 64))


def candidates(trial) -> list[dict]:
    return trial.system_attrs["lswag:prescreen"]


def test_each_trial_gets_the_best_of_k_candidates(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, proxy="params", data=tiny_batch)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=0), objective=objective, n_candidates=5
    )
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=4)
    for trial in study.trials:
        scored = candidates(trial)
        assert len(scored) == 5
        assert [c["score"] for c in scored] == [conv_params(c["params"]["width"]) for c in scored]
        assert [c["score"] for c in scored] == sorted((c["score"] for c in scored), reverse=True)
        assert trial.params == scored[0]["params"]
        assert trial.value == scored[0]["score"]
    assert len({c["params"]["width"] for c in candidates(study.trials[0])}) > 1  # K real draws


def test_lower_is_better_and_ask_tell(tiny_batch, min_proxy) -> None:
    objective = ZeroCostObjective(build_width, proxy=min_proxy, data=tiny_batch)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=1), objective=objective, n_candidates=6
    )
    study = objective.create_study(sampler=sampler)
    trial = study.ask()
    width = trial.suggest_int("width", 1, 64)
    widths = [c["params"]["width"] for c in candidates(study.trials[0])]
    assert width == min(widths)
    study.tell(trial, objective(trial))
    assert study.trials[0].state == TrialState.COMPLETE
    assert study.trials[0].value == conv_params(min(widths))


def test_failing_candidates_are_not_chosen(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        width = trial.suggest_int("width", 1, 64)
        if width % 2:
            raise RuntimeError("odd widths do not build")
        return conv_net(width)

    objective = ZeroCostObjective(build, proxy="params", data=tiny_batch)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=2), objective=objective, n_candidates=6
    )
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=5)
    for trial in study.trials:
        scored = candidates(trial)
        assert [c["score"] is None for c in scored] == [
            c["params"]["width"] % 2 == 1 for c in scored
        ]
        even = [c["params"]["width"] for c in scored if c["params"]["width"] % 2 == 0]
        if even:
            assert trial.params["width"] == max(even) and trial.state == TrialState.COMPLETE
        else:  # all failed: the first is kept and the trial FAILs with its reason
            assert trial.params == scored[0]["params"] and trial.state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) >= 3


def test_all_candidates_fail_then_the_trial_fails_with_its_reason(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        trial.suggest_int("width", 1, 4)
        raise RuntimeError("nothing builds")

    objective = ZeroCostObjective(build, data=tiny_batch)
    sampler = PrescreenSampler(objective=objective, n_candidates=3)
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    assert study.trials[0].params == candidates(study.trials[0])[0]["params"]
    assert study.trials[1].user_attrs["fail_reason"].endswith("nothing builds")


def test_parameters_the_scorer_does_not_use_come_from_the_wrapped_sampler(tiny_batch) -> None:
    scorer = ZeroCostObjective(build_width, proxy="params", data=tiny_batch)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=3), objective=scorer, n_candidates=3
    )

    def train(trial) -> float:  # a training objective: architecture + learning rate
        width = trial.suggest_int("width", 1, 64)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return width * lr

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(train, n_trials=3)
    for trial in study.trials:
        assert trial.params["width"] == candidates(trial)[0]["params"]["width"]
        assert set(candidates(trial)[0]["params"]) == {"width"}
        assert 1e-4 <= trial.params["lr"] <= 1e-1


def test_conditional_parameters_and_tpe(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        depth = trial.suggest_int("depth", 1, 3)
        widths = [trial.suggest_int(f"width_{i}", 2, 8) for i in range(depth)]
        layers, c = [], 3
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 8))

    objective = ZeroCostObjective(build, proxy="params", data=tiny_batch)
    tpe = optuna.samplers.TPESampler(seed=0, n_startup_trials=3, multivariate=True)
    study = objective.create_study(
        sampler=PrescreenSampler(tpe, objective=objective, n_candidates=4)
    )
    study.optimize(objective, n_trials=8)
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE
        assert set(trial.params) == {"depth"} | {f"width_{i}" for i in range(trial.params["depth"])}
        assert trial.params == candidates(trial)[0]["params"]


def test_threads(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, proxy="params", data=tiny_batch)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=4), objective=objective, n_candidates=3
    )
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8, n_jobs=2)
    assert len(study.trials) == 8
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE
        assert trial.params == candidates(trial)[0]["params"]
    assert sampler._chosen == {}  # per-trial state is released in after_trial


def test_enqueued_parameters_are_kept(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, proxy="params", data=tiny_batch)
    study = objective.create_study(sampler=PrescreenSampler(objective=objective))
    study.enqueue_trial({"width": 3})
    study.optimize(objective, n_trials=1)
    assert study.trials[0].params == {"width": 3}
    assert "lswag:prescreen" not in study.trials[0].system_attrs


def test_plain_callable_needs_a_direction(tiny_batch) -> None:
    def score(trial) -> float:
        return -abs(trial.suggest_int("x", -10, 10))

    with pytest.raises(ValueError, match="direction="):
        PrescreenSampler(objective=score)
    sampler = PrescreenSampler(
        optuna.samplers.RandomSampler(seed=5), objective=score, n_candidates=8, direction="maximize"
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_int("x", -10, 10) ** 2, n_trials=3)
    for trial in study.trials:
        assert abs(trial.params["x"]) == min(abs(c["params"]["x"]) for c in candidates(trial))


def test_arguments_are_validated() -> None:
    objective = ZeroCostObjective(build_width)
    with pytest.raises(ValueError, match="n_candidates"):
        PrescreenSampler(objective=objective, n_candidates=0)
    with pytest.raises(ValueError, match="n_candidates"):
        PrescreenSampler(objective=objective, n_candidates=True)
    with pytest.raises(TypeError, match="BaseSampler"):
        PrescreenSampler("tpe", objective=objective)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        PrescreenSampler(objective=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        PrescreenSampler(objective=objective, direction="max")
    assert isinstance(
        PrescreenSampler(objective=objective).base_sampler, optuna.samplers.TPESampler
    )
