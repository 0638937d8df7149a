"""lswag_plugin.search.hybrid: zero-cost screening decides what is trained; trainings are counted exactly."""

from __future__ import annotations

import math

import pytest

from lswag_plugin.errors import SearchError, UnknownStrategy
from lswag_plugin.search import (
    ScreenedLocalSearch,
    ScreenThenTrain,
    available_strategies,
    get_strategy,
)
from lswag_plugin.search.hybrid import HybridRun
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.nb201 import parse_arch

SPACE = get_space("nb201")
#: Made-up trained accuracy: 3x3 convolutions are worth most, a skip on the edge 0 -> 3 a bonus.
ACCURACY = {
    a: 80.0
    + 2.0 * a.count("nor_conv_3x3")
    + 0.5 * a.count("nor_conv_1x1")
    + 3.0 * (parse_arch(a)[3] == "skip_connect")
    for a in SPACE.all_archs()
}
OPTIMUM = max(ACCURACY.values())


class Counting:
    """An evaluator that records every architecture it is asked about."""

    def __init__(self, table):
        self.table = table
        self.calls: list[str] = []

    def __call__(self, archs):
        self.calls.extend(archs)
        return [self.table[a] for a in archs]


def _zero_cost(a: str) -> float:
    """A proxy stand-in that loves 3x3 convolutions and misses the skip bonus."""
    return a.count("nor_conv_3x3") + 0.1 * a.count("nor_conv_1x1")


ZERO_COST = {a: _zero_cost(a) for a in SPACE.all_archs()}


def _lookup(table):
    return lambda archs: [table[a] for a in archs]


def _differs_by_one_edge(a: str, b: str) -> bool:
    return sum(x != y for x, y in zip(parse_arch(a), parse_arch(b))) == 1


#: Our hybrids (the Optuna and NNI ones are tested with compare).
HYBRIDS = available_strategies(host="ours", needs_proxy=True)


def test_our_hybrids_are_registered():
    assert HYBRIDS == ["screen-random", "screen-evolution", "zc-local"]


@pytest.mark.parametrize("name", HYBRIDS)
def test_trainings_are_counted_exactly_and_screens_apart(name):
    train, screen = Counting(ACCURACY), Counting(ZERO_COST)
    result = get_strategy(name, pool=300).search(SPACE, train, screen, trainings=15, seed=2)
    assert result.trainings == 15 == len(train.calls) == len(set(train.calls))
    assert len(screen.calls) == len(set(screen.calls)) == result.screened  # each screened once
    assert [h["training"] for h in result.history] == list(range(1, 16))
    assert [h["arch"] for h in result.history] == train.calls
    assert result.best_score == max(ACCURACY[a] for a in train.calls)
    screened = [h["screened"] for h in result.history]
    assert screened == sorted(screened) and screened[0] >= 300  # the pool comes first


@pytest.mark.parametrize("name", HYBRIDS)
def test_every_hybrid_is_anytime(name):
    train, screen = _lookup(ACCURACY), _lookup(ZERO_COST)
    short = get_strategy(name, pool=200).search(SPACE, train, screen, trainings=8, seed=1)
    long = get_strategy(name, pool=200).search(SPACE, train, screen, trainings=20, seed=1)
    assert [h["arch"] for h in long.history[:8]] == [h["arch"] for h in short.history]


def test_screen_then_train_with_the_oracle_as_proxy_trains_the_pools_top_cells_in_order():
    oracle = _lookup(ACCURACY)
    screen = Counting(ACCURACY)
    result = ScreenThenTrain(pool=2000).search(SPACE, oracle, screen, trainings=10, seed=0)
    pool = sorted(screen.calls, key=lambda a: -ACCURACY[a])  # stable: screening order among ties
    assert [h["arch"] for h in result.history] == pool[:10]
    assert [h["score"] for h in result.history] == sorted(
        (h["score"] for h in result.history), reverse=True
    )


