"""GraSP: gradient signal preservation, −θ ⊙ (H g), by a Hessian-vector product."""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy

__all__ = ["grasp"]


@register_proxy("grasp", direction="max", needs=Needs.WEIGHT_GRADS | Needs.HESSIAN_GRAD_PRODUCT)
def grasp(ctx: PassResults) -> float:
    """GraSP: Σ_l Σ_{w∈θ_l} −w · (H g)_w over Conv/Linear weights, g = ∂L/∂θ, H = ∂²L/∂θ².

    Wang, Zhang & Grosse, "Picking Winning Tickets Before Training by Preserving Gradient Flow", ICLR
    2020; as a NAS proxy (with the sign that correlates positively with accuracy), Abdelfattah et al.,
    ICLR 2021. g is the whole batch's gradient (from the shared passes); the Hessian-vector product
    H g = ∂(gᵀ ∇L)/∂θ is exact: the engine runs each minibatch once more with ``create_graph`` and
    differentiates gᵀ∇L_k (``Needs.HESSIAN_GRAD_PRODUCT``), on its private copy, with timm's fused
    attention switched off there (SDPA cannot be differentiated twice on CPU). A finite difference
    (∇L(θ + εg) − ∇L(θ))/ε was tried and rejected: ReLU kinks make it wrong
    by 10-700 % on NAS-Bench-201 cells for any ε. Higher is better.
    """
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for name, module in ctx.weight_layers:
        h = ctx.hessian_grad_product[name]
        total -= (module.weight.detach().double() * h.double()).sum()
    return float(total)
