"""Model size: #params and FLOPs — the baselines every zero-cost proxy must beat."""

from __future__ import annotations

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy


@register_proxy("params", direction="max", needs=Needs.NOTHING, aliases=("num_params",))
def params(ctx: PassResults) -> float:
    """Number of parameters (every tensor in ``model.parameters()``, shared tensors once)."""
    return float(sum(p.numel() for p in ctx.parameters))


@register_proxy("flops", direction="max", needs=Needs.FLOPS)
def flops(ctx: PassResults) -> float:
    """FLOPs of one forward pass of one sample, counted by ``torch.utils.flop_counter`` (2 per MAC).

    Counted during the shared forward of the first minibatch and divided by its size.
    """
    if ctx.flops is None:  # pragma: no cover - the plan always counts when FLOPS is needed
        raise RuntimeError("FLOPs were not counted")
    return float(ctx.flops)
