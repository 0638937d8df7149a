"""Scorer: the batch placed once, owned models, the cache (partial hits), worker processes."""

from __future__ import annotations

import functools
import math
import os

import pytest

from lswag_plugin.cache import ScoreCache
from lswag_plugin.engine import Scorer
from lswag_plugin.errors import BadDevice
from lswag_plugin.spaces import get_space

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|",
]


def _scorer(proxies: str = "lswag,nwot", **kwargs):
    space = get_space("nb201", channels=4, cells_per_stage=1)
    kwargs = {"device": "cpu", **kwargs}
    return Scorer(proxies, space=space, batch_size=8, resolution=8, **kwargs)


def test_results_come_in_input_order_with_repeats_scored_once() -> None:
    scorer = _scorer()
    results = scorer.score_archs([ARCHS[1], ARCHS[0], ARCHS[1]])
    assert [r.arch for r in results] == [ARCHS[1], ARCHS[0], ARCHS[1]]
    assert results[0].values == results[2].values and scorer.computed == 2
    assert results[0].components["lswag.psi"] > 0


def test_partial_cache_hits_compute_only_the_missing_proxies(tmp_path) -> None:
    cache = ScoreCache(tmp_path / "c.sqlite")
    first = _scorer("lswag", cache=cache)
    (lswag,) = first.score_archs(ARCHS[:1])
    both = _scorer("lswag,nwot", cache=cache)
    (result,) = both.score_archs(ARCHS[:1])
    full = _scorer("lswag,nwot").score_archs(ARCHS[:1])[0]
    assert result.values == full.values and result.values["lswag"] == lswag.values["lswag"]
    assert both.computed == 1 and not result.cached
    assert both._partials and next(iter(both._partials.values())).proxies == ["nwot"]
    (again,) = both.score_archs(ARCHS[:1])
    assert again.cached and both.computed == 1


def test_a_failed_candidate_fails_alone_and_writes_nothing(tmp_path) -> None:
    cache = ScoreCache(tmp_path / "c.sqlite")
    scorer = _scorer(cache=cache)
    bad = scorer.builder(ARCHS[0])
    results = scorer.map([functools.partial(_raise), bad], ["bad", "good"])
    assert not results[0].ok and "ValueError: broken candidate" in results[0].error
    assert results[1].ok
    with pytest.raises(ValueError, match="broken candidate"):  # in this process: its own type
        scorer.map([functools.partial(_raise)], ["bad"], catch=False)
    assert len(cache) == 0  # map itself never writes the cache


def _raise():
    raise ValueError("broken candidate")


def test_workers_give_the_in_process_scores_and_a_dead_worker_loses_only_its_candidate() -> None:
    serial = _scorer()
    expected = serial.map([serial.builder(a) for a in ARCHS], ARCHS)
    with _scorer(workers=2) as scorer:
        builders = [scorer.builder(a) for a in ARCHS]
        builders.insert(1, functools.partial(os.abort))  # the worker holding it dies (SIGABRT)
        labels = [ARCHS[0], "dies", *ARCHS[1:]]
        results = scorer.map(builders, labels)
        assert [r.arch for r in results] == labels
        assert (
            not results[1].ok and "WorkerFailed" in results[1].error and "died" in results[1].error
        )
        got = [r for i, r in enumerate(results) if i != 1]
        assert [r.values for r in got] == [r.values for r in expected]
        # the pool replaced the dead worker and goes on
        again = scorer.score_archs(ARCHS)
        assert [r.values for r in again] == [r.values for r in expected]


def test_cuda_without_cuda_is_refused_before_any_work() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BadDevice, match="CUDA is not available"):
        _scorer(device="cuda")


def test_fitness_orients_and_ranks_failures_lowest() -> None:
    scorer = _scorer("lswag")
    assert scorer.fitness(None) == -math.inf
    assert scorer.fitness({"lswag": float("nan")}) == -math.inf
    assert scorer.fitness({"lswag": 3.0}) == 3.0
