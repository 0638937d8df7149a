"""The scoring engine: the proxy contract, the captures, the plan of passes, private copies, ``Scorer``.

Layout: ``registry`` (``Needs``, ``ProxySpec``, the registry proxies implement), ``config``
(``ScoringConfig``: every setting and the cache key), ``modules`` (one walk of a model's modules),
``structure`` (stem, stages and blocks of any model), ``captures/`` (one file per capture: what the
passes gather for each need), ``plan`` (the fewest passes), ``clone`` (private copies and model edits),
``context`` (``PassResults``), ``passes`` (the passes and OOM back-off), ``checks`` (input checks),
``scoring`` (one model → ``Scores``), ``candidate`` (build-then-score one candidate and what fails
it), ``workers`` (processes running candidates), ``session`` (``Scorer``: the one scoring path, cache
inside), ``run`` (``score`` = ``Scorer(...).score(model)``). Nothing here imports ``proxies``.
"""

from lswag_plugin.engine.band import LayerBand, percentile_bin
from lswag_plugin.engine.candidate import CandidateKey, CandidateResult
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
from lswag_plugin.engine.session import Scorer

__all__ = [
    "CandidateKey",
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
