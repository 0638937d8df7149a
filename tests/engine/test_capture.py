"""Packed activation patterns: bit s of a neuron's key is sample s's (output > 0)."""

import pytest
import torch

from lswag_plugin.engine.patterns import pack_bits, unpack_bits


def _reference(bits: torch.Tensor) -> torch.Tensor:
    s, n = bits.shape
    keys = torch.zeros(n, (s + 63) // 64, dtype=torch.int64)
    for i in range(s):
        word, bit = divmod(i, 64)
        keys[:, word] |= bits[i].to(torch.int64) << bit
    return keys


@pytest.mark.parametrize(
    ("sizes", "neurons"), [([32, 32], 100), ([21, 49], 37), ([8, 8], 5), ([65, 65], 9), ([2, 3], 4)]
)
def test_pack_matches_a_bit_by_bit_reference_and_unpacks(sizes, neurons):
    bits = torch.rand(sum(sizes), neurons, generator=torch.Generator().manual_seed(0)) > 0.5
    keys = torch.zeros(neurons, (sum(sizes) + 63) // 64, dtype=torch.int64)
    offset = 0
    for n in sizes:  # minibatches stream in one after the other
        pack_bits(bits[offset : offset + n], keys, offset)
        offset += n
    assert torch.equal(keys, _reference(bits))
    assert torch.equal(unpack_bits(keys, sum(sizes)), bits.float())
