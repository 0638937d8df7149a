"""Layer-output saliency (fisher): per Conv/Linear layer and output channel, Σ_n (Σ_positions a·∂L/∂a)²."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
from torch import nn

from lswag_plugin.engine.captures._base import Capture, Piece, capture_for
from lswag_plugin.engine.registry import Needs
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["LayerOutputCapture"]

LAYER_OUTPUT_GRADS = Needs.define(
    "LAYER_OUTPUT_GRADS",
    "per Conv/Linear layer and output channel, Σ over samples of (Σ over positions of output × "
    "∂L/∂output)², streamed during the shared backward (fisher)",
)


@capture_for(LAYER_OUTPUT_GRADS)
class LayerOutputCapture(Capture):
    """Forward hooks on the weight layers register a gradient hook on each output.

    ``a`` is the layer's output. The channel is dim 1 of a convolution's output and the last dim of a
    linear layer's (tokens of a ViT are positions). Each minibatch's gradient is rescaled by
    ``n_k / N`` to the gradient of the whole batch's mean loss, so the terms equal those of one
    full-batch pass.
    """

    backward: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {
        "layer_output_saliency": "dict[layer name, Tensor]: per output channel, Σ_n (Σ_positions "
        "a·∂L/∂a)² with the gradient of the whole batch's mean loss",
    }

    def __init__(self, run: Any) -> None:
        super().__init__(run)
        self.sums: dict[str, torch.Tensor] = {}
        self.scale = 1.0

    def can_split(self) -> bool:
        """Gradient hooks registered on a failed attempt's outputs cannot be taken back."""
        return False

    def attach(self, stack: contextlib.ExitStack) -> None:
        if not self.ctx.weight_layers:
            raise ProxyNotApplicable(
                f"proxies needing layer-output gradients ({self.proxies()}) need Conv/Linear layers "
                "but the model has none"
            )
        for name, module in self.ctx.weight_layers:
            hook = module.register_forward_hook(lambda m, a, o, name=name: self._hook(name, m, o))
            stack.callback(hook.remove)

    def start(self, piece: Piece) -> None:
        self.scale = piece.size / self.ctx.num_samples

    def _hook(self, name: str, module: nn.Module, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or not output.requires_grad or output.dim() < 2:
            return
        act = output.detach()
        channel_last = isinstance(module, nn.Linear)
        scale, run = self.scale, self.run

        def on_grad(grad: torch.Tensor) -> None:
            if not run.gradient_hooks:
                return
            prod = act * grad.detach()
            if channel_last:
                g_nk = prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(1)
            else:
                g_nk = prod.reshape(prod.shape[0], prod.shape[1], -1).sum(2)
            term = (g_nk.double() * scale).pow(2).sum(0)
            self.sums[name] = self.sums[name] + term if name in self.sums else term

        output.register_hook(on_grad)

    def publish(self, ctx: Any) -> None:
        ctx.captured["layer_output_saliency"] = self.sums
