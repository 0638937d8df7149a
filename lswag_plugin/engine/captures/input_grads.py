"""Input gradients: ∂(Σ outputs)/∂x per sample, in the shared forward's graph (jacov, epe_nas)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from lswag_plugin.engine.captures._base import Capture, Piece, Run, capture_for
from lswag_plugin.engine.registry import Needs

__all__ = ["InputGradsCapture"]

INPUT_GRADS = Needs.define(
    "INPUT_GRADS", "gradient of the summed output w.r.t. the input, per sample (jacov, epe_nas)"
)


@capture_for(INPUT_GRADS)
class InputGradsCapture(Capture):
    """Makes each piece's inputs require gradients and pulls ``ones_like(output)`` back to them."""

    backward: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {
        "input_grads": "Tensor: ∂(Σ outputs)/∂x, per sample, in batch order",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.grads: list[torch.Tensor] = []
        self._kept = 0

    def begin_minibatch(self, minibatch: int, start: int, size: int) -> None:
        self._kept = len(self.grads)

    def roll_back(self, minibatch: int, start: int, size: int) -> None:
        del self.grads[self._kept :]

    def start(self, piece: Piece) -> None:
        piece.inputs = piece.inputs.clone().requires_grad_(True)

    def after_forward(self, piece: Piece, output: torch.Tensor) -> None:
        with self.run.own_backward():  # not a backward of the loss
            (g,) = torch.autograd.grad(
                output, piece.inputs, torch.ones_like(output), retain_graph=True
            )
        self.grads.append(g.detach())

    def publish(self, ctx: Any) -> None:
        ctx.captured["input_grads"] = torch.cat(self.grads) if self.grads else None
