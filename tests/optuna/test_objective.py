from __future__ import annotations

import math

import optuna
import pytest
import torch
from optuna.trial import TrialState
from torch import nn

import lswag_plugin
from lswag_plugin.errors import UnknownProxy
from lswag_plugin.optuna import DirectionMismatch, ZeroCostObjective

from .conftest import conv_net, conv_params


def build_width(trial) -> nn.Module:
    return conv_net(trial.suggest_int("width", 2, 12))


def expected(width: int, batch, proxy: str = "lswag", seed: int = 0) -> float:
    """The score the objective must return: the engine on the same model, built under the same seed."""
    torch.manual_seed(seed)
    return lswag_plugin.score(conv_net(width), batch, proxy, device="cpu", batch_size=None)[proxy]


def test_optimize_returns_engine_scores_and_stores_every_proxy(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch, record=("nwot", "params"))
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=4)
    for trial in study.trials:
        width = trial.params["width"]
        assert trial.state == TrialState.COMPLETE
        assert trial.value == expected(width, tiny_batch)
        assert set(trial.user_attrs) == {"lswag", "nwot", "params", "zc_seconds"}
        assert trial.user_attrs["lswag"] == trial.value
        assert trial.user_attrs["params"] == conv_params(width)
    assert study.best_value == max(t.value for t in study.trials)


def test_ask_and_tell(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch)
    study = objective.create_study()
    trial = study.ask({"width": optuna.distributions.IntDistribution(2, 12)})
    value = objective(trial)
    frozen = study.tell(trial, value)
    assert frozen.state == TrialState.COMPLETE
    assert frozen.value == expected(trial.params["width"], tiny_batch)


def test_score_serves_a_training_study_in_any_direction(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch)
    study = optuna.create_study(direction="minimize")  # the study minimises a training loss
    trial = study.ask()
    assert objective.score(trial) == expected(trial.suggest_int("width", 2, 12), tiny_batch)
    assert trial.user_attrs["lswag"] == objective.score(trial)


def test_study_direction_must_match_the_proxy(tiny_batch, min_proxy) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch)
    with pytest.raises(DirectionMismatch, match=r"objective\.directions\(\)"):
        optuna.create_study(direction="minimize").optimize(objective, n_trials=1)
    low = ZeroCostObjective(build_width, proxy=min_proxy, data=tiny_batch)
    assert low.directions() == ["minimize"]
    with pytest.raises(DirectionMismatch, match="lower-is-better"):
        optuna.create_study(direction="maximize").optimize(low, n_trials=1)


def test_lower_is_better_proxy_is_minimised(tiny_batch, min_proxy) -> None:
    objective = ZeroCostObjective(build_width, proxy=min_proxy, data=tiny_batch)
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=5)
    assert [t.value for t in study.trials] == [conv_params(t.params["width"]) for t in study.trials]
    assert study.best_value == min(t.value for t in study.trials)


def test_multi_objective_with_nsga2(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch, minimize=("params",))
    assert objective.directions() == ["maximize", "minimize"]
    sampler = optuna.samplers.NSGAIISampler(population_size=4, seed=0)
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        assert t.values == [expected(t.params["width"], tiny_batch), conv_params(t.params["width"])]
    pareto = {t.number for t in study.best_trials}
    for t in study.trials:  # a trial is on the front iff no other trial dominates it
        dominated = any(
            o.values[0] >= t.values[0] and o.values[1] <= t.values[1] and o.values != t.values
            for o in study.trials
        )
        assert (t.number in pareto) == (not dominated)


def test_latency_objective(tiny_batch) -> None:
    objective = ZeroCostObjective(
        build_width, data=tiny_batch, minimize=("latency_ms",), latency_repeats=2
    )
    study = objective.create_study()
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.values[1] > 0 and trial.user_attrs["latency_ms"] == trial.values[1]


