"""Packed activation patterns: neuron ``n``'s binarised outputs over the ``S`` samples of the batch are
the bits of ``ceil(S / 64)`` int64 words, packed as they stream out of the hooks, so Ψ (distinct
patterns) and NWOT's Hamming kernel never need an ``S × all-neurons`` matrix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "WORD_BITS",
    "ActivationPattern",
    "clear_bits",
    "memory_order_bits",
    "pack_bits",
    "unpack_bits",
]

WORD_BITS = 64
_LITTLE_ENDIAN = sys.byteorder == "little"


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
