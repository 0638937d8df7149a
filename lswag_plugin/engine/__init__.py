"""The scoring engine: plan the passes, capture with hooks, run on a private copy."""

from lswag_plugin.engine.band import LayerBand, percentile_bin
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.run import NonFiniteOutputWarning, resolve_device, score
from lswag_plugin.engine.scores import Scores

__all__ = [
    "LayerBand",
    "NonFiniteOutputWarning",
    "PassResults",
    "Plan",
    "Scores",
    "make_plan",
    "percentile_bin",
    "resolve_device",
    "score",
]
