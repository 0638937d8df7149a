"""Gradient saliencies of the weights: SNIP, grad-norm and plain (NAS-Bench-Suite-Zero's first-order set).

All three read the gradient of the whole batch's mean loss, ``g = Σ_k (n_k / N) g_k`` over the engine's K
minibatch passes (:meth:`~lswag_plugin.engine.context.PassResults.batch_weight_grad`), over every
Conv/Linear weight — as Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, do.
"""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy

__all__ = ["grad_norm", "plain", "snip"]


def _sum_over_layers(ctx: PassResults, fn) -> float:
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for name, module in ctx.weight_layers:
        total += fn(module.weight.detach(), ctx.batch_weight_grad(name)).double()
    return float(total)


@register_proxy("snip", direction="max", needs=Needs.WEIGHT_GRADS)
def snip(ctx: PassResults) -> float:
    """SNIP: Σ_l Σ_{w∈θ_l} |w · ∂L/∂w|, the connection sensitivity summed over Conv/Linear weights.

    Lee et al., "SNIP: Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019; as a NAS
    proxy, Abdelfattah et al., ICLR 2021. Higher is better.
    """
    return _sum_over_layers(ctx, lambda w, g: (w * g).abs().sum())


@register_proxy("grad_norm", direction="max", needs=Needs.WEIGHT_GRADS)
def grad_norm(ctx: PassResults) -> float:
    """Grad-norm: Σ_l ‖∂L/∂θ_l‖₂, the Euclidean norm of each Conv/Linear weight's gradient, summed.

    Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021. Higher is better.
    """
    return _sum_over_layers(ctx, lambda w, g: g.double().norm())


@register_proxy("plain", direction="max", needs=Needs.WEIGHT_GRADS)
def plain(ctx: PassResults) -> float:
    """Plain: Σ_l Σ_{w∈θ_l} w · ∂L/∂w (no absolute value), the first-order Taylor saliency.

    Mozer & Smolensky, "Skeletonization", NeurIPS 1988; as a NAS proxy, Abdelfattah et al., ICLR 2021.
    Declared higher-is-better as published, although it ranks NAS-Bench-201 negatively (ρ ≈ −.26).
    """
    return _sum_over_layers(ctx, lambda w, g: (w.double() * g.double()).sum())
