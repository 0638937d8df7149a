"""lswag_plugin.compare: strategies under one budget, shared-pass zero-cost scoring, report files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lswag_plugin.cache import ScoreCache
from lswag_plugin.compare import (
    CompareError,
    TableOracle,
    ZeroCostGrid,
    load_runs,
    plot_runs,
    run_grid,
    run_one,
    summary,
    write_markdown,
)
from lswag_plugin.errors import UnknownStrategy
from lswag_plugin.search import ProxyEvaluator, RandomSearch, available_strategies
from lswag_plugin.spaces import get_space

SPACE = get_space("nb201")
#: Made-up accuracies for every cell: 3x3 convolutions are worth most, 1x1 a little.
ACCURACY = {
    a: 80.0 + 2.0 * a.count("nor_conv_3x3") + 0.5 * a.count("nor_conv_1x1")
    for a in SPACE.all_archs()
}
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
]


#: The training-only strategies (ours, Optuna's, NNI's): a comparison's evaluation budget runs them.
TRAINING_ONLY = available_strategies(needs_proxy=False)


def test_the_registry_lists_every_strategy_in_lswag_compares_order():
    assert TRAINING_ONLY == ["random", "evolution", "optuna-tpe", "optuna-nsga2", "nni-evolution"]
    assert available_strategies(needs_proxy=True) == [
        "screen-random",
        "screen-evolution",
        "zc-local",
        "prescreen-tpe",
        "prescreen-nsga2",
        "pruner-tpe",
        "nni-evolution-zc",
    ]


@pytest.mark.parametrize("strategy", sorted(TRAINING_ONLY))
def test_every_strategy_spends_the_budget_with_a_monotone_trajectory(strategy):
    record = run_one(strategy, SPACE, TableOracle(SPACE, ACCURACY), ACCURACY, budget=12, seed=1)
    assert record["evaluations"] == 12
    assert len(record["best_acc"]) == len(record["seconds"]) == 12
    assert all(b >= a for a, b in zip(record["best_acc"], record["best_acc"][1:]))
    assert record["best_acc"][-1] == ACCURACY[record["best_arch"]]


def test_random_with_oracle_is_the_running_max_of_random_search():
    expected = RandomSearch().search(
        SPACE, lambda archs: [ACCURACY[a] for a in archs], budget=20, seed=3
    )
    record = run_one("random", SPACE, TableOracle(SPACE, ACCURACY), ACCURACY, budget=20, seed=3)
    assert record["best_acc"] == list(np.maximum.accumulate([h["score"] for h in expected.history]))
    assert record["best_arch"] == expected.best_arch


def test_best_found_follows_the_fitness_not_the_accuracy():
    # fitness = minus accuracy: the evaluator's best is the worst cell seen, and that is what counts
    def worst_first(archs):
        return [(-ACCURACY[SPACE.encode(a)], 0.5) for a in archs]

    record = run_one("random", SPACE, worst_first, ACCURACY, budget=10, seed=0)
    expected = RandomSearch().search(
        SPACE, lambda archs: [ACCURACY[a] for a in archs], budget=10, seed=0
    )
    assert record["best_acc"] == list(np.minimum.accumulate([h["score"] for h in expected.history]))
    assert record["seconds"][-1] >= 10 * 0.5  # every evaluation is charged its cost


def test_unknown_strategy_and_missing_cell_are_typed_errors():
    with pytest.raises(
        UnknownStrategy, match="unknown strategy 'bogus'; known strategies: evolution"
    ):
        run_one("bogus", SPACE, TableOracle(SPACE, ACCURACY), ACCURACY, budget=2, seed=0)
    with pytest.raises(CompareError, match="not in the accuracy table"):
        TableOracle(SPACE, {})([ARCHS[0]])
    with pytest.raises(CompareError, match="'zc-local' spends a budget of trainings"):
        run_one("zc-local", SPACE, TableOracle(SPACE, ACCURACY), ACCURACY, budget=2, seed=0)


def test_grid_scores_every_proxy_in_one_pass_and_matches_proxy_evaluator(small_batch):
    cache = ScoreCache(":memory:")
    grid = ZeroCostGrid(
        SPACE, ["lswag", "nwot", "params"], cache=cache, data=small_batch, batch_size=8
    )
    lswag = grid.evaluator("lswag")(ARCHS)
    assert grid.computed == {"lswag+nwot": 2}
    nwot = grid.evaluator("nwot")(ARCHS)
    assert grid.computed == {"lswag+nwot": 2}  # nwot came with lswag's pass
    params = grid.evaluator("params")(ARCHS)
    assert grid.computed == {"lswag+nwot": 2, "params": 2}
    for proxy, got in (("lswag", lswag), ("nwot", nwot), ("params", params)):
        # the first cell against a plain ProxyEvaluator (one engine call each keeps the test short)
        reference = ProxyEvaluator(SPACE, proxy, data=small_batch, batch_size=8)(ARCHS[:1])
        assert [got[0][0]] == reference
    assert all(cost > 0 for _, cost in lswag + params)
    assert [c for _, c in lswag] == [c for _, c in nwot]  # both charged the shared pass
    assert grid.estimated == 0


def test_cached_scores_without_seconds_are_charged_the_median(small_batch):
    cache = ScoreCache(":memory:")
    first = ProxyEvaluator(SPACE, "params", data=small_batch, batch_size=8)
    (value,) = first.raw_scores(ARCHS[:1])
    cache.put(first.cache_key(SPACE.encode(ARCHS[0])), value)  # a score stored without seconds
    grid = ZeroCostGrid(SPACE, ["params"], cache=cache, data=small_batch, batch_size=8)
    out = grid.evaluator("params")(ARCHS)
    assert grid.computed == {"params": 1}
    assert grid.estimated == 1
    assert out[0][1] == out[1][1]  # the median of the one measured cost


def test_run_grid_resumes_from_the_runs_file(tmp_path):
    path = tmp_path / "runs.jsonl"
    calls = []

    def oracle(archs):
        calls.append(len(archs))
        return TableOracle(SPACE, ACCURACY)(archs)

    kwargs = dict(strategies=["random", "evolution"], seeds=[0, 1], budget=6, runs_path=path)
    runs = run_grid(SPACE, {"oracle": oracle}, ACCURACY, **kwargs)
    assert len(runs) == 4 and sum(calls) == 24
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # the last run torn mid-write
    calls.clear()
    runs = run_grid(SPACE, {"oracle": oracle}, ACCURACY, **kwargs)
    assert len(runs) == 4 and sum(calls) == 6  # only the torn run again
    calls.clear()
    run_grid(SPACE, {"oracle": oracle}, ACCURACY, **kwargs)
    assert calls == []
    assert {(r["strategy"], r["seed"]) for r in load_runs(path)} == {
        ("random", 0),
        ("random", 1),
        ("evolution", 0),
        ("evolution", 1),
    }


def _fake_runs():
    return [
        {
            "strategy": "random",
            "evaluator": "oracle",
            "seed": s,
            "budget": 3,
            "evaluations": 3,
            "best_acc": [90.0, 91.0, 91.0 + s],
            "seconds": [0.1, 0.2, 0.3 + s],
        }
        for s in (0, 2)
    ]


def test_summary_and_markdown_report_exact_values(tmp_path):
    rows = summary(_fake_runs())
    assert rows[0].pop("seconds") == pytest.approx(1.3)
    assert rows == [
        {
            "strategy": "random",
            "evaluator": "oracle",
            "seeds": 2,
            "evaluations": 3,
            "mean": 92.0,
            "std": 1.0,
        }
    ]
    path = write_markdown(_fake_runs(), tmp_path / "r.md", title="T", notes=["note"])
    text = path.read_text()
    assert "| random | 92.00 ± 1.00 (n=2) |" in text
    assert "| random | 1.3 |" in text
    assert text.rstrip().endswith("note")


@pytest.mark.parametrize("x", ["evaluations", "seconds"])
def test_plots_are_written(tmp_path, x):
    path = plot_runs(_fake_runs(), tmp_path / f"{x}.png", x=x, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_are_json_lines(tmp_path):
    path = tmp_path / "runs.jsonl"
    run_grid(
        SPACE,
        {"oracle": TableOracle(SPACE, ACCURACY)},
        ACCURACY,
        strategies=["random"],
        seeds=[0],
        budget=3,
        runs_path=path,
    )
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["evaluator"] == "oracle" and record["budget"] == 3
    assert all(math.isfinite(s) for s in record["seconds"])


def test_median_comes_from_the_cache_when_this_process_measured_nothing(small_batch):
    cache = ScoreCache(":memory:")
    kwargs = dict(cache=cache, data=small_batch, batch_size=8)
    measured = ZeroCostGrid(SPACE, ["params"], **kwargs).evaluator("params")(ARCHS[1:])
    plain = ProxyEvaluator(SPACE, "params", data=small_batch, batch_size=8)
    (value,) = plain.raw_scores(ARCHS[:1])
    cache.put(plain.cache_key(SPACE.encode(ARCHS[0])), value)  # a score stored without seconds
    grid = ZeroCostGrid(SPACE, ["params"], **kwargs)
    ((_, cost),) = grid.evaluator("params")(ARCHS[:1])
    assert grid.computed == {} and grid.estimated == 1
    assert cost == measured[0][1]


def test_shards_split_the_grid_by_seed_and_strategy_and_together_equal_one_run(tmp_path):
    kwargs = dict(strategies=["random", "evolution"], seeds=[0, 1], budget=6)
    oracle = {"oracle": TableOracle(SPACE, ACCURACY)}
    whole = run_grid(SPACE, oracle, ACCURACY, runs_path=tmp_path / "one.jsonl", **kwargs)
    path = tmp_path / "sharded.jsonl"
    first = run_grid(SPACE, oracle, ACCURACY, runs_path=path, shard=(0, 2), **kwargs)
    assert {(r["seed"], r["strategy"]) for r in first} == {(0, "random"), (1, "random")}
    both = run_grid(SPACE, oracle, ACCURACY, runs_path=path, shard=(1, 2), **kwargs)

    def key(r):
        return r["seed"], r["strategy"]

    strip = [{k: v for k, v in r.items() if "seconds" not in k} for r in sorted(whole, key=key)]
    assert [
        {k: v for k, v in r.items() if "seconds" not in k} for r in sorted(both, key=key)
    ] == strip
    with pytest.raises(CompareError, match="shard"):
        run_grid(SPACE, oracle, ACCURACY, runs_path=path, shard=(2, 2), **kwargs)
