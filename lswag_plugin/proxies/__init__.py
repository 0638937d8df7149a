"""Zero-cost proxies: one registry, one module per family.

Example:
    >>> from lswag_plugin.proxies import available
    >>> [p.name for p in available() if p.name in ("lswag", "nwot")]
    ['lswag', 'nwot']
"""

# Importing a family module registers its proxies.
from lswag_plugin.proxies import (  # noqa: F401
    fisher,
    grasp,
    jacobian,
    l2_norm,
    libra,
    lswag,
    meco,
    nwot,
    saliency,
    size,
    swap,
    synflow,
    zen,
    zico,
)
from lswag_plugin.proxies._registry import (
    Needs,
    ProxySpec,
    available,
    get_proxy,
    register_proxy,
    resolve_names,
)

__all__ = ["Needs", "ProxySpec", "available", "get_proxy", "register_proxy", "resolve_names"]
