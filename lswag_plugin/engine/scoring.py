"""``score_model``: one model, one plan, one batch already on the device → :class:`Scores`."""

from __future__ import annotations

import math
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from lswag_plugin.engine.checks import check_batch
from lswag_plugin.engine.clone import scoring_model
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.passes import run_passes, split_sizes
from lswag_plugin.engine.plan import Plan
from lswag_plugin.engine.registry import Needs, ProxySpec
from lswag_plugin.engine.rng import seeded
from lswag_plugin.engine.scores import Scores
from lswag_plugin.errors import NonFiniteOutputWarning

__all__ = ["score_model"]


def _cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.float(), target)


def _compute(spec: ProxySpec, ctx: PassResults, finite: bool) -> float:
    if not finite and spec.needs - Needs.SPECIAL_PASS:
        return math.nan
    return float(spec.fn(ctx))


def score_model(
    model: nn.Module,
    plan: Plan,
    config: ScoringConfig,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    device: torch.device,
    *,
    owned: bool = False,
    stacklevel: int = 2,
) -> Scores:
    """Returns the scores of ``model`` under ``plan`` on a batch already on ``device``.

    With ``owned=False`` (a caller's model) the passes run on a private copy; with ``owned=True`` the
    caller hands the model over (one it built for this score and will not use again): it is scored in
    place, without a copy. Each proxy is computed once: the proxies a combined proxy requires first,
    then the requested ones in order; a combined proxy reads them from ``ctx.values``.
    """
    started = time.perf_counter()
    check_batch(inputs, targets, plan.minibatches)
    # A special pass (synflow) starts from the untouched model: the shared passes change a model
    # scored in place (batch-norm running statistics), so an owned model is copied after all.
    owned = owned and not (plan.needs & Needs.SPECIAL_PASS)
    with seeded(config.seed, device):
        work, index = scoring_model(model, device, owned=owned)
        ctx = PassResults(
            model=work,
            inputs=inputs,
            targets=targets,
            minibatch_sizes=split_sizes(len(inputs), plan.minibatches),
            layer_band=config.band,
            loss_fn=config.loss_fn or _cross_entropy,
            custom_loss=config.loss_fn is not None,
            device=device,
            seed=config.seed,
            num_classes=config.num_classes,
            source_model=model,
            index=index,
            options={k: dict(v) for k, v in config.options.items()},
            autocast_dtype=config.autocast_dtype,
        )
        finite = run_passes(plan, ctx)
        proxy_seconds: dict[str, float] = {}
        # Required proxies first, then the requested ones, combined proxies (those that read other
        # proxies' values) last: every value a combined proxy reads exists when it runs.
        order = [*plan.required, *(s for s in plan.specs if s.requires is None)]
        order += [s for s in plan.specs if s.requires is not None]
        for spec in order:
            t0 = time.perf_counter()
            ctx.values[spec.name] = _compute(spec, ctx, finite)
            proxy_seconds[spec.name] = time.perf_counter() - t0
    if not finite:
        warnings.warn(
            f"{type(model).__name__} produced NaN/inf outputs or loss on this batch; its scores are NaN",
            NonFiniteOutputWarning,
            stacklevel=stacklevel + 1,
        )
    components = {s.name: ctx.values[s.name] for s in plan.required}
    components.update(ctx.components)
    return Scores(
        values={s.name: ctx.values[s.name] for s in plan.specs},
        directions={s.name: s.direction for s in plan.specs},
        seconds=time.perf_counter() - started,
        passes=plan.describe(),
        components=components,
        meta={
            "batch_size": len(inputs),
            "minibatches": plan.minibatches,
            "device": str(device),
            "seed": config.seed,
            "layer_band": [config.band.low, config.band.high],
            "proxy_seconds": proxy_seconds,
            "oom_backoffs": ctx.backoffs,
            "precision": config.precision or "float32",
        },
    )