def test_screen_with_a_zero_cost_evolution_finds_the_proxys_favourite():
    result = ScreenThenTrain(pool=400, screener="evolution").search(
        SPACE, _lookup(ACCURACY), _lookup(ZERO_COST), trainings=3, seed=0
    )
    assert result.history[0]["arch"] == max(ZERO_COST, key=ZERO_COST.get)  # all 3x3
    assert result.screened == 400


def test_local_search_trains_neighbours_of_trained_cells_and_reaches_what_the_proxy_misses():
    result = ScreenedLocalSearch(pool=500).search(
        SPACE, _lookup(ACCURACY), _lookup(ZERO_COST), trainings=40, seed=0
    )
    archs = [h["arch"] for h in result.history]
    trained = set()
    for i, arch in enumerate(archs):
        if i >= 1:  # after the proxy's favourite of the pool, every training is a one-edge mutant
            assert any(_differs_by_one_edge(arch, t) for t in trained), arch
        trained.add(arch)
    # the proxy ranks the skip bonus low; the trainings find it (the table's optimum)
    assert result.best_score == OPTIMUM
    assert max(ZERO_COST[a] for a in archs) > ZERO_COST[result.best_arch]


def test_local_search_with_the_oracle_as_proxy_climbs_to_the_optimum_quickly():
    result = ScreenedLocalSearch(pool=1000).search(
        SPACE, _lookup(ACCURACY), _lookup(ACCURACY), trainings=8, seed=3
    )
    assert result.best_score == OPTIMUM
    steps = [h["best_score"] for h in result.history]
    assert steps == sorted(steps)


def test_failed_cells_are_minus_infinity_and_never_the_best():
    def train(archs):
        return [math.nan if "none~0|+" in a else ACCURACY[a] for a in archs]

    result = ScreenThenTrain(pool=300).search(SPACE, train, _lookup(ZERO_COST), trainings=20)
    assert math.isfinite(result.best_score)
    assert all(h["score"] == -math.inf for h in result.history if "none~0|+" in h["arch"])


def test_hybrid_run_memoises_both_evaluators_and_stops_at_the_budget():
    train, screen = Counting(ACCURACY), Counting(ZERO_COST)
    run = HybridRun(SPACE, train, screen, trainings=2)
    a, b, c = list(ACCURACY)[:3]
    assert run.screen([a, a, b]) == [ZERO_COST[a], ZERO_COST[a], ZERO_COST[b]]
    assert run.screen([a]) == [ZERO_COST[a]] and screen.calls == [a, b]
    assert run.train([a, b, c]) == [ACCURACY[a], ACCURACY[b], -math.inf]  # c: no budget left
    assert train.calls == [a, b] and run.left == 0
    assert run.top_trained(1) == [max((a, b), key=ACCURACY.get)]
    assert run.top_screened() == []  # every screened cell is trained
    assert [h["screened"] for h in run.history] == [2, 2]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="pool must be an integer >= 1"):
        ScreenThenTrain(pool=0)
    with pytest.raises(ValueError, match="screener must be 'random' or 'evolution'"):
        ScreenedLocalSearch(screener="grid")
    with pytest.raises(ValueError, match="mutation_prob must be in"):
        ScreenedLocalSearch(mutation_prob=2.0)
    with pytest.raises(ValueError, match="trainings must be a positive integer"):
        ScreenThenTrain().search(SPACE, _lookup(ACCURACY), _lookup(ZERO_COST), trainings=0)
    with pytest.raises(
        UnknownStrategy, match="unknown strategy 'bogus'; known strategies: evolution"
    ):
        get_strategy("bogus")
    with pytest.raises(SearchError, match="screen returned 1 values for 2"):
        HybridRun(SPACE, _lookup(ACCURACY), lambda archs: [0.0], trainings=1).screen(
            list(ACCURACY)[:2]
        )
