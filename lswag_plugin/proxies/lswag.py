"""L-SWAG (Casarin, Escalera, Lanz, CVPR 2025): Λ × Ψ."""

from __future__ import annotations

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.proxies.swap import DEFAULT_PATTERN_COUNT, count_patterns
from lswag_plugin.proxies.zico import log_sum, mean_and_std

__all__ = ["lswag_lambda", "lswag_psi"]


def lswag_lambda(ctx: PassResults) -> float:
    """Returns Λ = Σ_{l=l̂..L̂} log Σ_{w∈θ_l} 1 / σ(|∂L/∂w|), σ across the K minibatches.

    ZiCo without the mean (the paper's Theorem 1). Entries with zero σ are skipped; a layer whose sum is
    empty contributes nothing (so a network with no gradient at all has Λ = 0).
    """
    total = 0.0
    for name, _ in ctx.banded_weight_layers():
        grads = ctx.weight_grads[name]
        if len(grads) == 2:  # σ = ||g₁| − |g₂|| / 2, in place: no mean, no boolean-indexed copies
            inverse = grads[0].abs().sub_(grads[1].abs()).abs_().reciprocal_().mul_(2.0)
        else:
            inverse = mean_and_std([g.abs() for g in grads])[1].reciprocal_()
        total += log_sum(inverse.nan_to_num_(posinf=0.0)) or 0.0  # σ = 0: 1/σ = inf, skipped
    return total


def lswag_psi(ctx: PassResults) -> float:
    """Returns Ψ over activation layers 1..L̂ (see :func:`~lswag_plugin.proxies.swap.count_patterns`)."""
    return count_patterns(
        ctx.banded_patterns(), ctx.option("lswag", "pattern_count", DEFAULT_PATTERN_COUNT)
    )


@register_proxy(
    "lswag",
    direction="max",
    needs=Needs.WEIGHT_GRADS | Needs.ACTIVATION_PATTERNS,
    min_minibatches=2,
    aliases=("l-swag", "l_swag"),
)
def lswag(ctx: PassResults) -> float:
    """L-SWAG = Λ × Ψ (Casarin et al., CVPR 2025, Eq. 1).

    Λ = Σ_{l=l̂..L̂} log Σ_{w∈θ_l} 1/σ(|∇_w L|) over Conv/Linear weight layers in the band; Ψ = distinct
    sample-wise activation patterns over activation layers 1..L̂. Option ``pattern_count``
    (``"per_layer"`` default or ``"union"``). Λ and Ψ are stored in ``Scores.components``.
    """
    lam, psi = lswag_lambda(ctx), lswag_psi(ctx)
    ctx.components["lswag.lambda"] = lam
    ctx.components["lswag.psi"] = psi
    return lam * psi
