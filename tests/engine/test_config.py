"""ScoringConfig: one set of settings, one cache-key recipe shared by every host."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

import lswag_plugin
from lswag_plugin.bench.run import run_bench
from lswag_plugin.cache import ScoreCache
from lswag_plugin.engine import Scorer, ScoringConfig, registry
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.search import ProxyEvaluator
from lswag_plugin.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _space():
    return get_space("nb201", channels=4, cells_per_stage=1)


def test_settings_are_validated_and_normalised() -> None:
    with pytest.raises(ValueError, match="minibatches"):
        ScoringConfig(minibatches=0)
    with pytest.raises(ValueError, match="batch_size"):
        ScoringConfig(batch_size=1, minibatches=2)
    with pytest.raises(ValueError, match="precision"):
        ScoringConfig(precision="int8")
    with pytest.raises(TypeError, match="unknown scoring setting"):
        ScoringConfig.of(None, batchsize=4)
    config = ScoringConfig(precision="bf16", layer_band="2:7", device=torch.device("cpu"))
    assert (config.precision, config.band.low, config.band.high, config.device) == (
        "bfloat16",
        2,
        7,
        "cpu",
    )
    assert ScoringConfig(precision="fp32").precision is None


def test_key_changes_with_every_setting_that_changes_a_score(small_batch) -> None:
    base = ScoringConfig(data=small_batch, batch_size=16)
    key = base.cache_key("nb201", ARCH, "lswag")
    changed = [
        base.replace(num_classes=100),
        base.replace(minibatches=4),
        base.replace(layer_band=(0, 5)),
        base.replace(precision="bfloat16"),
        base.replace(seed=1),
        base.replace(batch_size=8),
        base.replace(options={"lswag": {"pattern_count": "union"}}),
    ]
    keys = [c.cache_key("nb201", ARCH, "lswag") for c in changed]
    assert all(k != key for k in keys) and len(set(keys)) == len(keys)
    # Settings that do not change a score do not change the key; nor do other proxies' options.
    same = [
        base.replace(device="cpu"),
        base.replace(threads=1),
        base.replace(options={"swap_reg": {"mu": 3.0}}),
    ]
    assert all(c.cache_key("nb201", ARCH, "lswag") == key for c in same)
    # The key is the image size actually scored: resolution=None on 32-px images is resolution=32.
    x = torch.rand(16, 3, 32, 32)
    y = torch.arange(16) % 10
    assert ScoringConfig(data=(x, y)).cache_key("s", "a", "nwot") == ScoringConfig(
        data=(x, y), resolution=32
    ).cache_key("s", "a", "nwot")


def test_config_pickles_with_its_batch_and_round_trips_as_json(tmp_path) -> None:
    config = ScoringConfig(batch_size=8, resolution=16, num_classes=8, layer_band=(1, 8))
    x, _ = config.batch()
    copy = pickle.loads(pickle.dumps(config))
    assert torch.equal(copy.batch()[0], x)
    assert copy.cache_key("s", "a", "nwot") == config.cache_key("s", "a", "nwot")
    again = ScoringConfig.from_dict(config.to_dict())
    assert again == config
    with pytest.raises(TypeError, match="in-memory data"):
        config.with_batch(*config.batch()).to_dict()
    shipped = config.with_batch(*config.batch())
    assert shipped.cache_key("s", "a", "nwot") == config.cache_key("s", "a", "nwot")


def test_num_classes_is_part_of_the_key_and_of_the_score(small_batch, tmp_path) -> None:
    """A cell scored with a 10-way head, then a 100-way head, on the same images and cache."""
    cache = ScoreCache(tmp_path / "scores.sqlite")
    space = _space()
    ten = ProxyEvaluator(space, "lswag", data=small_batch, batch_size=16, cache=cache)
    hundred = ProxyEvaluator(
        space, "lswag", data=small_batch, batch_size=16, num_classes=100, cache=cache
    )
    (a,) = ten.raw_scores([ARCH])
    (b,) = hundred.raw_scores([ARCH])
    assert ten.cache_key(ARCH) != hundred.cache_key(ARCH)
    assert a != b and hundred.computed == 1
    assert cache.get(ten.cache_key(ARCH)) == a and cache.get(hundred.cache_key(ARCH)) == b


def test_bench_then_search_share_the_cache(small_batch, tmp_path) -> None:
    """bench, then search, on the same cell, batch and proxy: the search scores nothing."""
    cache = ScoreCache(tmp_path / "scores.sqlite")
    space = _space()
    rows = [
        {"arch_str": ARCH, "acc": 1.0},
        {"arch_str": ARCH.replace("skip_connect", "none"), "acc": 2.0},
    ]
    bench = run_bench(
        space,
        rows,
        arch_column="arch_str",
        target="acc",
        proxies="nwot",
        data=small_batch,
        batch_size=16,
        cache=cache,
        show_progress=False,
    )
    assert bench.scored == 2
    search = ProxyEvaluator(space, "nwot", data=small_batch, batch_size=16, cache=cache)
    hits = cache.stats.hits
    assert search.raw_scores([ARCH]) == [bench.rows[0]["nwot"]]
    assert search.computed == 0 and cache.stats.hits == hits + 1


def test_a_required_proxy_is_computed_once(small_batch, monkeypatch) -> None:
    """A combined proxy and its member requested together: the shared passes once, the member once."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    calls: list[str] = []
    lswag_fn = registry.get_proxy("lswag").fn

    def counted(ctx):
        calls.append("lswag")
        return lswag_fn(ctx)

    registry._REGISTRY["lswag"] = registry.ProxySpec(
        **{**registry.get_proxy("lswag").__dict__, "fn": counted}
    )

    @register_proxy("test_double", needs=Needs.NOTHING, requires=lambda options: ["lswag"])
    def double(ctx) -> float:
        return 2 * ctx.values["lswag"]

    net = _space().build(ARCH)
    scores = lswag_plugin.score(net, small_batch, "lswag,test_double", device="cpu")
    assert calls == ["lswag"]
    assert scores.passes == ["forward+backward x2"]
    assert scores["test_double"] == 2 * scores["lswag"]
    calls.clear()
    alone = lswag_plugin.score(net, small_batch, "test_double", device="cpu")
    assert calls == ["lswag"] and alone.components["lswag"] == scores["lswag"]


