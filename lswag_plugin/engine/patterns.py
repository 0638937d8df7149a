"""Packed activation patterns: neuron ``n``'s binarised outputs over the ``S`` samples of the batch are
the bits of ``ceil(S / 64)`` int64 words, packed as they stream out of the hooks, so Ψ (distinct
patterns) and NWOT's Hamming kernel never need an ``S × all-neurons`` matrix.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "WORD_BITS",
    "ActivationPattern",
    "PatternPacker",
    "clear_bits",
    "distinct_counts",
    "memory_order_bits",
    "pack_bits",
    "unpack_bits",
]

WORD_BITS = 64
_LITTLE_ENDIAN = sys.byteorder == "little"


def pack_bits(bits: torch.Tensor, keys: torch.Tensor, offset: int) -> None:
    """ORs the ``(n, N)`` boolean ``bits`` of samples ``offset .. offset+n`` into ``keys`` ``(N, W)``.

    Sample ``s`` becomes bit ``s % 64`` of word ``s // 64`` (bit 63 is the int64 sign bit), which in
    the keys' little-endian bytes is bit ``s % 8`` of byte ``s // 8``: the samples are packed eight to
    a byte (behind ``offset % 8`` zero bits) and ORed straight into those bytes, whatever the offset.
    No int64 temporaries of the activation's size. (A big-endian machine assembles words instead.)
    """
    n = bits.shape[0]
    if _LITTLE_ENDIAN and keys.is_contiguous():
        first = offset // 8
        packed = _pack_bytes(bits, lead=offset % 8)
        keys.view(torch.uint8)[:, first : first + packed.shape[0]] |= packed.T
        return
    start = 0
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


def _pack_bytes(chunk: torch.Tensor, lead: int = 0) -> torch.Tensor:
    """Returns ``(ceil((lead + count) / 8), N)`` uint8: bit ``j`` of byte ``i`` is ``chunk[8 i + j - lead]``
    (0 where that is outside the chunk).

    Two kernels whatever the count (a multiply by the bit weights, then a uint8 sum over each group of
    eight samples: the bits are distinct, so the sum is their OR), not eight shifts and ORs.
    """
    count, neurons = chunk.shape
    rows = -(-(lead + count) // 8) * 8
    u8 = chunk.contiguous().view(torch.uint8)
    if rows != count:
        padded = u8.new_zeros(rows, neurons)
        padded[lead : lead + count] = u8
        u8 = padded
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
    strides = output.stride()
    if any(strides[i] < strides[i + 1] for i in range(1, len(strides) - 1)):
        # Not already in memory order (channels-last, ...): the permutation a stable sort gives.
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
    _distinct: int | None = field(default=None, repr=False, compare=False)

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


#: Neurons sorted together at most by :func:`distinct_counts` (bounds its temporaries).
_COUNT_BATCH = 1 << 22


def distinct_counts(patterns: Sequence[ActivationPattern]) -> list[int]:
    """Returns each layer's number of distinct patterns (computed once per layer, then cached).

    Layers of one-word patterns (up to 64 samples) are counted together: their keys are sorted by
    (layer, key) in two stable sorts, and a new pattern starts wherever the pair changes, which is a
    few kernels for all the layers instead of a ``torch.unique`` per layer. Larger layers, and
    patterns of several words, are counted one by one. The counts are those of ``unique_keys``.

    Example:
        >>> import torch
        >>> a = ActivationPattern("a", 0, torch.tensor([[3], [3], [5]]), 4)
        >>> b = ActivationPattern("b", 1, torch.tensor([[5], [5]]), 4)
        >>> distinct_counts([a, b])
        [2, 1]
    """
    batch: list[ActivationPattern] = []
    size = 0
    for p in patterns:
        if p._distinct is not None:
            continue
        if p.keys.shape[1] != 1 or p.keys.shape[0] >= _COUNT_BATCH:
            p._distinct = int(p.unique_keys().shape[0])
            continue
        if size + p.keys.shape[0] > _COUNT_BATCH:
            _count_together(batch)
            batch, size = [], 0
        batch.append(p)
        size += p.keys.shape[0]
    _count_together(batch)
    return [int(p._distinct) for p in patterns]  # type: ignore[arg-type]


def _count_together(batch: list[ActivationPattern]) -> None:
    if not batch:
        return
    keys = torch.cat([p.keys[:, 0] for p in batch]) if len(batch) > 1 else batch[0].keys[:, 0]
    sizes = torch.tensor([p.keys.shape[0] for p in batch], device=keys.device)
    layers = torch.repeat_interleave(torch.arange(len(batch), device=keys.device), sizes)
    keys, order = torch.sort(keys, stable=True)
    layers, order = torch.sort(layers[order], stable=True)
    keys = keys[order]
    new = torch.ones_like(keys, dtype=torch.bool)
    new[1:] = (keys[1:] != keys[:-1]) | (layers[1:] != layers[:-1])
    for p, count in zip(batch, torch.bincount(layers[new], minlength=len(batch)).tolist()):
        p._distinct = count


class PatternPacker:
    """Packs the patterns of every activation call of a forward, many small layers at once.

    Packing layer by layer costs a handful of kernel launches per activation call, which dominates a
    small network's score. The packer keeps the ``(n, neurons)`` bits of small calls until they reach
    ``batch_bytes`` (or :meth:`flush` at the end of a forward), then packs them in one go into the keys
    of consecutive layers, which share one tensor (a *segment*: layers are views of its rows). A call
    whose bits alone reach ``direct_bytes`` is packed at once into keys of its own, so memory stays
    bounded by ``batch_bytes`` whatever the network. The bits are the same as :func:`pack_bits` gives.

    Example:
        >>> import torch
        >>> packer = PatternPacker(num_samples=4)
        >>> packer.add(0, "relu", torch.tensor([[True, False], [True, True]]), offset=0)
        >>> packer.add(0, "relu", torch.tensor([[False, False], [True, False]]), offset=2)
        >>> packer.flush()
        >>> packer.patterns[0].keys[:, 0].tolist()  # neuron 0: samples 0, 1, 3; neuron 1: sample 1
        [11, 2]
    """

    def __init__(
        self, num_samples: int, *, batch_bytes: int = 1 << 22, direct_bytes: int = 1 << 20
    ) -> None:
        self.num_samples = num_samples
        self.words = (num_samples + WORD_BITS - 1) // WORD_BITS
        self.batch_bytes = batch_bytes
        self.direct_bytes = direct_bytes
        self.patterns: list[ActivationPattern] = []
        #: Per layer (call): its segment and its first row there.
        self._rows: list[tuple[torch.Tensor, int]] = []
        self._pending: list[tuple[int, str, torch.Tensor]] = []
        self._pending_bytes = 0
        self._offset = 0

    def add(self, call: int, name: str, bits: torch.Tensor, offset: int) -> None:
        """Adds the ``(n, neurons)`` bits of activation call ``call`` for samples ``offset .. offset+n``.

        Calls come in order within a forward (0, 1, ...); ``offset`` is the same for every call of
        one forward.

        Raises:
            RuntimeError: The call has another number of neurons than in an earlier forward.
        """
        if call < len(self.patterns) and self.patterns[call].keys.shape[0] != bits.shape[1]:
            raise RuntimeError(
                f"activation {self.patterns[call].name!r} changed size between minibatches "
                f"({self.patterns[call].keys.shape[0]} vs {bits.shape[1]} neurons); the forward "
                "is not deterministic"
            )
        if self._pending and self._offset != offset:
            self.flush()
        self._offset = offset
        size = bits.numel()
        if size >= self.direct_bytes:
            self.flush()
            self._pack([(call, name, bits)], offset)
            return
        self._pending.append((call, name, bits))
        self._pending_bytes += size
        if self._pending_bytes >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Packs the calls kept so far."""
        if self._pending:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
            self._pack(pending, self._offset)

    def discard(self) -> None:
        """Forgets the calls kept so far (a failed attempt)."""
        self._pending, self._pending_bytes = [], 0

    def _pack(self, calls: list[tuple[int, str, torch.Tensor]], offset: int) -> None:
        first_call = calls[0][0]
        if first_call >= len(self.patterns):  # new layers (the first forward): one segment
            rows = sum(b.shape[1] for _, _, b in calls)
            device = calls[0][2].device
            segment = torch.zeros(rows, self.words, dtype=torch.int64, device=device)
            row = 0
            for call, name, bits in calls:
                if call != len(self.patterns):
                    raise RuntimeError(f"activation calls out of order ({call} after a new layer)")
                n = bits.shape[1]
                self.patterns.append(
                    ActivationPattern(name, call, segment[row : row + n], self.num_samples)
                )
                self._rows.append((segment, row))
                row += n
        bits = calls[0][2] if len(calls) == 1 else torch.cat([b for _, _, b in calls], 1)
        if not _LITTLE_ENDIAN:
            column = 0
            for call, _, b in calls:
                pack_bits(bits[:, column : column + b.shape[1]], self.patterns[call].keys, offset)
                column += b.shape[1]
            return
        first = offset // 8
        packed = _pack_bytes(bits, lead=offset % 8).T  # (neurons, bytes)
        width = packed.shape[1]
        column = 0
        # Consecutive calls in one segment are one slice of its rows: one OR per segment.
        for _, calls_in_segment in itertools.groupby(
            (c for c, _, _ in calls), key=lambda c: id(self._rows[c][0])
        ):
            group = list(calls_in_segment)
            keys, row = self._rows[group[0]]
            count = sum(self.patterns[c].keys.shape[0] for c in group)
            target = keys.view(torch.uint8)[row : row + count, first : first + width]
            target |= packed[column : column + count]
            column += count
