"""Real NNI NasExperiments (in-process sequential engine) driven by ZeroCostEvaluator."""

from __future__ import annotations

import math
import os
import socket
from typing import Any

import pytest

pytest.importorskip("nni", reason="NNI is an optional dependency: pip install -e '.[nni]'")

from nni.nas import strategy
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from nni.nas.hub.pytorch import AutoFormer, NasBench201
from nni.nas.space import ModelStatus, SimplifiedModelSpace

from lswag_plugin.data import default_batch
from lswag_plugin.nni import ZeroCostEvaluator, nb201_arch_from_sample, sequential_config
from lswag_plugin.spaces.nb201 import parse_arch
from tests.nni._spaces import FailingSpace, SmallSpace, TimmViTSpace


def run(space: Any, evaluator: ZeroCostEvaluator, search: Any, trials: int, **config: Any):
    exp = NasExperiment(
        space, evaluator, search, sequential_config(max_trial_number=trials, **config)
    )
    try:
        exp.run()
    finally:
        exp.stop()  # else atexit stops it later, writing under the real HOME
    return exp


def best_samples(evaluator: ZeroCostEvaluator, k: int) -> list[dict]:
    done = [r for r in evaluator.history if r.metrics is not None]
    return [r.sample for r in sorted(done, key=lambda r: -r.metrics["default"])[:k]]


def check_export(exp: NasExperiment, evaluator: ZeroCostEvaluator, trials: int, k: int = 5) -> None:
    """Every trial ran, NNI holds the reported defaults, and its top-k are the best-scored candidates."""
    assert len(evaluator.history) == trials
    assert all(r.failure is None for r in evaluator.history)
    models = list(exp.strategy.list_models(sort=False))
    assert len(models) == trials
    reported = {str(r.sample): r.metrics["default"] for r in evaluator.history}
    assert all(m.status == ModelStatus.Trained for m in models)
    assert all(m.metric == reported[str(m.sample)] for m in models)
    assert exp.export_top_models(top_k=k, formatter="dict") == best_samples(evaluator, k)


def test_random_on_a_user_model_space() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8)
    exp = run(SmallSpace(), evaluator, strategy.Random(seed=0), 20)
    check_export(exp, evaluator, 20)
    assert len({str(r.sample) for r in evaluator.history}) == 20  # Random dedups


def test_regularized_evolution_on_nni_nasbench201_hub_space() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8)
    space = NasBench201(stem_out_channels=4, num_modules_per_stack=1)
    search = strategy.RegularizedEvolution(population_size=8, sample_size=4, seed=0)
    exp = run(space, evaluator, search, 20)
    check_export(exp, evaluator, 20)
    for sample in exp.export_top_models(top_k=3, formatter="dict"):
        assert len(parse_arch(nb201_arch_from_sample(sample))) == 6


def test_min_proxy_exports_the_lowest_raw_scores(min_proxy: str) -> None:
    evaluator = ZeroCostEvaluator(min_proxy, batch_size=8, resolution=8)
    exp = run(SmallSpace(), evaluator, strategy.Random(seed=1), 8)
    check_export(exp, evaluator, 8, k=3)
    raw = sorted(r.metrics[min_proxy] for r in evaluator.history)
    top = exp.export_top_models(top_k=1, formatter="dict")[0]
    assert next(r.metrics[min_proxy] for r in evaluator.history if r.sample == top) == raw[0]


def test_tpe_maximising() -> None:
    # NNI's TPE strategy forwards to TpeTuner, whose optimize_mode defaults to "minimize".
    evaluator = ZeroCostEvaluator("nwot", batch_size=8, resolution=8)
    exp = run(SmallSpace(), evaluator, strategy.TPE(optimize_mode="maximize", seed=0), 4)
    check_export(exp, evaluator, 4, k=2)


def test_policy_based_rl() -> None:
    pytest.importorskip("tianshou", reason="NNI's PolicyBasedRL needs tianshou and gym")
    evaluator = ZeroCostEvaluator("nwot", batch_size=8, resolution=8)
    exp = run(SmallSpace(), evaluator, strategy.PolicyBasedRL(samples_per_update=2), 4)
    check_export(exp, evaluator, 4, k=2)


