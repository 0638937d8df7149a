"""GraSP: gradient signal preservation, −θ ⊙ (H g), by a Hessian-vector product."""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults, disable_fused_attention
from lswag_plugin.proxies._registry import Needs, register_proxy

__all__ = ["grasp"]


def _exact_hvp(
    ctx: PassResults, weights: list[torch.Tensor], g: list[torch.Tensor]
) -> list[torch.Tensor]:
    """H g by a double backward through each minibatch (``gᵀ ∇L_k`` weighted by n_k / N)."""
    from lswag_plugin.engine.run import logits_of

    model = ctx.model
    disable_fused_attention(model)
    hg = [torch.zeros_like(w) for w in weights]
    offset = 0
    with torch.enable_grad():
        for size in ctx.minibatch_sizes:
            xk = ctx.inputs[offset : offset + size]
            yk = ctx.targets[offset : offset + size]
            offset += size
            loss = ctx.loss_fn(logits_of(model(xk)), yk) * (size / ctx.num_samples)
            grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
            z = sum((gi * gf).sum() for gi, gf in zip(g, grad_f) if gf is not None)
            if not isinstance(z, torch.Tensor) or not z.requires_grad:
                continue
            for acc, h in zip(hg, torch.autograd.grad(z, weights, allow_unused=True)):
                if h is not None:
                    acc += h
    return hg


@register_proxy("grasp", direction="max", needs=Needs.WEIGHT_GRADS | Needs.SPECIAL_PASS)
def grasp(ctx: PassResults) -> float:
    """GraSP: Σ_l Σ_{w∈θ_l} −w · (H g)_w over Conv/Linear weights, g = ∂L/∂θ, H = ∂²L/∂θ².

    Wang, Zhang & Grosse, "Picking Winning Tickets Before Training by Preserving Gradient Flow", ICLR
    2020; as a NAS proxy (with the sign that correlates positively with accuracy), Abdelfattah et al.,
    ICLR 2021. g is the whole batch's gradient from the engine's shared passes; the Hessian-vector
    product H g = ∂(gᵀ ∇L)/∂θ is exact, by a double backward through each minibatch on the engine's
    private copy, with timm's fused attention switched off there (SDPA cannot be differentiated twice on
    CPU). A finite difference (∇L(θ + εg) − ∇L(θ))/ε was tried and rejected: ReLU kinks make it wrong
    by 10-700 % on NAS-Bench-201 cells for any ε. Higher is better.
    """
    weights = [m.weight for _, m in ctx.weight_layers]
    g = [ctx.batch_weight_grad(n).detach() for n, _ in ctx.weight_layers]
    hg = _exact_hvp(ctx, weights, g)
    ctx.model.zero_grad(set_to_none=True)
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for w, h in zip(weights, hg):
        total -= (w.detach().double() * h.double()).sum()
    return float(total)
