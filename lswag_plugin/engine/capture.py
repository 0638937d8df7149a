"""Hooks that capture what proxies read, streamed as the passes run, and always removed.

Activation patterns are packed as they stream out of the hooks: neuron ``n``'s binarised outputs over
the ``S`` samples of the batch become the bits of ``ceil(S / 64)`` int64 words, so Ψ (distinct patterns)
and NWOT's Hamming kernel never need an ``S × all-neurons`` matrix.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = [
    "ActivationCapture",
    "ActivationPattern",
    "LayerOutputCapture",
    "is_activation_module",
    "is_weight_layer",
    "pack_bits",
    "unpack_bits",
]

_ACTIVATION_NAME = re.compile(r"relu|gelu|silu|swish|elu|mish", re.IGNORECASE)
_KNOWN_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.ELU,
    nn.CELU,
    nn.SELU,
)
WORD_BITS = 64
_LITTLE_ENDIAN = sys.byteorder == "little"


def is_activation_module(module: nn.Module) -> bool:
    """Returns True for a leaf activation whose output is > 0 exactly where its input is > 0.

    The ReLU family, GELU, SiLU/Swish, Mish, Hard-Swish and the ELU family (PyTorch's and timm's, which
    are matched by class name) all have that property, so a pattern is ``output > 0``.
    """
    if isinstance(module, _KNOWN_ACTIVATIONS):
        return True
    if next(module.children(), None) is not None:
        return False
    return bool(_ACTIVATION_NAME.search(type(module).__name__))


def is_weight_layer(module: nn.Module) -> bool:
    """Returns True for the layers whose weights Λ/ZiCo read: Conv (any dim) and Linear."""
    return isinstance(module, nn.modules.conv._ConvNd | nn.Linear) and isinstance(
        getattr(module, "weight", None), torch.Tensor
    )


def pack_bits(bits: torch.Tensor, keys: torch.Tensor, offset: int) -> None:
    """ORs the ``(n, N)`` boolean ``bits`` of samples ``offset .. offset+n`` into ``keys`` ``(N, W)``.

    Sample ``s`` becomes bit ``s % 64`` of word ``s // 64`` (bit 63 is the int64 sign bit). Bits are
    packed eight samples to a byte with uint8 shifts; whole bytes that start on a byte boundary are
    ORed straight into the keys' little-endian bytes, the rest are assembled into words. No int64
    temporaries of the activation's size.
    """
    n = bits.shape[0]
    start = 0
    if offset % 8 == 0 and _LITTLE_ENDIAN and keys.is_contiguous() and n >= 8:
        full = n - n % 8
        keys.view(torch.uint8)[:, offset // 8 : (offset + full) // 8] |= _pack_bytes(bits[:full]).T
        start = full
    while start < n:
        s = offset + start
        word, bit = divmod(s, WORD_BITS)
        count = min(n - start, WORD_BITS - bit)
        keys[:, word] |= _pack_word(bits[start : start + count], bit)
        start += count


def clear_bits(keys: torch.Tensor, offset: int, count: int) -> None:
    """Zeroes the bits of samples ``offset .. offset+count`` in ``keys`` ``(N, W)``."""
    s, end = offset, offset + count
    while s < end:
        word, bit = divmod(s, WORD_BITS)
        n = min(end - s, WORD_BITS - bit)
        mask = ((1 << n) - 1) << bit
        if mask >= 1 << 63:  # as a signed int64
            mask -= 1 << 64
        keys[:, word] &= ~mask
        s += n


def _pack_bytes(chunk: torch.Tensor) -> torch.Tensor:
    """Returns ``(ceil(count / 8), N)`` uint8: bit ``j`` of byte ``i`` is ``chunk[8 i + j]``.

    Two kernels whatever the count (a multiply by the bit weights, then a uint8 sum over each group of
    eight samples: the bits are distinct, so the sum is their OR), not eight shifts and ORs.
    """
    count, neurons = chunk.shape
    rows = -(-count // 8) * 8
    u8 = chunk.contiguous().view(torch.uint8)
    if rows != count:
        u8 = torch.cat([u8, u8.new_zeros(rows - count, neurons)], 0)
    weights = _BIT_WEIGHTS.get(u8.device)
    if weights is None:
        weights = _BIT_WEIGHTS[u8.device] = (
            (1 << torch.arange(8, dtype=torch.int32)).to(torch.uint8).to(u8.device).view(1, 8, 1)
        )
    return (u8.view(rows // 8, 8, neurons) * weights).sum(1, dtype=torch.uint8)


#: ``[1, 2, 4, ..., 128]`` as uint8, per device (the weights of the bits of a byte).
_BIT_WEIGHTS: dict[torch.device, torch.Tensor] = {}


def _pack_word(chunk: torch.Tensor, bit: int) -> torch.Tensor:
    """Returns the ``(N,)`` int64 words holding ``chunk`` ``(count ≤ 64 - bit, N)`` from bit ``bit`` on."""
    packed = _pack_bytes(chunk)
    if packed.shape[0] < 8:
        packed = torch.cat([packed, packed.new_zeros(8 - packed.shape[0], chunk.shape[1])], 0)
    words = packed.T.contiguous().view(torch.int64)[:, 0]  # little-endian bytes → one word
    return words << bit if bit else words


def memory_order_bits(output: torch.Tensor) -> torch.Tensor:
    """Returns ``output > 0`` as ``(n, neurons)`` booleans, neurons in the tensor's memory order.

    A channels-last activation is read without a copy of its values; only the order of neurons differs
    from ``reshape(n, -1)``, which no pattern statistic depends on (they are sets over neurons).
    """
    n = output.shape[0]
    if output.dim() > 2:
        order = sorted(range(1, output.dim()), key=output.stride, reverse=True)
        output = output.permute(0, *order)
    return (output > 0).reshape(n, -1)


def unpack_bits(keys: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Returns the ``(num_samples, N)`` 0/1 float matrix packed in ``keys`` ``(N, W)``."""
    if keys.device.type == "cpu":
        raw = np.ascontiguousarray(keys.numpy()).view(np.uint8)  # (N, 8 W), little-endian words
        bits = np.unpackbits(raw, axis=1, count=num_samples, bitorder="little")  # (N, S)
        return torch.from_numpy(bits).T.to(torch.float32)
    rows = []
    for s in range(0, num_samples, WORD_BITS):
        word = s // WORD_BITS
        count = min(WORD_BITS, num_samples - s)
        shifts = torch.arange(count, device=keys.device, dtype=torch.int64)
        rows.append(((keys[:, word][None, :] >> shifts[:, None]) & 1).to(torch.float32))
    return torch.cat(rows, 0)


