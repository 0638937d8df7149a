"""Random search: distinct uniform samples within the limits, best kept."""

from __future__ import annotations

from lswag_plugin.search import RandomSearch
from lswag_plugin.spaces import get_space


def test_random_search_evaluates_budget_distinct_archs_and_keeps_the_best():
    space = get_space("nb201")
    seen = []

    def fitness(archs):
        seen.extend(archs)
        return [float(a.count("skip_connect")) for a in archs]

    result = RandomSearch(chunk=7).search(space, fitness, budget=40, seed=3)
    assert result.evaluations == 40 == len(seen) == len(set(seen))
    assert result.best_score == max(a.count("skip_connect") for a in seen)
    first = next(a for a in seen if a.count("skip_connect") == result.best_score)
    assert result.best_arch == first  # ties: the earliest
    assert result.strategy == "random" and result.seed == 3
    assert result.to_dict()["best_arch"] == result.best_arch


def test_random_search_stops_when_the_space_is_exhausted():
    from lswag_plugin.search._base import _Run

    space = get_space("nb201")
    result = RandomSearch().search(space, lambda archs: [0.0] * len(archs), budget=30, seed=0)
    assert result.evaluations == 30
    assert isinstance(_Run, type)
