"""ProxyEvaluator: the engine as fitness, cached on disk (members of LIBRA too)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lswag_plugin
from lswag_plugin import libra
from lswag_plugin.search import EvolutionSearch, ProxyEvaluator
from lswag_plugin.spaces import get_space

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]


class SmallNB201:
    """NB201 with 4 channels and 1 cell per stage: the same ops, a fast network."""

    def __new__(cls):
        return get_space("nb201", channels=4, cells_per_stage=1)


def test_evaluator_matches_the_engine_and_orients_min_proxies(small_batch):
    import torch

    space = SmallNB201()
    evaluate = ProxyEvaluator(space, "zico", data=small_batch, batch_size=16, seed=0)
    torch.manual_seed(0)
    direct = lswag_plugin.score(space.build(ARCHS[0]), small_batch, "zico", device="cpu", seed=0)
    assert evaluate(ARCHS[:1]) == [direct["zico"]]
    assert evaluate.computed == 1


def test_disconnected_cell_ranks_lowest(small_batch):
    evaluate = ProxyEvaluator(SmallNB201(), "nwot", data=small_batch, batch_size=16)
    good, dead = evaluate(ARCHS)
    assert math.isfinite(good) and dead == -math.inf


def test_cache_makes_repeats_free_and_stores_libra_members(small_batch, tmp_path):
    from lswag_plugin.cache import ScoreCache

    rng = np.random.default_rng(0)
    acc = rng.normal(size=30)
    model = libra.fit(
        {"zico": acc + rng.normal(size=30), "nwot": acc + rng.normal(size=30)},
        acc,
        acc,
        window=2.0,
        directions=libra.registry_directions(),
    )
    path = model.save(tmp_path / "libra.json")
    space = SmallNB201()
    cache = ScoreCache(tmp_path / "scores.sqlite")
    options = {"libra": {"model": str(path)}}
    first = ProxyEvaluator(
        space, "libra", data=small_batch, batch_size=16, options=options, cache=cache
    )
    scores = first(ARCHS[:1])
    assert first.computed == 1
    again = ProxyEvaluator(
        space, "libra", data=small_batch, batch_size=16, options=options, cache=cache
    )
    assert again(ARCHS[:1]) == scores and again.computed == 0
    member = ProxyEvaluator(space, "zico", data=small_batch, batch_size=16, cache=cache)
    zico = member(ARCHS[:1])
    assert member.computed == 0  # computed as LIBRA's member, read from the cache
    fresh = ProxyEvaluator(space, "zico", data=small_batch, batch_size=16)
    assert fresh(ARCHS[:1]) == zico


def test_evolution_with_the_engine_end_to_end(small_batch):
    evaluate = ProxyEvaluator(SmallNB201(), "params", data=small_batch, batch_size=16)
    result = EvolutionSearch(population=6, parents=2, mutation=3, crossover=3).search(
        SmallNB201(), evaluate, budget=12, seed=0
    )
    assert result.evaluations == 12 == evaluate.computed
    assert result.best_score == max(h["score"] for h in result.history)


def test_unknown_proxy_is_a_typed_error():
    with pytest.raises(lswag_plugin.UnknownProxy, match="known proxies"):
        ProxyEvaluator(get_space("nb201"), "nope")
