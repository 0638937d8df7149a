"""SynFlow: synaptic flow through the absolute-valued network on an all-ones input."""

from __future__ import annotations

import math

import torch

from lswag_plugin.engine.checks import logits_of
from lswag_plugin.engine.clone import remove_batch_norm
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.modules import is_weight_layer
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["synflow"]


@register_proxy("synflow", direction="max", needs=Needs.SPECIAL_PASS, aliases=("synflow_log",))
def synflow(ctx: PassResults) -> float:
    """SynFlow, log-scaled: log Σ_l Σ_{w∈θ_l} |w · ∂R/∂w|, R = 1ᵀ f_{|θ|}(1).

    Tanaka et al., "Pruning neural networks without any data by iteratively conserving synaptic flow",
    NeurIPS 2020; as a NAS proxy, Abdelfattah et al., ICLR 2021. On a private copy: every parameter and
    buffer replaced by its absolute value, batch norm removed, float64, eval mode (no dropout); one
    all-ones input of the batch's shape; R is the sum of the outputs. The sum over Conv/Linear weights
    spans 1e32..1e61 on NAS-Bench-201, so the score is its natural log (ranks are unchanged). A network
    whose output does not reach its input (zero flow) scores −inf. Higher is better.
    """
    model = ctx.fresh_model()
    remove_batch_norm(model)
    model.double().eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if torch.is_floating_point(tensor):
                tensor.abs_()
    layers = [m for m in model.modules() if is_weight_layer(m)]
    if not layers:
        raise ProxyNotApplicable("synflow needs Conv/Linear weights but the model has none")
    ones = torch.ones((1, *ctx.inputs.shape[1:]), dtype=torch.float64, device=ctx.device)
    with torch.enable_grad():
        out = model(ones)
        out = logits_of(out)
        out.sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for m in layers:
        if m.weight.grad is not None:
            total += (m.weight.detach() * m.weight.grad).abs().sum()
    value = float(total)
    return math.log(value) if value > 0 else -math.inf
