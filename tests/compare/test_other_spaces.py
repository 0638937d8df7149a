"""Comparison strategies and hybrids on NB101, DARTS and PiT (no full tables: made-up fitness)."""

from __future__ import annotations

import optuna
import pytest

from lswag_plugin.search import get_strategy
from lswag_plugin.spaces import get_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _fitness(space):
    """A made-up fitness: the length of the canonical string (deterministic, differs between cells)."""
    return lambda archs: [float(len(space.encode(a))) for a in archs]


@pytest.mark.parametrize("strategy", ["optuna-tpe", "optuna-nsga2"])
def test_optuna_runners_skip_invalid_nb101_draws(strategy):
    space = get_space("nb101")
    seen: list[str] = []

    def track(archs):
        seen.extend(space.encode(a) for a in archs)
        return _fitness(space)(archs)

    get_strategy(strategy).search(space, track, budget=12, seed=0)  # ~1/4 of draws are pruned
    assert len(seen) == len(set(seen)) == 12
    assert all(space.encode(space.decode(k)) == k for k in seen)


@pytest.mark.parametrize("name", ["pruner-tpe", "prescreen-tpe"])
def test_optuna_hybrids_on_nb101(name):
    space = get_space("nb101")
    result = get_strategy(name).search(space, _fitness(space), _fitness(space), trainings=4, seed=0)
    assert result.trainings == 4


@pytest.mark.parametrize("space_name", ["nb101", "darts", "pit"])
def test_zc_local_mutates_on_every_space(space_name):
    # the default mutation_prob 0 (one choice changes): NB101's and PiT's mutate need prob > 0
    space = get_space(space_name)
    fit = _fitness(space)
    result = get_strategy("zc-local", pool=8).search(space, fit, fit, trainings=4, seed=0)
    assert result.trainings == 4
    assert len({h["arch"] for h in result.history}) == 4
