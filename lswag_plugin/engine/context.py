"""What the shared passes captured, as proxies read it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lswag_plugin.engine.band import LayerBand
from lswag_plugin.engine.capture import ActivationPattern
from lswag_plugin.engine.clone import private_copy
from lswag_plugin.engine.stages import StageFeatures

__all__ = ["PassResults"]


@dataclass
class PassResults:
    """Everything the engine captured for one model and one batch.

    Attributes:
        model: The engine's private copy after the shared passes (train mode). Never the caller's.
        inputs: The batch, on the scoring device.
        targets: The labels (long), on the scoring device.
        minibatch_sizes: Sizes of the K minibatches the batch was split into.
        patterns: Packed activation patterns, one per activation call, in execution order.
        activations: Raw activation outputs per call, per minibatch (only if a proxy needs them).
        activation_grads: (grad, output) pairs per call, per minibatch (only if needed).
        weight_layers: ``(name, module)`` of every Conv/Linear layer, in module order.
        parameters: Every parameter of the model (listed once: the passes clear their gradients
            between minibatches without walking the module tree).
        weight_grads: Gradient of each weight layer per minibatch, keyed by layer name.
        layer_output_saliency: Per weight layer and output channel, Σ_n (Σ_positions a·∂L/∂a)² with
            the gradient of the whole batch's mean loss (only if ``Needs.LAYER_OUTPUT_GRADS``).
        hessian_grad_product: H g per weight layer, H the Hessian of the batch loss w.r.t. the Conv/Linear
            weights and g its gradient (only if ``Needs.HESSIAN_GRAD_PRODUCT``).
        input_grads: Gradient of the summed output w.r.t. the inputs (only if needed), per sample.
        outputs: Model outputs of the shared passes, concatenated over minibatches (detached).
        flops: FLOPs of one forward of one sample (if requested).
        stages: Statistics of the stem and stage features and the gradient norms there (only if
            ``Needs.STAGE_FEATURES``; see :mod:`lswag_plugin.engine.stages`).
        layer_band: The band [l̂, L̂] in percentile bins.
        options: Per-proxy options, ``options[proxy_name][key]``.
        num_classes: Number of classes of the output.
        source_model: The caller's model (read only, for ``fresh_model``).
        components: Proxies may store sub-scores here (e.g. ``lswag.lambda``).
        values: The values of the proxies computed so far in this call, by name: a combined proxy
            (``libra``) reads the proxies it ``requires`` here; the engine computes each once.
    """

    model: nn.Module
    inputs: torch.Tensor
    targets: torch.Tensor
    minibatch_sizes: list[int]
    layer_band: LayerBand
    loss_fn: Any
    device: torch.device
    seed: int
    num_classes: int
    source_model: nn.Module
    patterns: list[ActivationPattern] = field(default_factory=list)
    activations: list[list[torch.Tensor]] = field(default_factory=list)
    activation_grads: list[list[tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=list)
    weight_layers: list[tuple[str, nn.Module]] = field(default_factory=list)
    parameters: list[torch.Tensor] = field(default_factory=list, repr=False)
    weight_grads: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    layer_output_saliency: dict[str, torch.Tensor] = field(default_factory=dict)
    input_grads: torch.Tensor | None = None
    hessian_grad_product: dict[str, torch.Tensor] = field(default_factory=dict)
    outputs: torch.Tensor | None = None
    losses: list[float] = field(default_factory=list)
    flops: float | None = None
    stages: StageFeatures | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    components: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    #: Times a minibatch was split further after running out of memory.
    backoffs: int = 0
    #: dtype of ``torch.autocast`` around the shared forwards (None: full precision).
    autocast_dtype: torch.dtype | None = None
    _batch_grads: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def num_samples(self) -> int:
        """Samples in the batch."""
        return int(self.inputs.shape[0])

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Returns ``torch.autocast`` with the score's precision, or a no-op at full precision."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def option(self, proxy: str, key: str, default: Any) -> Any:
        """Returns ``options[proxy][key]`` or ``default``."""
        return self.options.get(proxy, {}).get(key, default)

    def fresh_model(self) -> nn.Module:
        """Returns a new private copy of the caller's model on the scoring device, in train mode.

        For proxies with a special pass (they may change weights, e.g. synflow's absolute values).
        """
        return private_copy(self.source_model, self.device)

    def batch_weight_grad(self, name: str) -> torch.Tensor:
        """Returns ∂L/∂W of weight layer ``name`` for the whole batch's mean loss: Σ_k (n_k / N) g_k.

        The size-weighted mean of the K minibatch gradients, i.e. the gradient one full-batch pass gives
        (up to batch-norm statistics being per minibatch). Cached.
        """
        if name not in self._batch_grads:
            total = self.num_samples
            grads = self.weight_grads[name]
            g = grads[0] * (self.minibatch_sizes[0] / total)
            for size, gk in zip(self.minibatch_sizes[1:], grads[1:]):
                g = g + gk * (size / total)
            self._batch_grads[name] = g
        return self._batch_grads[name]

    def banded_weight_layers(self) -> list[tuple[str, nn.Module]]:
        """Returns the weight layers inside the Λ band."""
        d = len(self.weight_layers)
        return [
            wl
            for i, wl in enumerate(self.weight_layers)
            if self.layer_band.contains_weight_layer(i, d)
        ]

    def banded_patterns(self) -> list[ActivationPattern]:
        """Returns the activation layers 1..L̂ (bins up to the band's upper end)."""
        a = len(self.patterns)
        return [
            p
            for i, p in enumerate(self.patterns)
            if self.layer_band.contains_activation_layer(i, a)
        ]
