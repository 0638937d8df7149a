"""Search strategies over any :class:`~lswag_plugin.spaces.SearchSpace`: evolution and random search.

Example:
    >>> from lswag_plugin.search import EvolutionSearch
    >>> from lswag_plugin.spaces import get_space
    >>> result = EvolutionSearch().search(get_space("nb201"), lambda archs: [a.count("skip") for a in archs],
    ...                                   budget=100, seed=0)
    >>> result.evaluations
    100
"""

from lswag_plugin.search._base import Evaluator, SearchError, SearchResult, SearchStrategy
from lswag_plugin.search.evaluate import ProxyEvaluator
from lswag_plugin.search.evolution import EvolutionSearch
from lswag_plugin.search.hybrid import HybridStrategy, ScreenedLocalSearch, ScreenThenTrain
from lswag_plugin.search.random import RandomSearch

__all__ = [
    "STRATEGIES",
    "Evaluator",
    "EvolutionSearch",
    "HybridStrategy",
    "ProxyEvaluator",
    "RandomSearch",
    "ScreenThenTrain",
    "ScreenedLocalSearch",
    "SearchError",
    "SearchResult",
    "SearchStrategy",
    "get_strategy",
]

#: Strategy name → class.
STRATEGIES: dict[str, type[SearchStrategy]] = {"evolution": EvolutionSearch, "random": RandomSearch}


def get_strategy(name: str, **kwargs: object) -> SearchStrategy:
    """Returns a new strategy called ``name`` (``"evolution"`` or ``"random"``) built with ``kwargs``.

    Raises:
        SearchError: Unknown name; the message lists the known ones.
    """
    if name not in STRATEGIES:
        raise SearchError(
            f"unknown search strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        )
    return STRATEGIES[name](**kwargs)  # type: ignore[arg-type]
