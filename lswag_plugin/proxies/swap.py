"""SWAP (Peng et al., ICLR 2024): distinct sample-wise activation patterns, and its size regulariser."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.patterns import ActivationPattern, distinct_counts
from lswag_plugin.engine.registry import Needs, register_proxy

__all__ = ["PATTERN_COUNTS", "count_patterns"]

#: How Ψ counts patterns over several layers:
#: ``"per_layer"``: Σ_l |distinct patterns of layer l| (a pattern is tagged by its layer; the default);
#: ``"union"``: |∪_l patterns of layer l| (identical patterns in different layers count once).
PATTERN_COUNTS = ("per_layer", "union")
DEFAULT_PATTERN_COUNT = "per_layer"


def count_patterns(
    patterns: Sequence[ActivationPattern], mode: str = DEFAULT_PATTERN_COUNT
) -> float:
    """Returns Ψ, the number of distinct binary activation patterns over ``patterns``.

    A pattern of neuron ``n`` is its binarised output (``> 0``) over the batch's samples, a vector in
    ``{0,1}^S``; each layer's patterns come packed as int64 words (see ``engine.patterns``).

    Args:
        patterns: The layers to count over.
        mode: ``"per_layer"`` or ``"union"`` (see :data:`PATTERN_COUNTS`).
    """
    if mode not in PATTERN_COUNTS:
        raise ValueError(f"pattern count must be one of {PATTERN_COUNTS}, got {mode!r}")
    if not patterns:
        return 0.0
    if mode == "per_layer":
        return float(sum(distinct_counts(patterns)))
    merged = torch.cat([p.unique_keys() for p in patterns], 0)
    if merged.shape[1] == 1:  # one word per pattern: 1-D unique is ~100x faster than unique(dim=0)
        return float(torch.unique(merged[:, 0]).numel())
    return float(torch.unique(merged, dim=0).shape[0])


@register_proxy("swap", direction="max", needs=Needs.ACTIVATION_PATTERNS)
def swap(ctx: PassResults) -> float:
    """SWAP: Ψ = number of distinct sample-wise activation patterns over all activation layers.

    Peng et al., "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS", ICLR 2024. Option
    ``pattern_count`` (``"per_layer"`` default, or ``"union"``), shared with ``lswag``.
    """
    mode = ctx.option(
        "swap", "pattern_count", ctx.option("lswag", "pattern_count", DEFAULT_PATTERN_COUNT)
    )
    return count_patterns(ctx.patterns, mode)


@register_proxy("swap_reg", direction="max", needs=Needs.ACTIVATION_PATTERNS)
def swap_reg(ctx: PassResults) -> float:
    """Regularised SWAP: Ψ · exp(−(P − μ)² / σ), P = #params / 1e3.

    Options ``mu`` and ``sigma`` (in thousands of parameters) set the target model size; the defaults
    (μ = 1000, σ = 1e6, i.e. about 1 M parameters) suit NAS-Bench-201-sized CNNs.
    """
    mu = float(ctx.option("swap_reg", "mu", 1000.0))
    sigma = float(ctx.option("swap_reg", "sigma", 1e6))
    if sigma <= 0:
        raise ValueError(f"swap_reg sigma must be > 0, got {sigma}")
    p = sum(t.numel() for t in ctx.parameters) / 1e3
    return swap(ctx) * math.exp(-((p - mu) ** 2) / sigma)