def test_failing_candidates_fail_with_a_reason_and_the_study_goes_on(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        kind = trial.suggest_categorical("kind", ["ok", "no_build", "bad_shape", "nan", "pruned"])
        if kind == "no_build":
            raise RuntimeError("out of memory while building")
        if kind == "bad_shape":
            return nn.Sequential(nn.Flatten(), nn.Linear(5, 8), nn.ReLU())
        if kind == "pruned":
            raise optuna.TrialPruned()
        net = conv_net(4)
        if kind == "nan":
            net[-1].bias.data.fill_(math.nan)
        return net

    objective = ZeroCostObjective(build, data=tiny_batch)
    study = objective.create_study()
    for kind in ("no_build", "bad_shape", "nan", "pruned", "ok"):
        study.enqueue_trial({"kind": kind})
    with pytest.warns(lswag_plugin.errors.NonFiniteOutputWarning):
        study.optimize(objective, n_trials=5)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL] * 3 + [TrialState.PRUNED, TrialState.COMPLETE]
    reasons = [t.user_attrs.get("fail_reason") for t in study.trials]
    assert reasons[0] == "build_model failed: RuntimeError: out of memory while building"
    assert reasons[1].startswith("scoring failed: RuntimeError: mat1 and mat2 shapes cannot be")
    assert reasons[2] == "lswag is NaN (the model's output or loss was not finite on the batch)"
    assert study.trials[2].user_attrs["lswag"] is None
    assert reasons[3:] == [None, None]


