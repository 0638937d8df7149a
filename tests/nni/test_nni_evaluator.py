"""ZeroCostEvaluator on its own: arguments, reported metrics, directions, failures, serialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import BadArchitecture, UnknownProxy

pytest.importorskip("nni", reason="NNI is an optional dependency: pip install -e '.[nni]'")

from nni.nas.space import SimplifiedModelSpace

from lswag_plugin.nni import TrialFailed, ZeroCostEvaluator, nb201_arch_from_sample
from tests.nni._spaces import FailingSpace, SmallSpace


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8)
    )


def test_arguments_are_validated() -> None:
    with pytest.raises(UnknownProxy):
        ZeroCostEvaluator("no_such_proxy")
    with pytest.raises(ValueError, match="objective 'nwot' is not among"):
        ZeroCostEvaluator("lswag", objective="nwot")
    with pytest.raises(ValueError, match="batch_size"):
        ZeroCostEvaluator("lswag", batch_size=1, minibatches=2)
    with pytest.raises(ValueError, match="resolution"):
        ZeroCostEvaluator("lswag", resolution=0)


def test_metrics_are_the_engine_scores_with_default_first_proxy() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8)
    net = tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    metrics = evaluator.evaluate(net)
    direct = lswag_plugin.score(net, evaluator.batch(), "lswag,nwot", device="cpu", batch_size=None)
    assert metrics["lswag"] == direct["lswag"] and metrics["nwot"] == direct["nwot"]
    assert metrics["default"] == direct["lswag"]
    assert metrics == {"default": direct["lswag"], **direct.values, **direct.components}
    assert {"lswag.lambda", "lswag.psi"} <= set(metrics)
    assert all(
        torch.equal(before[k], v) for k, v in net.state_dict().items()
    )  # caller's model intact


def test_min_proxy_is_negated_in_default(min_proxy: str) -> None:
    evaluator = ZeroCostEvaluator(f"{min_proxy},nwot", batch_size=8, resolution=8)
    assert evaluator.direction == "min"
    metrics = evaluator.evaluate(tiny_net())
    params = sum(p.numel() for p in tiny_net().parameters())
    assert metrics[min_proxy] == params
    assert metrics["default"] == -params


def test_objective_picks_the_default() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", objective="nwot", batch_size=8, resolution=8)
    metrics = evaluator.evaluate(tiny_net())
    assert metrics["default"] == metrics["nwot"]


def test_candidate_weights_are_seeded_so_scores_repeat() -> None:
    evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8)
    space = SimplifiedModelSpace.from_model(SmallSpace(), evaluator)
    sample = {"conv": 0, "act": "relu", "pool": "avg", "width": 8}
    first = space.freeze(sample)
    with evaluator.mock_runtime(first):
        a = first.execute()
    second = space.freeze(sample)
    with evaluator.mock_runtime(second):
        b = second.execute()
    assert a == b
    assert [r.sample for r in evaluator.history] == [sample, sample]
    assert evaluator.history[0].metrics == a and evaluator.history[0].failure is None


@pytest.mark.filterwarnings("ignore::lswag_plugin.errors.NonFiniteOutputWarning")
@pytest.mark.parametrize(
    ("op", "reason"),
    [
        ("broken", "RuntimeError: this op is broken on purpose"),
        ("inf", "TrialFailed: lswag is NaN: the candidate's outputs or loss were not finite"),
    ],
)
def test_failing_candidate_raises_trial_failed_with_its_reason(op: str, reason: str) -> None:
    evaluator = ZeroCostEvaluator("lswag", batch_size=8, resolution=8)
    space = SimplifiedModelSpace.from_model(FailingSpace(), evaluator)
    model = space.freeze({"op": op})
    with evaluator.mock_runtime(model), pytest.raises(TrialFailed):
        model.execute()
    (record,) = evaluator.history
    assert record.sample == {"op": op} and record.metrics is None
    assert record.failure is not None and record.failure.startswith(reason)


def test_dump_and_load_through_nni_serializer_keep_scores() -> None:
    import nni

    x, y = lswag_plugin.data.default_batch(8, resolution=8, seed=3)
    evaluator = ZeroCostEvaluator(
        "lswag,nwot", objective="nwot", data=(x, y), batch_size=8, layer_band=(0, 9)
    )
    loaded = nni.load(nni.dump(evaluator))
    assert isinstance(loaded, ZeroCostEvaluator) and loaded is not evaluator
    assert loaded.objective == "nwot" and loaded.config.band == evaluator.config.band
    assert loaded.config.cache_key("nni:x", "a", "nwot") == evaluator.config.cache_key(
        "nni:x", "a", "nwot"
    )
    assert torch.equal(loaded.batch()[0], x) and torch.equal(loaded.batch()[1], y)
    net = tiny_net()
    assert loaded.evaluate(net) == evaluator.evaluate(net)


def test_default_data_is_dumped_as_none() -> None:
    evaluator = ZeroCostEvaluator("nwot", batch_size=8, resolution=8)
    assert evaluator._dump()["config"]["data"] is None


def test_nb201_arch_from_sample_rejects_bad_samples() -> None:
    good = {
        "cell/0_1": "conv_3x3",
        "cell/0_2": "none",
        "cell/1_2": "skip_connect",
        "cell/0_3": "avg_pool_3x3",
        "cell/1_3": "none",
        "cell/2_3": "conv_1x1",
    }
    assert nb201_arch_from_sample(good).startswith("|nor_conv_3x3~0|+")
    with pytest.raises(BadArchitecture, match="lacks edge 'cell/2_3'"):
        nb201_arch_from_sample({k: v for k, v in good.items() if k != "cell/2_3"})
    with pytest.raises(BadArchitecture, match="max_pool_3x3"):
        nb201_arch_from_sample({**good, "cell/0_1": "max_pool_3x3"})


def test_nan_free_metrics_are_floats() -> None:
    metrics = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8).evaluate(tiny_net())
    assert all(isinstance(v, float) and not math.isnan(v) for v in metrics.values())


def test_candidates_go_through_the_disk_cache_with_their_sub_scores() -> None:
    from lswag_plugin.cache import ScoreCache

    cache = ScoreCache(":memory:")
    sample = {"conv": 1, "act": "gelu", "pool": "max", "width": 16}

    def run(evaluator: ZeroCostEvaluator) -> dict[str, float]:
        model = SimplifiedModelSpace.from_model(SmallSpace(), evaluator).freeze(sample)
        with evaluator.mock_runtime(model):
            return model.execute()

    first = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8, cache=cache)
    computed = run(first)
    assert first.scorer.computed == 1 and len(cache) > 2  # scores, sub-scores
    again = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8, cache=cache)
    assert run(again) == computed and again.scorer.computed == 0  # from the cache, sub-scores too
    unseeded = ZeroCostEvaluator(
        "lswag,nwot", batch_size=8, resolution=8, cache=cache, init_seed=None
    )
    assert unseeded.scorer.cache is None  # an unseeded candidate has no reproducible score to cache
    other = ZeroCostEvaluator("lswag,nwot", batch_size=8, resolution=8, cache=cache, init_seed=1)
    run(other)
    assert other.scorer.computed == 1  # the seed is part of the key
