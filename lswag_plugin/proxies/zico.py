"""ZiCo (Li et al., ICLR 2023) and the gradient statistics Λ shares with it."""

from __future__ import annotations

import math

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import BadBatch

__all__ = ["mean_and_std"]


def mean_and_std(samples: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the element-wise mean and population standard deviation (ddof 0) across ``samples``.

    Written out explicitly: ``torch.std`` over a length-2 dimension is ~100× slower on CPU. With two
    samples the result keeps their dtype; with more it is float64.
    """
    k = len(samples)
    if k < 2:
        raise BadBatch("statistics across minibatches need at least 2 minibatches")
    if k == 2:  # the common case (the batch's two halves): σ = |a − b| / 2, no float64 temporaries
        a, b = samples
        return (a + b).mul_(0.5), (a - b).abs_().mul_(0.5)
    mean = samples[0].double().clone()
    for s in samples[1:]:
        mean += s
    mean /= k
    var = torch.zeros_like(mean)
    for s in samples:
        var += (s - mean) ** 2
    var /= k
    return mean, var.sqrt_()


def log_sum(values: torch.Tensor) -> float | None:
    """Returns log Σ values, or None if the sum is empty or zero (a layer that contributes nothing)."""
    if values.numel() == 0:
        return None
    total = float(values.sum(dtype=torch.float64))
    return math.log(total) if total > 0 else None


@register_proxy("zico", direction="max", needs=Needs.WEIGHT_GRADS, min_minibatches=2)
def zico(ctx: PassResults) -> float:
    """ZiCo: Σ_l log Σ_{w∈θ_l} E|g_w| / σ(g_w), statistics across the K minibatches.

    Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients", ICLR 2023.
    Over every Conv/Linear weight layer; entries with zero σ are skipped, an empty layer adds nothing.
    """
    total = 0.0
    for name, _ in ctx.weight_layers:
        grads = ctx.weight_grads[name]
        _, std = mean_and_std(grads)
        mean_abs, _ = mean_and_std([g.abs() for g in grads])
        # σ = 0 gives inf or nan (0/0): skipped, as the entries with zero σ are.
        ratio = mean_abs.div_(std).nan_to_num_(nan=0.0, posinf=0.0)
        total += log_sum(ratio) or 0.0
    return total
