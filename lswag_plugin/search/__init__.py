"""Search strategies over any :class:`~lswag_plugin.spaces.SearchSpace`, and the strategy registry.

Every strategy registers under its name where it is defined (:func:`register_strategy`); search, compare
and the command line build them with :func:`get_strategy`. Ours are evolution and random search
(:class:`SearchStrategy`) and the hybrids of :mod:`lswag_plugin.search.hybrid`, where a zero-cost proxy
decides what is trained; :mod:`lswag_plugin.compare` adds those of Optuna and NNI.

Example:
    >>> from lswag_plugin.search import available_strategies, get_strategy
    >>> from lswag_plugin.spaces import get_space
    >>> result = get_strategy("evolution").search(
    ...     get_space("nb201"), lambda archs: [a.count("skip") for a in archs], budget=100, seed=0)
    >>> result.evaluations, available_strategies(host="ours", needs_proxy=False)
    (100, ['random', 'evolution'])
"""

from lswag_plugin.search._base import Evaluator, SearchError, SearchResult, SearchStrategy
from lswag_plugin.search._percentile import PercentileRule
from lswag_plugin.search._registry import (
    HOSTS,
    StrategySpec,
    available_strategies,
    get_strategy,
    register_strategy,
    strategy_spec,
)

# Registration order is the listing order within a host (random first, as `lswag compare` runs them).
from lswag_plugin.search.random import RandomSearch  # isort: skip
from lswag_plugin.search.evolution import EvolutionSearch  # isort: skip
from lswag_plugin.search.evaluate import ProxyEvaluator  # isort: skip
from lswag_plugin.search.hybrid import (  # isort: skip
    HybridResult,
    HybridRun,
    HybridStrategy,
    ScreenedLocalSearch,
    ScreenThenTrain,
)

__all__ = [
    "HOSTS",
    "Evaluator",
    "EvolutionSearch",
    "HybridResult",
    "HybridRun",
    "HybridStrategy",
    "PercentileRule",
    "ProxyEvaluator",
    "RandomSearch",
    "ScreenThenTrain",
    "ScreenedLocalSearch",
    "SearchError",
    "SearchResult",
    "SearchStrategy",
    "StrategySpec",
    "available_strategies",
    "get_strategy",
    "register_strategy",
    "strategy_spec",
]