def test_scorer_scores_owned_models_as_the_engine_scores_copies(small_batch) -> None:
    space = _space()
    scorer = Scorer("lswag,nwot,synflow,zico", space=space, data=small_batch, batch_size=16)
    owned = scorer.score_arch(ARCH)
    copy = lswag_plugin.score(scorer.build(ARCH), small_batch, scorer.proxies, device="cpu")
    assert dict(owned) == dict(copy)
    assert math.isfinite(owned["lswag"])


def test_refitting_a_libra_model_at_the_same_path_changes_bench_and_search(small_batch, tmp_path):
    """The key holds the model's content, not its path: a refit is a new score, not a stale one."""
    import numpy as np

    from lswag_plugin import libra

    cache = ScoreCache(tmp_path / "scores.sqlite")
    path = tmp_path / "libra.json"
    options = {"libra": {"model": str(path)}}
    space = _space()
    rows = [
        {"arch_str": ARCH, "acc": 1.0},
        {"arch_str": ARCH.replace("skip_connect", "none"), "acc": 2.0},
    ]
    rng = np.random.default_rng(0)
    acc = rng.normal(size=40)
    directions = {"nwot": "max", "zico": "max"}

    def fit(nwot_noise: float, zico_noise: float) -> None:
        table = {
            "nwot": acc + nwot_noise * rng.normal(size=40),
            "zico": acc + zico_noise * rng.normal(size=40),
        }
        libra.fit(table, acc, acc, window=0.01, directions=directions).save(path)

    def bench_and_search() -> tuple[float, float]:
        kwargs = dict(data=small_batch, batch_size=16, options=options)
        bench = run_bench(
            space,
            rows,
            arch_column="arch_str",
            target="acc",
            proxies="libra",
            cache=cache,
            show_progress=False,
            **kwargs,
        )
        search = ProxyEvaluator(space, "libra", cache=cache, **kwargs)
        return bench.rows[0]["libra"], search.raw_scores([ARCH])[0]

    fit(0.01, 3.0)  # nwot alone
    assert libra.load(path).selected == ["nwot"]
    first = bench_and_search()
    fit(3.0, 0.01)  # zico alone, same path
    assert libra.load(path).selected == ["zico"]
    second = bench_and_search()
    assert first[0] == first[1] and second[0] == second[1]
    assert first != second
