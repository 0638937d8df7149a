"""``score``: one model, one batch, every requested proxy in shared passes on a private copy."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lswag_plugin.engine.checks import check_batch
from lswag_plugin.engine.clone import adopt, private_copy
from lswag_plugin.engine.config import LossFn, ScoringConfig
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.passes import run_shared_passes, split_sizes
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.registry import Needs, ProxySpec
from lswag_plugin.engine.rng import seeded
from lswag_plugin.engine.scores import Scores
from lswag_plugin.errors import NonFiniteOutputWarning

__all__ = ["score", "score_model"]

_UNSET: Any = object()


def _cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.float(), target)


def _compute(spec: ProxySpec, ctx: PassResults, finite: bool) -> float:
    if not finite and spec.needs.needs_forward:
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

    The shared core of :func:`score` and :class:`~lswag_plugin.engine.session.Scorer`. With
    ``owned=False`` (a caller's model) the passes run on a private copy; with ``owned=True`` the caller
    hands the model over (one it built for this score and will not use again): it is scored in place,
    without a copy. Each proxy is computed once: the proxies a combined proxy requires first, then the
    requested ones in order; a combined proxy reads them from ``ctx.values``.
    """
    started = time.perf_counter()
    check_batch(inputs, targets, plan.minibatches)
    loss = config.loss_fn or _cross_entropy
    # A special pass (synflow) starts from the untouched model: the shared passes change a model
    # scored in place (batch-norm running statistics), so an owned model is copied after all.
    owned = owned and not (plan.needs & Needs.SPECIAL_PASS)
    with seeded(config.seed, device):
        work = adopt(model, device) if owned else private_copy(model, device)
        ctx = PassResults(
            model=work,
            inputs=inputs,
            targets=targets,
            minibatch_sizes=split_sizes(len(inputs), plan.minibatches),
            layer_band=config.band,
            loss_fn=loss,
            device=device,
            seed=config.seed,
            num_classes=config.num_classes,
            source_model=model,
            options={k: dict(v) for k, v in config.options.items()},
            autocast_dtype=config.autocast_dtype,
        )
        finite = True
        if plan.forward:
            finite = run_shared_passes(plan, ctx, loss, config.loss_fn is not None)
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


def score(
    model: nn.Module,
    data: Any = None,
    proxies: str | Iterable[str] = ("lswag",),
    *,
    config: ScoringConfig | None = None,
    loss_fn: LossFn | None = _UNSET,
    device: str | torch.device | None = _UNSET,
    seed: int = _UNSET,
    batch_size: int | None = _UNSET,
    minibatches: int = _UNSET,
    resolution: int | None = _UNSET,
    num_classes: int | None = _UNSET,
    layer_band: Any = _UNSET,
    options: Mapping[str, Mapping[str, Any]] | None = _UNSET,
    precision: str | None = _UNSET,
    threads: int | None = _UNSET,
) -> Scores:
    """Returns the zero-cost scores of ``model`` on one batch, computing all proxies in shared passes.

    The caller's model is never changed: the engine scores a private copy (weights, train/eval mode,
    ``requires_grad``, ``.grad`` and hooks of ``model`` are as before, even when an error is raised).

    The settings are those of :class:`~lswag_plugin.engine.ScoringConfig`: pass one as ``config``, or
    pass its fields as keyword arguments (they override the config's). To score many models on one
    batch, a :class:`~lswag_plugin.engine.Scorer` loads and places the batch once.

    Args:
        model: Any ``nn.Module`` classifier (timm, torchvision, a search-space network).
        data: ``(x, y)`` tensors, a DataLoader, a ``.npz`` path, an image folder, or None for the default
            photographs shipped by scikit-image (see :func:`lswag_plugin.data.load_batch`).
        proxies: Names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        config: The scoring settings (default ``ScoringConfig()``).
        loss_fn: ``loss_fn(output, labels)``; default cross-entropy on the logits.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``/None (CUDA when present; the default).
        seed: Seeds the batch subset and every random draw of the passes (dropout, special inputs).
        batch_size: Samples in the batch (64 as in the paper); None keeps the whole source.
        minibatches: K, the minibatches the batch is split into (Λ/ZiCo take statistics across them).
        resolution: Resize images to this size first.
        num_classes: If given, the model's output width is checked against it.
        layer_band: The band [l̂, L̂] as percentile bins (``(low, high)`` or ``"low:high"``); default all.
        options: Per-proxy options, e.g. ``{"swap_reg": {"mu": 500, "sigma": 1e5}}``.
        precision: ``"float32"``/None (default), or ``"bfloat16"``/``"float16"``: the shared forward
            passes (and grasp's replay) run under ``torch.autocast`` on the scoring device; gradients
            still reach float32 weights, synflow stays float64. Changes scores in the last digits of
            the activations: measure the ranking effect (``benchmarks/precision_rho.py``) first.
        threads: torch CPU threads during this call (restored afterwards).

    Raises:
        UnknownProxy: A proxy name is not registered.
        BadBatch: Too few samples for K minibatches, labels out of range, output shape mismatch.
        ProxyNotApplicable: The model lacks what a proxy reads (e.g. activation modules).

    Returns:
        A :class:`Scores`. If the model's output is NaN/inf every score is NaN and a
        :class:`~lswag_plugin.errors.NonFiniteOutputWarning` is issued (a host study can go on).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> import lswag_plugin
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))
        >>> x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
        >>> s = lswag_plugin.score(net, (x, y), "lswag,nwot", device="cpu")
        >>> sorted(s), s["lswag"] > 0
        (['lswag', 'nwot'], True)
    """
    given = {
        "loss_fn": loss_fn,
        "device": device,
        "seed": seed,
        "batch_size": batch_size,
        "minibatches": minibatches,
        "resolution": resolution,
        "num_classes": num_classes,
        "layer_band": layer_band,
        "options": options,
        "precision": precision,
        "threads": threads,
    }
    changes = {k: v for k, v in given.items() if v is not _UNSET}
    if data is not None:
        changes["data"] = data
    if isinstance(changes.get("device"), torch.device):
        changes["device"] = str(changes["device"])
    config = (
        (config or ScoringConfig()).replace(**changes) if changes else (config or ScoringConfig())
    )
    plan = make_plan(proxies, minibatches=config.minibatches, options=config.options)
    dev = config.torch_device()
    x, y = config.batch()
    check_batch(x, y, plan.minibatches)  # before conversion: integer images are an error
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None and torch.is_floating_point(param) else torch.float32
    x, y = x.to(dev, dtype=dtype), y.to(dev, dtype=torch.int64)
    previous_threads = torch.get_num_threads()
    if config.threads and config.threads != previous_threads:
        torch.set_num_threads(config.threads)
    try:
        return score_model(model, plan, config, x, y, dev, stacklevel=2)
    finally:
        if torch.get_num_threads() != previous_threads:
            torch.set_num_threads(previous_threads)
