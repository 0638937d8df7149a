"""lswag_plugin.search's strategy registry: one name per strategy, typed errors, defaults and order."""

from __future__ import annotations

import pytest

from lswag_plugin.errors import AlreadyRegistered, UnknownStrategy
from lswag_plugin.search import (
    EvolutionSearch,
    RandomSearch,
    ScreenThenTrain,
    SearchStrategy,
    available_strategies,
    get_strategy,
    register_strategy,
    strategy_spec,
)
from lswag_plugin.search._registry import _STRATEGIES
from lswag_plugin.spaces import get_space


def test_our_strategies_are_registered_with_their_metadata():
    assert available_strategies(host="ours", needs_proxy=False) == ["random", "evolution"]
    assert isinstance(get_strategy("random"), RandomSearch)
    assert isinstance(get_strategy("evolution", population=4), EvolutionSearch)
    spec = strategy_spec("screen-evolution")
    assert (spec.kind, spec.host, spec.needs_proxy, dict(spec.defaults)) == (
        "hybrid",
        "ours",
        True,
        {"pool": 1000},
    )
    built = get_strategy("screen-evolution")
    assert isinstance(built, ScreenThenTrain) and (built.pool, built.screener) == (
        1000,
        "evolution",
    )
    assert get_strategy("screen-evolution", pool=7).pool == 7  # options override the defaults


def test_unknown_strategy_lists_the_registered_names():
    with pytest.raises(
        UnknownStrategy, match="unknown strategy 'hill-climb'; known strategies: "
    ) as e:
        strategy_spec("hill-climb")
    assert isinstance(e.value, KeyError)
    assert {"random", "evolution", "screen-random", "zc-local"} <= set(e.value.known)
    for name in e.value.known:
        assert name in str(e.value)


@pytest.fixture
def scratch_registry():
    """Restores the registry after a test that registers strategies."""
    saved = dict(_STRATEGIES)
    yield
    _STRATEGIES.clear()
    _STRATEGIES.update(saved)


class _FirstSample(SearchStrategy):
    name = "first-sample"

    def _search(self, run, rng):
        run.run([run.space.sample(rng)])


def test_a_registered_strategy_is_built_by_name_and_duplicates_raise(scratch_registry):
    register_strategy("first-sample")(_FirstSample)
    result = get_strategy("first-sample").search(get_space("nb201"), lambda a: [1.0], budget=3)
    assert result.evaluations == 1 and result.strategy == "first-sample"
    with pytest.raises(
        AlreadyRegistered, match="'first-sample' is already registered; pass override"
    ):
        register_strategy("first-sample")(_FirstSample)
    with pytest.raises(AlreadyRegistered):
        register_strategy("random")(_FirstSample)
    assert isinstance(
        get_strategy("random"), RandomSearch
    )  # the failed registration changed nothing
    register_strategy("random", override=True)(_FirstSample)
    assert isinstance(get_strategy("random"), _FirstSample)


def test_listing_order_training_only_then_hybrids_each_by_host(scratch_registry):
    register_strategy("z-optuna-like", host="optuna")(_FirstSample)
    register_strategy("a-nni-hybrid", host="nni", needs_proxy=True)(_FirstSample)
    names = available_strategies()
    assert names.index("evolution") < names.index("z-optuna-like") < names.index("screen-random")
    assert names.index("zc-local") < names.index("a-nni-hybrid")
    assert available_strategies(host="nni", needs_proxy=True)[-1] == "a-nni-hybrid"
    with pytest.raises(ValueError, match="host must be one of ours, optuna, nni"):
        register_strategy("x", host="ray")
