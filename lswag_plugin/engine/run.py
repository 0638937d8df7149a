"""Executes the plan: one private copy of the model, K minibatch passes shared by every proxy."""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lswag_plugin.data import load_batch
from lswag_plugin.engine.band import LayerBand
from lswag_plugin.engine.capture import ActivationCapture, LayerOutputCapture, is_weight_layer
from lswag_plugin.engine.clone import clone_module, is_plain_module_tree
from lswag_plugin.engine.context import PassResults, disable_fused_attention, drop_module_hooks
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.rng import seeded
from lswag_plugin.engine.scores import Scores
from lswag_plugin.errors import BadBatch, BadDevice, LswagError, ProxyNotApplicable

__all__ = ["PRECISIONS", "NonFiniteOutputWarning", "autocast_dtype_of", "resolve_device", "score"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NonFiniteOutputWarning(UserWarning):
    """The model produced NaN or inf: its scores are NaN."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Returns the scoring device: ``None``/``"auto"`` picks CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadDevice(
            f"device {str(dev)!r} was requested but CUDA is not available; use device='cpu' or 'auto'"
        )
    return dev


def logits_of(output: Any) -> torch.Tensor:
    """Returns the logits tensor in a model's output (a tensor, a tuple's first, ``.logits`` or ``["logits"]``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if hasattr(output, "logits") and isinstance(output.logits, torch.Tensor):
        return output.logits
    if isinstance(output, list | tuple) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise BadBatch(
        f"cannot find logits in the model's output of type {type(output).__name__}; "
        "return a tensor (or pass loss_fn)"
    )


PRECISIONS: dict[str, torch.dtype | None] = {
    "float32": None,
    "fp32": None,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def autocast_dtype_of(precision: str | None) -> torch.dtype | None:
    """Returns the autocast dtype of ``precision`` (None: full precision).

    Raises:
        ValueError: An unknown precision name.
    """
    if precision is None:
        return None
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)} (or None), got {precision!r}"
        )
    return PRECISIONS[precision]


def _check_batch(x: torch.Tensor, y: torch.Tensor, minibatches: int) -> None:
    if x.dim() == 0 or len(x) < minibatches:
        raise BadBatch(
            f"batch of {len(x) if x.dim() else 0} sample(s) cannot be split into {minibatches} minibatches; "
            f"the requested proxies need at least {minibatches} samples (statistics across minibatches)"
        )
    if not torch.is_floating_point(x):
        raise BadBatch(
            f"inputs must be floating point images, got dtype {x.dtype}; convert with x.float() / 255"
        )
    if y.dim() != 1 or torch.is_floating_point(y):
        raise BadBatch(
            f"labels must be a 1-D integer tensor, got shape {tuple(y.shape)} dtype {y.dtype}"
        )
    if (y < 0).any():
        raise BadBatch(f"labels must be >= 0, got min {int(y.min())}")


