"""NASWOT (Mellor et al., ICML 2021): log-determinant of the binary-code Hamming kernel."""

from __future__ import annotations

import math

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.patterns import unpack_bits
from lswag_plugin.engine.registry import Needs, register_proxy


def hamming_kernel(ctx: PassResults) -> torch.Tensor:
    """Returns K_H, ``(S, S)``: K[i, j] = number of ReLU units where samples i and j agree (on or off)."""
    s = ctx.num_samples
    kernel = torch.zeros(s, s, dtype=torch.float64, device=ctx.inputs.device)
    for p in ctx.patterns:
        bits = unpack_bits(p.keys, s)  # (S, N) 0/1
        on = bits.sum(1, dtype=torch.float64)
        both_on = (bits @ bits.T).double()
        # agree = both on + both off = N - on_i - on_j + 2 * both_on
        kernel += p.num_neurons - on[:, None] - on[None, :] + 2 * both_on
    return kernel


@register_proxy(
    "nwot", direction="max", needs=Needs.ACTIVATION_PATTERNS, aliases=("naswot", "jacob_cov_relu")
)
def nwot(ctx: PassResults) -> float:
    """NASWOT: log |det K_H|, K_H = Σ_l c_l c_lᵀ + (1 − c_l)(1 − c_l)ᵀ over binary ReLU codes c_l.

    Mellor et al., "Neural Architecture Search without Training", ICML 2021. A singular kernel (e.g. a
    network whose output is disconnected, so all codes agree) gives −inf: it ranks lowest, never NaN.
    """
    sign, logdet = torch.linalg.slogdet(hamming_kernel(ctx))
    if float(sign) <= 0:
        return -math.inf
    return float(logdet)