@dataclass
class ActivationPattern:
    """Packed binary patterns of one activation module call (a "layer" of Ψ), in execution order."""

    name: str
    call: int
    keys: torch.Tensor  # (neurons, words) int64
    num_samples: int
    _unique: torch.Tensor | None = field(default=None, repr=False, compare=False)

    @property
    def num_neurons(self) -> int:
        """Neurons of this layer: every element of one sample's activation (C·H·W or T·C)."""
        return int(self.keys.shape[0])

    def unique_keys(self) -> torch.Tensor:
        """Returns the distinct patterns of this layer, ``(distinct, words)`` (computed once)."""
        if self._unique is None:
            if self.keys.shape[1] == 1:
                self._unique = torch.unique(self.keys[:, 0])[:, None]
            else:
                self._unique = torch.unique(self.keys, dim=0)
        return self._unique


@dataclass
class ActivationCapture:
    """Forward hooks on every activation module: packs patterns, and optionally keeps raw outputs.

    Calls are numbered in execution order within a minibatch; a module called twice is two layers.
    """

    model: nn.Module
    num_samples: int
    keep_outputs: bool = False
    keep_output_grads: bool = False
    patterns: list[ActivationPattern] = field(default_factory=list)
    outputs: list[list[torch.Tensor]] = field(default_factory=list)
    output_grads: list[list[torch.Tensor]] = field(default_factory=list)
    grads_active: bool = True
    _offset: int = 0
    _call: int = 0
    _names: dict[int, str] = field(default_factory=dict)
    _modules: list[tuple[str, nn.Module]] | None = None

    def modules(self) -> list[tuple[str, nn.Module]]:
        """Returns the activation modules found, in module order (found once: the passes do not
        change the module tree)."""
        if self._modules is None:
            self._modules = [
                (n, m) for n, m in self.model.named_modules() if is_activation_module(m)
            ]
        return self._modules

    def start_minibatch(self, offset: int) -> None:
        """Marks the first sample index of the next minibatch."""
        self._offset = offset
        self._call = 0

    def kept_lengths(self) -> list[int]:
        """Returns how many raw outputs each call holds (to roll back a failed attempt)."""
        return [len(o) for o in self.outputs]

    def roll_back(self, offset: int, count: int, kept: list[int]) -> None:
        """Forgets what a failed attempt captured for samples ``offset .. offset+count``.

        Clears those samples' pattern bits and drops raw outputs kept after ``kept`` (from
        :meth:`kept_lengths`), so the samples can be captured again, e.g. in smaller pieces.
        """
        for pattern in self.patterns:
            clear_bits(pattern.keys, offset, count)
            pattern._unique = None
        for call, outputs in enumerate(self.outputs):
            del outputs[kept[call] if call < len(kept) else 0 :]

    def _hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() == 0:
            return
        call = self._call
        self._call += 1
        bits = memory_order_bits(output.detach())
        if call == len(self.patterns):
            words = (self.num_samples + WORD_BITS - 1) // WORD_BITS
            keys = torch.zeros(bits.shape[1], words, dtype=torch.int64, device=bits.device)
            self.patterns.append(
                ActivationPattern(self._names[id(module)], call, keys, self.num_samples)
            )
            self.outputs.append([])
            self.output_grads.append([])
        pattern = self.patterns[call]
        if pattern.keys.shape[0] != bits.shape[1]:
            raise RuntimeError(
                f"activation {pattern.name!r} changed size between minibatches "
                f"({pattern.keys.shape[0]} vs {bits.shape[1]} neurons); the forward is not deterministic"
            )
        pack_bits(bits, pattern.keys, self._offset)
        if self.keep_outputs:
            # An in-place activation's output may be overwritten by later in-place ops: keep a copy.
            kept = output.detach()
            self.outputs[call].append(kept.clone() if getattr(module, "inplace", False) else kept)
        if self.keep_output_grads and output.requires_grad:
            grads = self.output_grads[call]
            flat = output.detach().reshape(output.shape[0], -1)
            output.register_hook(
                lambda g, grads=grads, out=flat: (
                    grads.append((g.detach(), out)) if self.grads_active else None
                )
            )

    @contextmanager
    def attached(self) -> Iterator[ActivationCapture]:
        """Registers the hooks for the duration of the block and removes every one, even on error."""
        handles = []
        try:
            for name, module in self.modules():
                self._names[id(module)] = name
                handles.append(module.register_forward_hook(self._hook))
            yield self
        finally:
            for h in handles:
                h.remove()


