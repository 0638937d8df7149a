"""Input-Jacobian proxies: Jacobian covariance (jacov) and EPE-NAS.

Both read ``J``, the gradient of the summed network output w.r.t. each input image (one row per sample,
``(S, C·H·W)``), which the engine takes during its shared passes (``Needs.INPUT_GRADS``). A network whose
output does not depend on its input (e.g. an NB201 cell with every path ``none``) has ``J = 0``: its
correlations are undefined and both proxies return −inf, so it ranks lowest (never NaN).
"""

from __future__ import annotations

import math

import torch

from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy

__all__ = ["epe_nas", "jacobian_rows", "jacov"]

#: The small constant both papers add before taking logs.
EPSILON = 1e-5


def jacobian_rows(ctx: PassResults) -> torch.Tensor:
    """Returns the input Jacobian as an ``(S, C·H·W)`` float64 matrix."""
    if ctx.input_grads is None:  # pragma: no cover - the plan always takes them when needed
        raise RuntimeError("input gradients were not taken")
    return ctx.input_grads.reshape(ctx.num_samples, -1).double()


@register_proxy("jacov", direction="max", needs=Needs.INPUT_GRADS, aliases=("jacob_cov",))
def jacov(ctx: PassResults) -> float:
    """Jacobian covariance: −Σ_i [log(λ_i + k) + 1/(λ_i + k)], λ the eigenvalues of corr(J), k = 1e-5.

    Mellor et al., "Neural Architecture Search without Training" (arXiv v1, 2020); as evaluated by
    Abdelfattah et al., ICLR 2021. ``corr(J)`` is the ``S × S`` Pearson correlation between the samples'
    input Jacobians. Higher (less correlated Jacobians) is better.
    """
    corr = torch.corrcoef(jacobian_rows(ctx))
    if not torch.isfinite(corr).all():
        return -math.inf
    eig = torch.linalg.eigvalsh(corr)
    value = -(torch.log(eig + EPSILON) + 1.0 / (eig + EPSILON)).sum()
    return float(value) if torch.isfinite(value) else -math.inf


@register_proxy("epe_nas", direction="max", needs=Needs.INPUT_GRADS, aliases=("epe-nas",))
def epe_nas(ctx: PassResults) -> float:
    """EPE-NAS: per-class Jacobian correlation, s_c = Σ_{i,j} log(|corr(J_c)|_{ij} + k), k = 1e-5.

    Lopes, Alirezazadeh & Alexandre, "EPE-NAS: Efficient Performance Estimation Without Training for
    Neural Architecture Search", ICANN 2021. ``J_c`` holds the Jacobians of the samples labelled ``c``.
    With at most 100 classes the score is Σ_c |s_c|; with more, (1/C') Σ_c Σ_c' |s_c − s_c'| over the C'
    classes present, s_c divided by the class's sample count. A class with one sample has s_c = log(1 + k). Higher is better.
    """
    rows = jacobian_rows(ctx)
    if not torch.isfinite(rows).all() or not rows.abs().sum() > 0:
        return -math.inf
    num_classes = ctx.num_classes or (ctx.outputs.shape[1] if ctx.outputs is not None else 0)
    per_class = []
    for c in torch.unique(ctx.targets).tolist():
        members = rows[ctx.targets == c]
        if members.shape[0] == 1:
            per_class.append(math.log(1.0 + EPSILON))
            continue
        corr = torch.corrcoef(members)
        if not torch.isfinite(corr).all():
            return -math.inf
        value = float(torch.log(corr.abs() + EPSILON).sum())
        per_class.append(value / members.shape[0] if num_classes > 100 else value)
    scores = torch.tensor(per_class, dtype=torch.float64)
    if num_classes <= 100:
        return float(scores.abs().sum())
    return float((scores[:, None] - scores[None, :]).abs().sum() / len(per_class))
