"""Fisher: the channel-pruning saliency of Turner et al. / Theis et al., summed over the network."""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy

__all__ = ["fisher"]


@register_proxy("fisher", version="2", direction="max", needs=Needs.LAYER_OUTPUT_GRADS)
def fisher(ctx: PassResults) -> float:
    """Fisher: Σ_l fan_in(l) · Σ_c ½ · (1/N) Σ_n (Σ_positions a_{n,c} · ∂L/∂a_{n,c})² over Conv/Linear outputs a.

    Theis et al., "Faster gaze prediction with dense networks and Fisher pruning", 2018; Turner et al.,
    "BlockSwap", ICLR 2020; as a NAS proxy, Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
    ICLR 2021, who read each Conv/Linear layer's output. ``c`` is a convolution's output channel or a
    linear layer's output feature (a ViT's tokens are positions). ∂L is the gradient of the whole batch's
    mean loss. Fisher is a per-channel saliency; Abdelfattah et al. give every weight the saliency of its
    output channel and score a network by the sum over all weights, so each channel counts once per
    weight it owns: ``fan_in(l)`` = ``weight[0].numel()`` (in_channels/groups × kernel area, or
    in_features). Higher is better.
    """
    modules = dict(ctx.weight_layers)
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for name, term in ctx.layer_output_saliency.items():
        total += term.sum() * modules[name].weight[0].numel()
    return float(total * 0.5 / ctx.num_samples)
