"""lswag-plugin: training-free neural architecture search (L-SWAG, LIBRA-NAS) for PyTorch, Optuna and NNI.

Example:
    >>> import lswag_plugin
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8))
    >>> scores = lswag_plugin.score(net, None, "lswag,params", device="cpu", batch_size=16)
    >>> scores["params"]
    296.0
"""

from lswag_plugin.engine import LayerBand, Scores, score
from lswag_plugin.errors import (
    BadArchitecture,
    BadBatch,
    BadData,
    BadDevice,
    LswagError,
    ProxyNotApplicable,
    UnknownProxy,
)
from lswag_plugin.proxies import available as available_proxies
from lswag_plugin.proxies import register_proxy

__version__ = "0.1.1"

__all__ = [
    "BadArchitecture",
    "BadBatch",
    "BadData",
    "BadDevice",
    "LayerBand",
    "LswagError",
    "ProxyNotApplicable",
    "Scores",
    "UnknownProxy",
    "__version__",
    "available_proxies",
    "register_proxy",
    "score",
]
