"""H·g for GraSP: the Hessian of the batch loss times its gradient, by a pass of its own."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from lswag_plugin.engine.captures._base import Capture, Run, capture_for
from lswag_plugin.engine.captures.weight_grads import WEIGHT_GRADS
from lswag_plugin.engine.checks import logits_of
from lswag_plugin.engine.clone import disable_fused_attention
from lswag_plugin.engine.registry import Needs
from lswag_plugin.engine.rng import get_rng_state, set_rng_state
from lswag_plugin.errors import BadDevice

__all__ = ["HessianGradCapture"]

HESSIAN_GRAD_PRODUCT = Needs.define(
    "HESSIAN_GRAD_PRODUCT",
    "H g per Conv/Linear weight (H = ∂²L/∂θ², g the batch gradient), by a pass of its own after the "
    "shared ones: each minibatch again, create_graph, one more backward (grasp)",
)


@capture_for(HESSIAN_GRAD_PRODUCT)
class HessianGradCapture(Capture):
    """Records each minibatch's random state in the shared passes, then replays them for H·g.

    The shared passes need no ``create_graph`` for it: each minibatch is run again with the random
    state it had (same dropout), its gradient is taken with ``create_graph`` and ``(n_k/N) gᵀ∇L_k`` is
    differentiated once more, with g = Σ_k (n_k/N) g_k the batch gradient of the shared passes. Fused
    attention (SDPA) is switched off on the private copy first: it cannot be differentiated twice on
    CPU. The random state after the shared passes is restored afterwards, so later special passes draw
    what they would have drawn without it.
    """

    requires: ClassVar[Needs] = WEIGHT_GRADS
    backward: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {
        "hessian_grad_product": "dict[layer name, Tensor]: H g per weight layer, H the Hessian of "
        "the batch loss w.r.t. the Conv/Linear weights and g its gradient",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.states: list[Any] = []
        self._state: Any = None

    @classmethod
    def passes(cls, minibatches: int) -> list[str]:
        return [f"forward+double backward x{minibatches}"]

    def begin_minibatch(self, minibatch: int, start: int, size: int) -> None:
        self._state = get_rng_state(self.ctx.device)

    def commit(self, minibatch: int) -> None:
        self.states.append(self._state)

    def publish(self, ctx: Any) -> None:
        if not self.run.finite:
            ctx.captured["hessian_grad_product"] = {}
            return
        after = get_rng_state(ctx.device)
        ctx.captured["hessian_grad_product"] = self._hessian_grad_product(ctx)
        set_rng_state(ctx.device, after)

    def _hessian_grad_product(self, ctx: Any) -> dict[str, torch.Tensor]:
        """Returns H g per weight layer: ∂(gᵀ ∇L)/∂θ with g and ∇L = Σ_k (n_k/N) ∇L_k."""
        model = ctx.model
        names = [n for n, _ in ctx.weight_layers]
        weights = [m.weight for _, m in ctx.weight_layers]
        g = [ctx.batch_weight_grad(n) for n in names]
        hv = [torch.zeros_like(w.detach()) for w in weights]
        disable_fused_attention(model)
        offset = 0
        with torch.enable_grad():
            for size, state in zip(ctx.minibatch_sizes, self.states):
                set_rng_state(ctx.device, state)
                xk = ctx.inputs[offset : offset + size]
                yk = ctx.targets[offset : offset + size]
                offset += size
                try:
                    with ctx.autocast():
                        raw = model(xk)
                    loss = ctx.loss_fn(raw if ctx.custom_loss else logits_of(raw), yk)
                    gk = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
                    terms = [
                        (gi * gl).sum()
                        for gi, gl in zip(g, gk)
                        if gl is not None and gl.requires_grad
                    ]
                    if not terms:  # no second-order path (e.g. a linear model under a linear loss)
                        continue
                    z = torch.stack(terms).sum() * (size / ctx.num_samples)
                    for h, hk in zip(hv, torch.autograd.grad(z, weights, allow_unused=True)):
                        if hk is not None:
                            h += hk.detach()
                except torch.OutOfMemoryError as exc:
                    raise BadDevice(
                        f"out of memory in the Hessian-vector pass (grasp) on a minibatch of {size} "
                        f"sample(s) on {ctx.device}; use a smaller batch_size or another device ({exc})"
                    ) from exc
        for p in ctx.parameters:
            p.grad = None
        return dict(zip(names, hv))