def _check_output(
    out: torch.Tensor, y: torch.Tensor, num_classes: int | None, custom_loss: bool
) -> None:
    if custom_loss:
        return
    if out.dim() != 2 or out.shape[0] != y.shape[0]:
        raise BadBatch(
            f"model output has shape {tuple(out.shape)} but the labels are {tuple(y.shape)}: expected "
            f"({y.shape[0]}, num_classes) logits (pass loss_fn for other outputs)"
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise BadBatch(f"model outputs {out.shape[1]} classes but num_classes={num_classes}")


def _check_labels(y: torch.Tensor, width: int) -> None:
    if int(y.max()) >= width:
        raise BadBatch(f"label {int(y.max())} is out of range for a model with {width} outputs")


def private_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """Returns a deep copy of ``model`` on ``device``, in train mode, every parameter trainable, no grads.

    The copy has no module hooks: the caller's hooks (shared by the deep copy) never fire while scoring.
    """
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise BadDevice(
            f"{type(model).__name__} has tensors on the meta device (no data): materialise it first, "
            "e.g. model.to_empty(device='cpu') and initialise its weights"
        )
    if is_plain_module_tree(model):
        try:
            work = clone_module(model, device)  # new modules, tensors copied straight to the device
        except RuntimeError as exc:
            raise BadDevice(f"cannot move {type(model).__name__} to {device}: {exc}") from exc
    else:
        try:
            work = copy.deepcopy(model)
        except Exception as exc:  # pragma: no cover - depends on exotic user models
            raise LswagError(
                f"cannot copy the model to score it without changing it: {exc}"
            ) from exc
        try:
            work = work.to(device)
        except RuntimeError as exc:
            raise BadDevice(f"cannot move {type(model).__name__} to {device}: {exc}") from exc
        drop_module_hooks(work)
    work.train()
    for p in work.parameters():
        p.requires_grad_(True)
        p.grad = None
    return work


def _shared_passes(plan: Plan, ctx: PassResults, loss_fn: LossFn, custom_loss: bool) -> bool:
    """Runs the K minibatch passes, filling ``ctx``; returns False if the output was not finite."""
    model = ctx.model
    capture = ActivationCapture(
        model,
        num_samples=ctx.num_samples,
        keep_outputs=plan.activations,
        keep_output_grads=plan.activation_grads,
    )
    if plan.activation_patterns and not capture.modules():
        raise ProxyNotApplicable(
            f"proxies {', '.join(plan.pattern_proxies)} need activation modules (ReLU/GELU/SiLU... as "
            f"nn.Module) but {type(model).__name__} has none: functional activations (F.relu) cannot be read"
        )
    ctx.weight_layers = [(n, m) for n, m in model.named_modules() if is_weight_layer(m)]
    if plan.weight_grads and not ctx.weight_layers:
        raise ProxyNotApplicable(
            f"proxies {', '.join(plan.grad_proxies)} need Conv/Linear weights but the model has none"
        )
    if plan.layer_output_grads and not ctx.weight_layers:
        raise ProxyNotApplicable(
            "proxies needing layer-output gradients (fisher) need Conv/Linear layers but the model has none"
        )
    grads: dict[str, list[torch.Tensor]] = {n: [] for n, _ in ctx.weight_layers}
    layer_outputs = LayerOutputCapture(ctx.weight_layers)
    rng_states: list[tuple[torch.Tensor, torch.Tensor | None] | None] = []
    outputs, input_grads = [], []
    finite = True
    offset = 0
    with contextlib.ExitStack() as stack:
        if plan.activation_patterns:
            stack.enter_context(capture.attached())
        if plan.layer_output_grads:
            stack.enter_context(layer_outputs.attached())
        for k, size in enumerate(ctx.minibatch_sizes):
            pieces = 1
            while True:
                kept = capture.kept_lengths()
                rng = _rng_state(ctx.device) if plan.hessian_grad_product else None
                try:
                    result = _minibatch(
                        plan,
                        ctx,
                        k,
                        offset,
                        size,
                        pieces,
                        capture,
                        layer_outputs,
                        loss_fn,
                        custom_loss,
                        grads,
                    )
                    break
                except torch.OutOfMemoryError as exc:
                    # Back off: forget the attempt, split the minibatch in more pieces (gradients
                    # accumulate, pattern bits go to the same sample offsets: the K statistics are
                    # unchanged). Proxies whose captures cannot be rolled back need the full piece.
                    model.zero_grad(set_to_none=True)
                    capture.roll_back(offset, size, kept)
                    if ctx.device.type == "cuda":
                        torch.cuda.empty_cache()
                    if pieces >= size or plan.layer_output_grads or plan.activation_grads:
                        raise BadDevice(
                            f"out of memory scoring a minibatch of {-(-size // pieces)} sample(s) on "
                            f"{ctx.device}; use a smaller batch_size or another device ({exc})"
                        ) from exc
                    pieces = min(size, pieces * 2)
                    ctx.backoffs += 1
            rng_states.append(rng)
            out_k, input_grad_k, finite_k = result
            finite = finite and finite_k
            if out_k is not None:
                outputs.append(out_k)
            if input_grad_k is not None:
                input_grads.append(input_grad_k)
            offset += size
    ctx.patterns = capture.patterns
    ctx.activations = capture.outputs
    ctx.activation_grads = capture.output_grads
    ctx.weight_grads = grads
    ctx.layer_output_saliency = layer_outputs.sums
    ctx.outputs = torch.cat(outputs) if outputs else None
    ctx.input_grads = torch.cat(input_grads) if input_grads else None
    if plan.hessian_grad_product and finite:
        after = _rng_state(ctx.device)
        ctx.hessian_grad_product = _hessian_grad_product(ctx, custom_loss, rng_states)
        _set_rng_state(ctx.device, after)  # later special passes draw what they drew before
    return finite


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Returns the CPU (and CUDA) random state, to replay a minibatch's dropout exactly."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(device: torch.device, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _split_range(size: int, pieces: int) -> list[tuple[int, int]]:
    """Returns ``(start, length)`` of ``pieces`` near-equal consecutive pieces of ``size`` samples."""
    return [(sum(_split(size, pieces)[:i]), n) for i, n in enumerate(_split(size, pieces)) if n]


def _minibatch(
    plan: Plan,
    ctx: PassResults,
    k: int,
    offset: int,
    size: int,
    pieces: int,
    capture: ActivationCapture,
    layer_outputs: Any,
    loss_fn: LossFn,
    custom_loss: bool,
    grads: dict[str, list[torch.Tensor]],
) -> tuple[torch.Tensor | None, torch.Tensor | None, bool]:
    """Runs minibatch ``k`` (in ``pieces`` pieces whose gradients accumulate); returns its outputs,
    input gradients and whether they were finite. Appends the minibatch's weight gradients to ``grads``."""
    model = ctx.model
    finite = True
    outs, input_grads = [], []
    loss_total = 0.0
    model.zero_grad(set_to_none=True)
    for start, n in _split_range(size, pieces):
        xk = ctx.inputs[offset + start : offset + start + n]
        yk = ctx.targets[offset + start : offset + start + n]
        capture.start_minibatch(offset + start)
        layer_outputs.scale = n / ctx.num_samples
        if plan.input_grads:
            xk = xk.clone().requires_grad_(True)
        with torch.set_grad_enabled(plan.backward):
            if plan.flops and k == 0 and start == 0:
                from torch.utils.flop_counter import FlopCounterMode

                with FlopCounterMode(display=False) as counter, ctx.autocast():
                    raw = model(xk)
                ctx.flops = counter.get_total_flops() / n
            else:
                with ctx.autocast():
                    raw = model(xk)
            out = logits_of(raw) if not custom_loss else raw
            if k == 0 and start == 0:
                _check_output(out, yk, ctx.num_classes, custom_loss)
            if not custom_loss:
                _check_labels(yk, out.shape[1])
            if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
                finite = False
            if plan.backward:
                if plan.input_grads:
                    # Gradient hooks are for the loss's backward only, not this one.
                    capture.grads_active = layer_outputs.active = False
                    (g,) = torch.autograd.grad(out, xk, torch.ones_like(out), retain_graph=True)
                    capture.grads_active = layer_outputs.active = True
                    input_grads.append(g.detach())
                loss = loss_fn(out, yk)
                if not torch.isfinite(loss):
                    finite = False
                loss_total += float(loss.detach()) * n / size
                # Pieces of a minibatch accumulate the gradient of its mean loss.
                (loss * (n / size) if pieces > 1 else loss).backward()
        if isinstance(out, torch.Tensor):
            outs.append(out.detach())
    if plan.backward:
        ctx.losses.append(loss_total)
        if plan.weight_grads:
            for name, m in ctx.weight_layers:
                g = m.weight.grad
                # zero_grad(set_to_none) hands the tensor over: no copy needed.
                grads[name].append(
                    g.detach() if g is not None else torch.zeros_like(m.weight, requires_grad=False)
                )
        model.zero_grad(set_to_none=True)
    out_all = torch.cat(outs) if outs else None
    return out_all, (torch.cat(input_grads) if input_grads else None), finite


def _hessian_grad_product(
    ctx: PassResults,
    custom_loss: bool,
    rng_states: list[tuple[torch.Tensor, torch.Tensor | None] | None],
) -> dict[str, torch.Tensor]:
    """Returns H g per weight layer: ∂(gᵀ ∇L)/∂θ with g = Σ_k (n_k/N) g_k and ∇L = Σ_k (n_k/N) ∇L_k.

    A pass of its own after the shared ones (which then need no ``create_graph``): each minibatch is run
    again with the random state it had (same dropout), its gradient is taken with ``create_graph`` and
    ``(n_k/N) gᵀ∇L_k`` is differentiated once more. Fused attention (SDPA) is switched off on the private
    copy first: it cannot be differentiated twice on CPU.
    """
    model = ctx.model
    names = [n for n, _ in ctx.weight_layers]
    weights = [m.weight for _, m in ctx.weight_layers]
    g = [ctx.batch_weight_grad(n) for n in names]
    hv = [torch.zeros_like(w.detach()) for w in weights]
    disable_fused_attention(model)
    offset = 0
    with torch.enable_grad():
        for size, rng in zip(ctx.minibatch_sizes, rng_states):
            if rng is not None:
                _set_rng_state(ctx.device, rng)
            xk = ctx.inputs[offset : offset + size]
            yk = ctx.targets[offset : offset + size]
            offset += size
            try:
                with ctx.autocast():
                    raw = model(xk)
                loss = ctx.loss_fn(raw if custom_loss else logits_of(raw), yk)
                gk = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
                terms = [
                    (gi * gl).sum() for gi, gl in zip(g, gk) if gl is not None and gl.requires_grad
                ]
                if not terms:  # no second-order path (e.g. a linear model under a linear loss)
                    continue
                z = torch.stack(terms).sum() * (size / ctx.num_samples)
                for h, hk in zip(hv, torch.autograd.grad(z, weights, allow_unused=True)):
                    if hk is not None:
                        h += hk.detach()
            except torch.OutOfMemoryError as exc:
                raise BadDevice(
                    f"out of memory in the Hessian-vector pass (grasp) on a minibatch of {size} "
                    f"sample(s) on {ctx.device}; use a smaller batch_size or another device ({exc})"
                ) from exc
    model.zero_grad(set_to_none=True)
    return dict(zip(names, hv))


def _split(n: int, k: int) -> list[int]:
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def score(
    model: nn.Module,
    data: Any = None,
    proxies: str | Iterable[str] = ("lswag",),
    *,
    loss_fn: LossFn | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    batch_size: int | None = 64,
    minibatches: int = 2,
    resolution: int | None = None,
    num_classes: int | None = None,
    layer_band: LayerBand | tuple[int, int] | str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    precision: str | None = None,
) -> Scores:
    """Returns the zero-cost scores of ``model`` on one batch, computing all proxies in shared passes.

    The caller's model is never changed: the engine scores a private copy (weights, train/eval mode,
    ``requires_grad``, ``.grad`` and hooks of ``model`` are as before, even when an error is raised).

    Args:
        model: Any ``nn.Module`` classifier (timm, torchvision, a search-space network).
        data: ``(x, y)`` tensors, a DataLoader, a ``.npz`` path, an image folder, or None for the default
            photographs shipped by scikit-image (see :func:`lswag_plugin.data.load_batch`).
        proxies: Names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        loss_fn: ``loss_fn(output, labels)``; default cross-entropy on the logits.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``/None (CUDA when present).
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

    Raises:
        UnknownProxy: A proxy name is not registered.
        BadBatch: Too few samples for K minibatches, labels out of range, output shape mismatch.
        ProxyNotApplicable: The model lacks what a proxy reads (e.g. activation modules).

    Returns:
        A :class:`Scores`. If the model's output is NaN/inf every score is NaN and a
        :class:`NonFiniteOutputWarning` is issued (a host study can go on).

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
    started = time.perf_counter()
    plan = make_plan(proxies, minibatches=minibatches, options=options)
    dev = resolve_device(device)
    autocast_dtype = autocast_dtype_of(precision)
    x, y = load_batch(data, batch_size=batch_size, seed=seed, resolution=resolution)
    _check_batch(x, y, plan.minibatches)
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None and torch.is_floating_point(param) else torch.float32
    x, y = x.to(dev, dtype=dtype), y.to(dev, dtype=torch.int64)
    custom_loss = loss_fn is not None
    loss = loss_fn or (lambda out, target: F.cross_entropy(out.float(), target))
    band = LayerBand.parse(layer_band)
    with seeded(seed, dev):
        work = private_copy(model, dev)
        ctx = PassResults(
            model=work,
            inputs=x,
            targets=y,
            minibatch_sizes=_split(len(x), plan.minibatches),
            layer_band=band,
            loss_fn=loss,
            device=dev,
            seed=seed,
            num_classes=num_classes,
            source_model=model,
            options={k: dict(v) for k, v in (options or {}).items()},
            autocast_dtype=autocast_dtype,
        )
        finite = True
        if plan.forward:
            finite = _shared_passes(plan, ctx, loss, custom_loss)
        values: dict[str, float] = {}
        proxy_seconds: dict[str, float] = {}
        for spec in plan.specs:
            t0 = time.perf_counter()
            values[spec.name] = (
                float(spec.fn(ctx)) if finite or not spec.needs.needs_forward else math.nan
            )
            proxy_seconds[spec.name] = time.perf_counter() - t0
    if not finite:
        warnings.warn(
            f"{type(model).__name__} produced NaN/inf outputs or loss on this batch; its scores are NaN",
            NonFiniteOutputWarning,
            stacklevel=2,
        )
    return Scores(
        values=values,
        directions={s.name: s.direction for s in plan.specs},
        seconds=time.perf_counter() - started,
        passes=plan.describe(),
        components=dict(ctx.components),
        meta={
            "batch_size": len(x),
            "minibatches": plan.minibatches,
            "device": str(dev),
            "seed": seed,
            "layer_band": [band.low, band.high],
            "proxy_seconds": proxy_seconds,
            "oom_backoffs": ctx.backoffs,
            "precision": str(autocast_dtype or torch.float32).removeprefix("torch."),
        },
    )
