"""What the passes captured, as proxies read it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lswag_plugin.engine.band import LayerBand
from lswag_plugin.engine.clone import private_copy
from lswag_plugin.engine.modules import ModelIndex

__all__ = ["PUBLISHED", "PassResults"]

#: Context attribute a capture publishes → (the need its capture serves, as ``Needs.X``, and what it
#: is); filled by :func:`lswag_plugin.engine.captures.capture_for`, read by the error messages below.
PUBLISHED: dict[str, tuple[str, str]] = {}


@dataclass
class PassResults:
    """Everything the engine captured for one model and one batch.

    What the captures of the planned needs gathered is read as attributes too: ``ctx.patterns``,
    ``ctx.weight_grads``, ``ctx.flops``, ... (each capture documents what it publishes;
    ``lswag_plugin.engine.captures.describe()`` lists them). Reading one whose need the proxy did not
    declare raises an ``AttributeError`` naming the need.

    Attributes:
        model: The engine's private copy after the shared passes (train mode). Never the caller's.
        inputs: The batch, on the scoring device.
        targets: The labels (long), on the scoring device.
        minibatch_sizes: Sizes of the K minibatches the batch was split into.
        layer_band: The band [l̂, L̂] in percentile bins.
        loss_fn: The loss of the shared passes, ``loss_fn(output, labels)``.
        custom_loss: Whether ``loss_fn`` is the caller's (it then gets the raw output, not the logits).
        device: The scoring device.
        seed: The scoring seed.
        num_classes: Number of classes of the output.
        source_model: The caller's model (read only, for ``fresh_model``).
        index: The private copy's modules, parameters, weight and activation layers
            (:class:`~lswag_plugin.engine.modules.ModelIndex`).
        captured: What the captures published, by name.
        outputs: Model outputs of the shared passes, concatenated over minibatches (detached).
        losses: The loss of each minibatch.
        options: Per-proxy options, ``options[proxy_name][key]``.
        components: Proxies may store sub-scores here (e.g. ``lswag.lambda``).
        values: The values of the proxies computed so far in this call, by name: a combined proxy
            (``libra``) reads the proxies it ``requires`` here; the engine computes each once.
        backoffs: Times a minibatch was split further after running out of memory.
        autocast_dtype: dtype of ``torch.autocast`` around the shared forwards (None: full precision).
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
    index: ModelIndex
    custom_loss: bool = False
    captured: dict[str, Any] = field(default_factory=dict)
    outputs: torch.Tensor | None = None
    losses: list[float] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    components: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    backoffs: int = 0
    autocast_dtype: torch.dtype | None = None
    _batch_grads: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: a published capture result, or a clear error.
        captured = self.__dict__.get("captured")
        if captured is not None and name in captured:
            return captured[name]
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in PUBLISHED:
            raise AttributeError(f"PassResults has no attribute {name!r}")
        need, description = PUBLISHED[name]
        raise AttributeError(
            f"ctx.{name} ({description}) was not captured in this score: declare "
            f"needs={need} in register_proxy"
        )

    @property
    def weight_layers(self) -> list[tuple[str, nn.Module]]:
        """``(name, module)`` of every Conv/Linear layer, in module order."""
        return list(self.index.weight_layers)

    @property
    def parameters(self) -> tuple[torch.Tensor, ...]:
        """Every parameter of the model, listed once."""
        return self.index.parameters

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
        layers = self.index.weight_layers
        d = len(layers)
        return [wl for i, wl in enumerate(layers) if self.layer_band.contains_weight_layer(i, d)]

    def banded_patterns(self) -> list[Any]:
        """Returns the activation layers 1..L̂ (bins up to the band's upper end)."""
        patterns = self.patterns
        a = len(patterns)
        return [
            p for i, p in enumerate(patterns) if self.layer_band.contains_activation_layer(i, a)
        ]
