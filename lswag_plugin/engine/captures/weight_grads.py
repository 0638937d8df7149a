"""Weight gradients: ∂L/∂W of every Conv/Linear weight, per minibatch (Λ, ZiCo, SNIP, GraSP, ...)."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch

from lswag_plugin.engine.captures._base import Capture, Run, capture_for
from lswag_plugin.engine.registry import Needs
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["WeightGradsCapture"]

WEIGHT_GRADS = Needs.define(
    "WEIGHT_GRADS", "gradient of the loss w.r.t. every Conv/Linear weight, per minibatch"
)


@capture_for(WEIGHT_GRADS)
class WeightGradsCapture(Capture):
    """Takes each weight layer's ``.grad`` after each minibatch's backward (no hooks, no copy)."""

    backward: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {
        "weight_grads": "dict[layer name, list[Tensor]]: ∂L/∂W of each weight layer, one per "
        "minibatch (see also ctx.batch_weight_grad)",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.grads: dict[str, list[torch.Tensor]] = {n: [] for n, _ in run.ctx.weight_layers}

    def attach(self, stack: contextlib.ExitStack) -> None:
        if not self.ctx.weight_layers:
            raise ProxyNotApplicable(
                f"proxies {self.proxies()} need Conv/Linear weights but the model has none"
            )

    def commit(self, minibatch: int) -> None:
        for name, module in self.ctx.weight_layers:
            g = module.weight.grad
            # The passes clear gradients by setting .grad to None: the tensor is handed over, no copy.
            self.grads[name].append(
                g.detach()
                if g is not None
                else torch.zeros_like(module.weight, requires_grad=False)
            )

    def publish(self, ctx: Any) -> None:
        ctx.captured["weight_grads"] = self.grads
