"""Zen-NAS: expressivity of the pre-pooling features under a small Gaussian input perturbation."""

from __future__ import annotations

import math

import torch
from torch import nn

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.modules import is_weight_layer
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["gaussian_init", "pre_pooling_features", "zen"]

_POOLS = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)


def gaussian_init(model: nn.Module) -> None:
    """Re-initialises ``model`` in place as Zen-NAS does: Conv/Linear weights N(0, 1), biases 0, norms (1, 0)."""
    with torch.no_grad():
        for m in model.modules():
            if is_weight_layer(m):
                nn.init.normal_(m.weight)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(
                m, nn.modules.batchnorm._BatchNorm | nn.GroupNorm | nn.LayerNorm
            ) and isinstance(getattr(m, "weight", None), torch.Tensor):
                nn.init.ones_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def pre_pooling_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Returns the features before global pooling: ``forward_features`` (timm), else the input of the
    last adaptive average pool, else the input of the last Conv/Linear layer (the classifier)."""
    if callable(getattr(model, "forward_features", None)):
        return model.forward_features(x)
    pools = [m for m in model.modules() if isinstance(m, _POOLS)]
    weights = [m for m in model.modules() if is_weight_layer(m)]
    if not pools and not weights:
        raise ProxyNotApplicable(
            "zen needs a global pooling or a Conv/Linear classifier to read the features before it, "
            "and the model has neither; give it a forward_features method"
        )
    target = pools[-1] if pools else weights[-1]
    seen: list[torch.Tensor] = []
    handle = target.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        model(x)
    finally:
        handle.remove()
    return seen[-1]


@register_proxy("zen", direction="max", needs=Needs.SPECIAL_PASS, aliases=("zen_nas", "zen-nas"))
def zen(ctx: PassResults) -> float:
    """Zen-score: log E‖f(x) − f(x + α ε)‖₁ + Σ_BN log sqrt(mean_c σ²_c), α = 0.01.

    Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021. On a
    private copy re-initialised with N(0, 1) Conv/Linear weights (:func:`gaussian_init`), in train mode
    and without gradients: x and ε are N(0, 1) images of the batch's shape (the data is not used), f is
    the pre-pooling feature map (:func:`pre_pooling_features`), the norm is summed per sample and
    averaged over the batch, and σ²_c are each batch norm's running variances after the two forwards
    (reset first; none for a model without batch norm, e.g. a ViT). Options: ``alpha`` (0.01) and
    ``repeats`` (1; scores are averaged). Higher is better.
    """
    alpha = float(ctx.option("zen", "alpha", 0.01))
    repeats = int(ctx.option("zen", "repeats", 1))
    if alpha <= 0 or repeats < 1:
        raise ValueError(f"zen needs alpha > 0 and repeats >= 1, got {alpha} and {repeats}")
    model = ctx.fresh_model()
    shape = ctx.inputs.shape
    values = []
    with torch.no_grad():
        for _ in range(repeats):
            gaussian_init(model)
            bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            for bn in bns:
                bn.reset_running_stats()
            x = torch.randn(shape, dtype=ctx.inputs.dtype, device=ctx.device)
            eps = torch.randn(shape, dtype=ctx.inputs.dtype, device=ctx.device)
            out = pre_pooling_features(model, x)
            mixed = pre_pooling_features(model, x + alpha * eps)
            diff = (out - mixed).abs().double().reshape(shape[0], -1).sum(1).mean()
            value = math.log(float(diff)) if float(diff) > 0 else -math.inf
            for bn in bns:
                if bn.running_var is not None:
                    value += math.log(math.sqrt(float(bn.running_var.double().mean())))
            values.append(value)
    return sum(values) / len(values)
