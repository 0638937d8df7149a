"""Scorer: the batch placed once, owned models, the cache (partial hits), worker processes."""

from __future__ import annotations

import functools
import math
import os

import pytest

from lswag_plugin.cache import ScoreCache
from lswag_plugin.engine import CandidateKey, Scorer
from lswag_plugin.errors import BadArchitecture, BadDevice, CandidateCrashed
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
    good = scorer.builder(ARCHS[0])
    keys = [CandidateKey("nb201", "bad"), CandidateKey("nb201", ARCHS[0])]
    results = scorer.map([functools.partial(_reject), good], ["bad", "good"], keys=keys)
    assert not results[0].ok and "BadArchitecture: no cell to build" in results[0].error
    assert results[1].ok
    with pytest.raises(BadArchitecture, match="no cell"):  # in this process: its own type
        scorer.map([functools.partial(_reject)], ["bad"], catch=False)
    # only the good candidate was stored: its two proxies and lswag's two sub-scores
    assert sorted(k.proxy for k in cache) == ["lswag", "lswag.lambda", "lswag.psi", "nwot"]
    assert {k.arch for k in cache} == {ARCHS[0]}


def test_a_bug_is_not_a_failed_candidate() -> None:
    scorer = _scorer()
    with pytest.raises(ValueError, match="broken builder"):
        scorer.map([functools.partial(_bug), scorer.builder(ARCHS[0])])


def test_cache_through_evaluate_reads_values_and_sub_scores_back(tmp_path) -> None:
    cache = ScoreCache(tmp_path / "c.sqlite")
    scorer = _scorer(cache=cache)
    key = CandidateKey("nb201", ARCHS[1])
    first = scorer.evaluate(scorer.builder(ARCHS[1]), key=key)
    again = scorer.evaluate(functools.partial(_bug), key=key)  # a hit: the builder is not called
    assert not first.cached and again.cached and scorer.computed == 1
    assert again.values == first.values and again.components == first.components
    assert again.components["lswag.lambda"] * again.components["lswag.psi"] == pytest.approx(
        again.values["lswag"]
    )


def _reject():
    raise BadArchitecture("no cell to build")


def _bug():
    raise ValueError("broken builder")


def test_workers_give_the_in_process_scores_and_a_dead_worker_loses_only_its_candidate() -> None:
    # One torch thread in both: the value of a reduction depends on the thread count.
    serial = _scorer(threads=1)
    expected = serial.map([serial.builder(a) for a in ARCHS], ARCHS)
    with _scorer(workers=2, threads=1) as scorer:
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
        # a bug in a candidate is raised here, with the worker's traceback
        with pytest.raises(CandidateCrashed, match="broken builder"):
            scorer.map([functools.partial(_bug), scorer.builder(ARCHS[0])], ["bug", "good"])


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
