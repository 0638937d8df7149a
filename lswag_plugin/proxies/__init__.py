"""Zero-cost proxies: one module per family, registered in the engine's registry.

Each module imports the contract (:mod:`lswag_plugin.engine.registry`) and registers its proxies with
``@register_proxy``; this package re-exports the contract for users who add a proxy.

Example:
    >>> from lswag_plugin.proxies import available
    >>> [p.name for p in available() if p.name in ("lswag", "nwot")]
    ['lswag', 'nwot']
"""

# Importing a family module registers its proxies.
from lswag_plugin.engine.registry import (
    Needs,
    ProxySpec,
    available,
    get_proxy,
    register_proxy,
    resolve_names,
)
from lswag_plugin.proxies import (  # noqa: F401
    az_nas,
    fisher,
    grasp,
    jacobian,
    l2_norm,
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

__all__ = ["Needs", "ProxySpec", "available", "get_proxy", "register_proxy", "resolve_names"]
