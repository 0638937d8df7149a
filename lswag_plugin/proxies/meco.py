"""MeCo: minimum eigenvalue of the feature correlation, from one sample."""

from __future__ import annotations

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import ProxyNotApplicable

__all__ = ["meco", "min_correlation_eigenvalue"]


def min_correlation_eigenvalue(features: torch.Tensor) -> float:
    """Returns λ_min of the Pearson correlation between the rows of ``features`` ``(R, M)``.

    NaN entries (a constant row) are set to 0, as MeCo's code does. With more rows than columns
    (R > M) the matrix has rank ≤ M < R, so λ_min is exactly 0 and is returned as such (no round-off).
    """
    rows, cols = features.shape
    if rows < 2 or cols < 2 or rows > cols:
        return 0.0
    corr = torch.corrcoef(features.double())
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


@register_proxy("meco", direction="max", needs=Needs.ACTIVATIONS)
def meco(ctx: PassResults) -> float:
    """MeCo: Σ_l λ_min(P(f_l(x))) over the activation layers, for the batch's first sample x.

    Jiang, Wang & Bie, "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue
    of Correlation", NeurIPS 2023. f_l(x) is layer l's output for one sample, read as a matrix whose rows
    are its first axis (channels of a C×H×W map, tokens of a T×C ViT activation) and whose columns are the
    rest; P is the Pearson correlation between rows. Layers are the engine's activation-module calls (the
    paper hooks every module). Layers with one column, or more rows than columns, add 0 (exact λ_min).
    Higher is better.
    """
    if not ctx.activations:
        raise ProxyNotApplicable(
            "meco needs activation modules (ReLU/GELU... as nn.Module) but the model has none"
        )
    total = 0.0
    usable = 0
    for per_minibatch in ctx.activations:
        out = per_minibatch[0][0]  # first sample of the first minibatch
        if out.dim() < 2:
            continue
        features = out.reshape(out.shape[0], -1)
        if features.shape[0] <= features.shape[1]:
            usable += 1
        total += min_correlation_eigenvalue(features)
    if usable == 0:
        raise ProxyNotApplicable(
            "meco needs activation maps with at least as many positions as channels (e.g. C×H×W with "
            "H·W ≥ C); this model has none at this resolution: use a larger input"
        )
    return total
