"""lswag-plugin: training-free neural architecture search (L-SWAG, LIBRA-NAS) for PyTorch, Optuna and NNI.

Example:
    >>> import lswag_plugin
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8))
    >>> scores = lswag_plugin.score(net, None, "lswag,params", device="cpu", batch_size=16)
    >>> scores["params"]
    296.0
"""

# The engine first (it imports no proxy), then the proxy families, which register themselves.
from lswag_plugin import libra as _libra  # noqa: F401  (registers the libra proxy)
from lswag_plugin import proxies as _proxies  # noqa: F401
from lswag_plugin._version import __version__
from lswag_plugin.engine import LayerBand, Needs, Scorer, Scores, ScoringConfig, score
from lswag_plugin.engine.registry import available as available_proxies
from lswag_plugin.engine.registry import register_proxy
from lswag_plugin.errors import (
    BadArchitecture,
    BadBatch,
    BadData,
    BadDevice,
    LswagError,
    NonFiniteOutputWarning,
    ProxyNotApplicable,
    UnknownProxy,
)

__all__ = [
    "BadArchitecture",
    "BadBatch",
    "BadData",
    "BadDevice",
    "LayerBand",
    "LswagError",
    "Needs",
    "NonFiniteOutputWarning",
    "ProxyNotApplicable",
    "Scorer",
    "Scores",
    "ScoringConfig",
    "UnknownProxy",
    "__version__",
    "available_proxies",
    "register_proxy",
    "score",
]