def test_failures_with_ask_and_tell_and_multi_objective(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        raise ValueError("no such cell")

    objective = ZeroCostObjective(build, data=tiny_batch, minimize=("params",))
    study = objective.create_study()
    trial = study.ask()
    values = objective(trial)
    assert len(values) == 2 and all(math.isnan(v) for v in values)
    assert study.tell(trial, values).state == TrialState.FAIL
    assert (
        study.trials[0].user_attrs["fail_reason"] == "build_model failed: ValueError: no such cell"
    )


def test_exceptions_outside_catch_propagate(tiny_batch) -> None:
    def build(trial) -> nn.Module:
        raise KeyError("bug")

    objective = ZeroCostObjective(build, data=tiny_batch, catch=(RuntimeError,))
    with pytest.raises(KeyError):
        objective.create_study().optimize(objective, n_trials=1)


def test_scores_are_cached_by_parameters(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch)
    calls = []
    measure = objective.measure
    objective.measure = lambda model, **kw: calls.append(1) or measure(model, **kw)
    study = objective.create_study()
    for width in (3, 5, 3, 3):
        study.enqueue_trial({"width": width})
    study.optimize(objective, n_trials=4)
    assert len(calls) == 2
    assert study.trials[0].value == study.trials[2].value == expected(3, tiny_batch)
    uncached = ZeroCostObjective(build_width, data=tiny_batch, cache_size=0)
    calls.clear()
    uncached.measure = lambda model, **kw: calls.append(1) or measure(model, **kw)
    study = uncached.create_study()
    for width in (3, 3):
        study.enqueue_trial({"width": width})
    study.optimize(uncached, n_trials=2)
    assert len(calls) == 2


def test_threads_give_the_same_scores(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch, cache_size=0)
    study = objective.create_study()
    for width in (2, 4, 6, 8, 10, 12):
        study.enqueue_trial({"width": width})
    study.optimize(objective, n_trials=6, n_jobs=2)
    assert {t.params["width"]: t.value for t in study.trials} == {
        w: expected(w, tiny_batch) for w in (2, 4, 6, 8, 10, 12)
    }


def test_arguments_are_validated(tiny_batch) -> None:
    with pytest.raises(UnknownProxy, match="no_such_proxy"):
        ZeroCostObjective(build_width, proxy="no_such_proxy")
    with pytest.raises(UnknownProxy):
        ZeroCostObjective(build_width, minimize=("nope",))
    with pytest.raises(TypeError, match="sequences of names"):
        ZeroCostObjective(build_width, minimize="params")
    with pytest.raises(ValueError, match="minimize="):
        ZeroCostObjective(build_width, proxy="latency_ms")
    with pytest.raises(ValueError, match="distinct"):
        ZeroCostObjective(build_width, proxy="params", minimize=("params",))
    with pytest.raises(ValueError, match="latency_repeats"):
        ZeroCostObjective(build_width, latency_repeats=0)
    with pytest.raises(TypeError, match="callable"):
        ZeroCostObjective(None)
    with pytest.raises(TypeError, match="directions itself"):
        ZeroCostObjective(build_width).create_study(direction="maximize")


def test_fixed_trial_and_model_not_a_module(tiny_batch) -> None:
    objective = ZeroCostObjective(build_width, data=tiny_batch)
    assert objective(optuna.trial.FixedTrial({"width": 6})) == expected(6, tiny_batch)
    broken = ZeroCostObjective(lambda trial: "not a model", data=tiny_batch)
    trial = optuna.trial.FixedTrial({})
    assert math.isnan(broken(trial))
    assert trial.user_attrs["fail_reason"] == (
        "build_model failed: TypeError: build_model returned str, not an nn.Module"
    )


def test_a_fitted_libra_proxy_is_an_objective(tiny_batch, tmp_path) -> None:
    from lswag_plugin.libra import fit

    # A toy fit (the table's "accuracy" is the width): the point is the objective path, not the fit.
    widths = [2, 3, 4, 6, 8, 10, 12]
    table = {"lswag": [], "nwot": []}
    for w in widths:
        torch.manual_seed(0)
        s = lswag_plugin.score(conv_net(w), tiny_batch, "lswag,nwot", device="cpu", batch_size=None)
        table["lswag"].append(s["lswag"])
        table["nwot"].append(s["nwot"])
    model_path = fit(
        table, widths, [conv_params(w) for w in widths], directions=dict.fromkeys(table, "max")
    ).save(tmp_path / "libra.json")
    objective = ZeroCostObjective(
        build_width, proxy="libra", data=tiny_batch, options={"libra": {"model": str(model_path)}}
    )
    assert objective.directions() == ["maximize"]
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE
        torch.manual_seed(0)
        engine = lswag_plugin.score(
            conv_net(trial.params["width"]),
            tiny_batch,
            "libra",
            device="cpu",
            batch_size=None,
            options={"libra": {"model": str(model_path)}},
        )
        assert trial.value == engine["libra"] == trial.user_attrs["libra"]


def test_a_space_builder_scores_through_the_disk_cache_under_the_search_keys(tiny_batch) -> None:
    from lswag_plugin.cache import ScoreCache
    from lswag_plugin.engine import CandidateKey, Scorer
    from lswag_plugin.optuna import space_builder

    cache = ScoreCache(":memory:")
    settings = {"proxy": "nwot", "record": ("params",), "data": tiny_batch, "cache": cache}
    first = ZeroCostObjective(space_builder("nb201"), **settings)
    study = first.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(first, n_trials=3)
    assert first.scorer.computed == 3
    second = ZeroCostObjective(space_builder("nb201"), cache_size=0, **settings)
    again = second.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    again.optimize(second, n_trials=3)
    assert second.scorer.computed == 0  # every score from the disk cache
    assert [t.value for t in again.trials] == [t.value for t in study.trials]
    assert [t.user_attrs["params"] for t in again.trials] == [
        t.user_attrs["params"] for t in study.trials
    ]
    assert all(t.user_attrs["zc_seconds"] == 0.0 for t in again.trials)
    # The keys are the space's and the architecture's, as search, bench and compare use them.
    trial = study.trials[0]
    found = Scorer(["nwot"], second.config, cache=cache).lookup(
        CandidateKey("nb201", trial.user_attrs["arch"])
    )
    assert found is not None and found.values["nwot"] == trial.value
