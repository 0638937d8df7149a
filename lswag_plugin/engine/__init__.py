"""The scoring engine: the proxy contract, the plan of shared passes, private copies, and ``score``.

Layout: ``registry`` (``Needs``, ``ProxySpec``, the registry proxies implement), ``config``
(``ScoringConfig``: every setting and the cache key), ``plan`` (the fewest passes), ``capture`` (hooks),
``clone`` (private copies and model edits), ``context`` (``PassResults``), ``passes`` (the shared passes
and OOM back-off), ``checks`` (input checks), ``run`` (``score``), ``session`` (``Scorer``: one config,
many candidates). Nothing here imports ``proxies``.
"""

from lswag_plugin.engine.band import LayerBand, percentile_bin
from lswag_plugin.engine.checks import resolve_device
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.registry import (
    Needs,
    ProxySpec,
    available,
    get_proxy,
    register_proxy,
    resolve_names,
)
from lswag_plugin.engine.run import score
from lswag_plugin.engine.scores import Scores
from lswag_plugin.engine.session import CandidateResult, Scorer

__all__ = [
    "CandidateResult",
    "LayerBand",
    "Needs",
    "PassResults",
    "Plan",
    "ProxySpec",
    "Scorer",
    "Scores",
    "ScoringConfig",
    "available",
    "get_proxy",
    "make_plan",
    "percentile_bin",
    "register_proxy",
    "resolve_device",
    "resolve_names",
    "score",
]
