"""Activation patterns, raw activations and their gradients: forward hooks on every activation module.

Serves ``ACTIVATION_PATTERNS`` (packed ``output > 0`` bits per activation call: Ψ, NWOT),
``ACTIVATIONS`` (raw outputs per call and minibatch: MeCo) and ``ACTIVATION_GRADS`` (the loss
gradient at each activation output). Calls are numbered in execution order within a minibatch; a
module called twice is two layers.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
from torch import nn

from lswag_plugin.engine.captures._base import Capture, Run, capture_for
from lswag_plugin.engine.patterns import PatternPacker, clear_bits, memory_order_bits
from lswag_plugin.engine.registry import Needs
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["ActivationCapture"]

ACTIVATION_PATTERNS = Needs.define(
    "ACTIVATION_PATTERNS",
    "binarised post-activation patterns of every activation module call, packed per neuron over the "
    "batch's samples (SWAP's Ψ, NWOT's kernel)",
)
ACTIVATIONS = Needs.define(
    "ACTIVATIONS",
    "raw outputs of activation modules, per call and minibatch (feature statistics, MeCo)",
)
ACTIVATION_GRADS = Needs.define(
    "ACTIVATION_GRADS",
    "gradient of the loss w.r.t. activation outputs, (grad, output) pairs per call and minibatch",
)


@capture_for(ACTIVATION_PATTERNS, ACTIVATIONS, ACTIVATION_GRADS)
class ActivationCapture(Capture):
    """Forward hooks on every activation module: packs patterns, optionally keeps outputs and gradients."""

    publishes: ClassVar[dict[str, str]] = {
        "patterns": "list[ActivationPattern]: packed patterns, one per activation call, in execution order",
        "activations": "list[list[Tensor]]: raw outputs per call, per minibatch (ACTIVATIONS)",
        "activation_grads": "list[list[(grad, output)]]: per call, per minibatch (ACTIVATION_GRADS)",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        needs = run.needs
        self.keep_outputs = bool(needs & ACTIVATIONS)
        self.keep_output_grads = bool(needs & ACTIVATION_GRADS)
        self.packer = PatternPacker(run.ctx.num_samples)
        self.outputs: list[list[torch.Tensor]] = []
        self.output_grads: list[list[Any]] = []
        self._offset = 0
        self._call = 0
        self._names: dict[int, str] = {}
        self._kept: list[int] = []

    def can_split(self) -> bool:
        """Gradients registered on a failed attempt's tensors cannot be taken back."""
        return not self.keep_output_grads

    def attach(self, stack: contextlib.ExitStack) -> None:
        modules = self.ctx.index.activations
        if not modules:
            raise ProxyNotApplicable(
                f"proxies {self.proxies()} need activation modules (ReLU/GELU/SiLU... as nn.Module) but "
                f"{type(self.ctx.model).__name__} has none: functional activations (F.relu) cannot be read"
            )
        for name, module in modules:
            self._names[id(module)] = name
            stack.callback(module.register_forward_hook(self._hook).remove)

    def begin_minibatch(self, minibatch: int, start: int, size: int) -> None:
        self._kept = [len(o) for o in self.outputs]

    def start(self, piece: Any) -> None:
        self._offset = piece.start
        self._call = 0

    def after_forward(self, piece: Any, output: torch.Tensor) -> None:
        self.packer.flush()

    def roll_back(self, minibatch: int, start: int, size: int) -> None:
        """Clears the attempt's pattern bits and drops the raw outputs it kept."""
        self.packer.discard()
        for pattern in self.packer.patterns:
            clear_bits(pattern.keys, start, size)
            pattern._unique = pattern._distinct = None
        for call, outputs in enumerate(self.outputs):
            del outputs[self._kept[call] if call < len(self._kept) else 0 :]

    def _hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() == 0:
            return
        call = self._call
        self._call += 1
        if call == len(self.outputs):
            self.outputs.append([])
            self.output_grads.append([])
        self.packer.add(
            call, self._names[id(module)], memory_order_bits(output.detach()), self._offset
        )
        if self.keep_outputs:
            # An in-place activation's output may be overwritten by later in-place ops: keep a copy.
            kept = output.detach()
            self.outputs[call].append(kept.clone() if getattr(module, "inplace", False) else kept)
        if self.keep_output_grads and output.requires_grad:
            grads = self.output_grads[call]
            flat = output.detach().reshape(output.shape[0], -1)
            run = self.run
            output.register_hook(
                lambda g, grads=grads, out=flat: (
                    grads.append((g.detach(), out)) if run.gradient_hooks else None
                )
            )

    def publish(self, ctx: Any) -> None:
        ctx.captured["patterns"] = self.packer.patterns
        if self.keep_outputs:
            ctx.captured["activations"] = self.outputs
        if self.keep_output_grads:
            ctx.captured["activation_grads"] = self.output_grads
