"""Evolution search (AutoFormer's recipe) over NB201 with cheap synthetic fitness functions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lswag_plugin.errors import UnknownStrategy
from lswag_plugin.search import EvolutionSearch, RandomSearch, SearchError, get_strategy
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.nb201 import NB201, parse_arch


def conv3x3_count(archs):
    return [float(a.count("nor_conv_3x3")) for a in archs]


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_defaults_are_autoformers_recipe():
    e = EvolutionSearch()
    assert (e.population, e.generations, e.parents, e.mutation, e.crossover) == (50, 20, 10, 25, 25)
    assert (e.mutation_prob, e.resample_prob) == (0.2, 0.4)


def test_finds_the_optimum_of_a_separable_fitness_and_beats_random(space):
    found = [EvolutionSearch().search(space, conv3x3_count, budget=300, seed=s) for s in range(3)]
    rand = [RandomSearch().search(space, conv3x3_count, budget=300, seed=s) for s in range(3)]
    assert [r.best_score for r in found] == [6.0, 6.0, 6.0]
    assert all(r.best_arch.count("nor_conv_3x3") == 6 for r in found)
    assert np.mean([r.best_score for r in rand]) < 6.0


def test_budget_is_distinct_evaluations_and_history_is_monotone(space):
    calls = []

    def fitness(archs):
        calls.append(list(archs))
        return conv3x3_count(archs)

    result = EvolutionSearch().search(space, fitness, budget=137, seed=1)
    evaluated = [a for batch in calls for a in batch]
    assert result.evaluations == 137 == len(evaluated) == len(set(evaluated))
    assert len(calls[0]) == 50  # generation 0: the random population
    assert [h["evaluation"] for h in result.history] == list(range(1, 138))
    traj = result.trajectory()
    assert all(b >= a for a, b in itertools.pairwise(traj))
    assert traj[-1] == result.best_score == max(h["score"] for h in result.history)


def test_generations_limit_the_search(space):
    result = EvolutionSearch(generations=2).search(space, conv3x3_count, budget=1000, seed=0)
    assert result.evaluations == 100


def test_same_seed_same_search_and_different_seed_differs(space):
    a = EvolutionSearch().search(space, conv3x3_count, budget=120, seed=5)
    b = EvolutionSearch().search(space, conv3x3_count, budget=120, seed=5)
    c = EvolutionSearch().search(space, conv3x3_count, budget=120, seed=6)
    assert [h["arch"] for h in a.history] == [h["arch"] for h in b.history]
    assert [h["arch"] for h in a.history] != [h["arch"] for h in c.history]


def test_children_come_from_the_top_parents(space):
    """With one parent and no mutation noise beyond one edge, generation 1 stays next to the best."""
    result = EvolutionSearch(
        population=20, parents=1, mutation=10, crossover=0, generations=2
    ).search(space, conv3x3_count, budget=30, seed=0)
    gen0 = result.history[:20]
    best0 = max(gen0, key=lambda h: h["score"])["arch"]
    for h in result.history[20:]:
        diff = sum(x != y for x, y in zip(parse_arch(h["arch"]), parse_arch(best0)))
        assert 1 <= diff <= 6
    # a mutant of the best parent differs in few edges on average (mutation prob 0.2)
    diffs = [
        sum(x != y for x, y in zip(parse_arch(h["arch"]), parse_arch(best0)))
        for h in result.history[20:]
    ]
    assert np.mean(diffs) < 3


class CountingNB201(NB201):
    """NB201 with a cheap stand-in parameter count: 0.1 M per conv edge, plus 0.1 M."""

    def num_params(self, arch, *, num_classes=10):
        return 100_000 * (1 + arch.count("conv"))


def test_parameter_limits_are_respected():
    space = CountingNB201()
    free = EvolutionSearch().search(space, conv3x3_count, budget=60, seed=0)
    limited = EvolutionSearch(params_max=0.3).search(space, conv3x3_count, budget=60, seed=0)
    assert free.best_params > 300_000 >= limited.best_params
    assert free.best_score > 2.0 >= limited.best_score
    assert all(space.num_params(h["arch"]) <= 300_000 for h in limited.history)
    low = RandomSearch(params_min=0.5).search(space, conv3x3_count, budget=30, seed=0)
    assert all(space.num_params(h["arch"]) >= 500_000 for h in low.history)


def test_impossible_limits_raise_a_typed_error():
    with pytest.raises(SearchError, match="params"):
        RandomSearch(params_max=0.05).search(CountingNB201(), conv3x3_count, budget=5, seed=0)


def test_best_params_is_the_spaces_count(space):
    result = RandomSearch().search(space, conv3x3_count, budget=3, seed=0)
    assert result.best_params == space.num_params(result.best_arch)


def test_nan_fitness_is_never_best(space):
    def fitness(archs):
        return [math.nan if "nor_conv_3x3" in a else 1.0 for a in archs]

    result = EvolutionSearch().search(space, fitness, budget=60, seed=0)
    assert result.best_score == 1.0
    assert "nor_conv_3x3" not in result.best_arch


def test_evaluator_must_return_one_score_per_arch(space):
    with pytest.raises(SearchError, match="returned 1 scores for 50"):
        EvolutionSearch().search(space, lambda archs: [0.0], budget=60, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population": 0}, "population"),
        ({"mutation": 0, "crossover": 0}, "children"),
        ({"mutation_prob": 1.5}, "mutation_prob"),
        ({"params_min": 2.0, "params_max": 1.0}, "above"),
        ({"params_max": -1.0}, "params_max"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EvolutionSearch(**kwargs)


def test_bad_budget_and_unknown_strategy(space):
    with pytest.raises(ValueError, match="budget"):
        EvolutionSearch().search(space, conv3x3_count, budget=0)
    with pytest.raises(
        UnknownStrategy, match="unknown strategy 'annealing'; known strategies: "
    ) as e:
        get_strategy("annealing")
    assert {"evolution", "random", "zc-local"} <= set(e.value.known)


def test_resample_prob_reaches_spaces_with_network_level_choices():
    """AutoFormer spaces take the re-sample probability (depth, embed dim); with 0 the depth never moves."""
    try:
        space = get_space("autoformer-t")
    except KeyError:
        pytest.skip("the AutoFormer space is not registered")
    seen = []

    def fitness(archs):
        seen.extend(archs)
        return [float(a["embed_dim"]) for a in archs]

    EvolutionSearch(
        population=4, parents=1, mutation=4, crossover=0, resample_prob=0.0, generations=2
    ).search(space, fitness, budget=8, seed=0)
    best0 = max(seen[:4], key=lambda a: a["embed_dim"])
    assert all(a["embed_dim"] == best0["embed_dim"] for a in seen[4:])
    assert all(a["depth"] == best0["depth"] for a in seen[4:])