def check_failures(exp: NasExperiment, evaluator: ZeroCostEvaluator) -> None:
    """FailingSpace: the two bad candidates failed with their reasons, the others were exported."""
    status = {m.sample["op"]: m.status for m in exp.strategy.list_models(sort=False)}
    assert status == {
        "conv1": ModelStatus.Trained,
        "conv3": ModelStatus.Trained,
        "zero": ModelStatus.Trained,
        "broken": ModelStatus.Failed,
        "inf": ModelStatus.Failed,
    }
    exported = exp.export_top_models(top_k=5, formatter="dict")
    assert sorted(s["op"] for s in exported) == ["conv1", "conv3", "zero"]
    assert exported[-1] == {"op": "zero"}  # NWOT -inf: ranked last, still a result


@pytest.mark.filterwarnings("ignore::lswag_plugin.errors.NonFiniteOutputWarning")
def test_failing_candidates_become_failed_trials_and_the_experiment_finishes() -> None:
    evaluator = ZeroCostEvaluator("nwot,lswag", batch_size=8, resolution=8)
    config = NasExperimentConfig("sequential", "simplified")  # continue_on_failure is off here
    config.max_trial_number = 5
    exp = NasExperiment(FailingSpace(), evaluator, strategy.GridSearch(shuffle=False), config)
    try:
        exp.run()
    finally:
        exp.stop()
    check_failures(exp, evaluator)
    reasons = {r.sample["op"]: r.failure for r in evaluator.history}
    assert reasons["broken"].startswith("RuntimeError: this op is broken on purpose")
    assert reasons["inf"].startswith("TrialFailed: nwot is NaN")
    assert reasons["conv1"] is None and reasons["conv3"] is None and reasons["zero"] is None
    zero = next(r.metrics for r in evaluator.history if r.sample == {"op": "zero"})
    assert (zero["default"], zero["nwot"], zero["lswag"]) == (-math.inf, -math.inf, 0.0)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("LSWAG_TEST_NNI_MULTIPROCESS") != "1",
    reason="starts NNI's manager and a process per trial (minutes): set LSWAG_TEST_NNI_MULTIPROCESS=1",
)
@pytest.mark.filterwarnings("ignore::lswag_plugin.errors.NonFiniteOutputWarning")
def test_default_multiprocess_engine_runs_trials_in_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nni.experiment import launcher

    # NNI waits only 3 s for its node.js manager to answer; a busy machine needs longer.
    monkeypatch.setattr(launcher._check_rest_server, "__defaults__", (60, None))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    x, y = default_batch(8, resolution=8, seed=0)
    evaluator = ZeroCostEvaluator("nwot,lswag", data=(x, y), batch_size=8)
    exp = NasExperiment(FailingSpace(), evaluator, strategy.GridSearch(shuffle=False))
    exp.config.max_trial_number = 5
    exp.config.trial_concurrency = 1
    exp.config.training_service.use_active_gpu = False
    try:
        exp.run(port=port)
        assert evaluator.history == []  # every trial ran in its own process
        check_failures(exp, evaluator)  # (the training-service engine lists models only until stop)
        trained = [
            m for m in exp.strategy.list_models(sort=False) if m.status == ModelStatus.Trained
        ]
    finally:
        exp.stop()
    space = SimplifiedModelSpace.from_model(FailingSpace(), evaluator)
    for model in trained:  # same scores as in this process
        local = space.freeze(model.sample)
        with evaluator.mock_runtime(local):
            assert local.execute()["default"] == model.metric


def test_autoformer_hub_space() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=32)
    space = AutoFormer(
        search_embed_dim=(16, 32),
        search_mlp_ratio=(1.0, 2.0),
        search_num_heads=(1, 2),
        search_depth=(1, 2),
        img_size=32,
        patch_size=8,
        num_labels=8,
    )
    exp = run(space, evaluator, strategy.Random(seed=0), 3)
    check_export(exp, evaluator, 3, k=2)
    assert all(math.isfinite(r.metrics["lswag"]) for r in evaluator.history)


def test_timm_vit_wrapped_with_parametrized_module() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=32)
    exp = run(TimmViTSpace(), evaluator, strategy.Random(seed=0), 3)
    check_export(exp, evaluator, 3, k=2)
    assert {"embed_dim", "depth", "mlp_ratio"} == set(evaluator.history[0].sample)