@dataclass
class LayerOutputCapture:
    """Streams, per Conv/Linear layer and output channel, Σ_n (Σ_positions a · ∂L/∂a)² (fisher's terms).

    ``a`` is the layer's output. The channel is dim 1 of a convolution's output and the last dim of a
    linear layer's (tokens of a ViT are positions). ``scale`` rescales each minibatch's gradient to the
    gradient of the whole batch's mean loss (``n_k / N``), so the terms equal those of one full-batch pass.
    """

    layers: list[tuple[str, nn.Module]]
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    scale: float = 1.0
    active: bool = True

    def _hook(self, name: str, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or not output.requires_grad or output.dim() < 2:
            return
        act = output.detach()
        channel_last = isinstance(module, nn.Linear)

        def on_grad(grad: torch.Tensor) -> None:
            if not self.active:
                return
            prod = act * grad.detach()
            if channel_last:
                g_nk = prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(1)
            else:
                g_nk = prod.reshape(prod.shape[0], prod.shape[1], -1).sum(2)
            term = (g_nk.double() * self.scale).pow(2).sum(0)
            self.sums[name] = self.sums[name] + term if name in self.sums else term

        output.register_hook(on_grad)

    @contextmanager
    def attached(self) -> Iterator[LayerOutputCapture]:
        """Registers the hooks for the duration of the block and removes every one, even on error."""
        handles = []
        try:
            for name, module in self.layers:
                handles.append(
                    module.register_forward_hook(
                        lambda m, a, o, name=name: self._hook(name, m, a, o)
                    )
                )
            yield self
        finally:
            for h in handles:
                h.remove()
