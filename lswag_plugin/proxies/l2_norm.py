"""L2-norm of the weights at initialisation (NAS-Bench-Suite-Zero's data-free baseline)."""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.modules import is_weight_layer
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["l2_norm"]


@register_proxy("l2_norm", direction="max", needs=Needs.NOTHING)
def l2_norm(ctx: PassResults) -> float:
    """L2-norm: Σ_l ‖θ_l‖₂ over the Conv/Linear weight tensors, no data needed.

    Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021 (as evaluated in Krishnakumar
    et al., "NAS-Bench-Suite-Zero", NeurIPS 2022). Higher is better.
    """
    layers = [m for m in ctx.model.modules() if is_weight_layer(m)]
    if not layers:
        raise ProxyNotApplicable("l2_norm needs Conv/Linear weights but the model has none")
    total = torch.zeros((), dtype=torch.float64)
    for m in layers:
        total += m.weight.detach().double().norm().cpu()
    return float(total)
