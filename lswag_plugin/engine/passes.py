"""The shared passes: K minibatch forwards (and backwards) with hooks, OOM back-off, the Hessian pass."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from lswag_plugin.engine.capture import ActivationCapture, LayerOutputCapture, is_weight_layer
from lswag_plugin.engine.checks import check_labels, check_output, logits_of
from lswag_plugin.engine.clone import disable_fused_attention
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.plan import Plan
from lswag_plugin.engine.stages import StageCapture
from lswag_plugin.errors import BadDevice, ProxyNotApplicable

__all__ = ["LossFn", "run_shared_passes", "split_sizes"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def run_shared_passes(plan: Plan, ctx: PassResults, loss_fn: LossFn, custom_loss: bool) -> bool:
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
    ctx.parameters = list(model.parameters())
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
    stages = StageCapture(model, seed=ctx.seed) if plan.stage_features else None
    rng_states: list[tuple[torch.Tensor, torch.Tensor | None] | None] = []
    outputs, input_grads = [], []
    finite = True
    offset = 0
    with contextlib.ExitStack() as stack:
        if plan.activation_patterns:
            stack.enter_context(capture.attached())
        if plan.layer_output_grads:
            stack.enter_context(layer_outputs.attached())
        if stages is not None:
            stack.enter_context(stages.attached())
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
                        stages,
                    )
                    break
                except torch.OutOfMemoryError as exc:
                    # Back off: forget the attempt, split the minibatch in more pieces (gradients
                    # accumulate, pattern bits go to the same sample offsets: the K statistics are
                    # unchanged). Proxies whose captures cannot be rolled back need the full piece.
                    _clear_grads(ctx)
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
            if stages is not None:
                stages.commit()
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
    ctx.stages = stages.result() if stages is not None else None
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
    return [
        (sum(split_sizes(size, pieces)[:i]), n)
        for i, n in enumerate(split_sizes(size, pieces))
        if n
    ]


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
    stages: StageCapture | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None, bool]:
    """Runs minibatch ``k`` (in ``pieces`` pieces whose gradients accumulate); returns its outputs,
    input gradients and whether they were finite. Appends the minibatch's weight gradients to ``grads``."""
    model = ctx.model
    finite = True
    outs, input_grads = [], []
    loss_total = 0.0
    _clear_grads(ctx)
    for start, n in _split_range(size, pieces):
        xk = ctx.inputs[offset + start : offset + start + n]
        yk = ctx.targets[offset + start : offset + start + n]
        capture.start_minibatch(offset + start)
        if stages is not None:
            stages.start_forward(first_piece=start == 0)
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
                check_output(out, yk, ctx.num_classes, custom_loss)
            if not custom_loss:
                check_labels(yk, out.shape[1])
            if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
                finite = False
            if plan.backward:
                if plan.input_grads:
                    # Gradient hooks are for the loss's backward only, not this one.
                    capture.grads_active = layer_outputs.active = False
                    (g,) = torch.autograd.grad(out, xk, torch.ones_like(out), retain_graph=True)
                    capture.grads_active = layer_outputs.active = True
                    input_grads.append(g.detach())
                if stages is not None:  # Jacobian probes: the gradient hooks are for the loss only
                    capture.grads_active = layer_outputs.active = False
                    stages.after_forward()
                    capture.grads_active = layer_outputs.active = True
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
        _clear_grads(ctx)
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
    _clear_grads(ctx)
    return dict(zip(names, hv))


def _clear_grads(ctx: PassResults) -> None:
    """``model.zero_grad(set_to_none=True)`` over the parameters listed once (no module-tree walk)."""
    for p in ctx.parameters:
        p.grad = None


def split_sizes(n: int, k: int) -> list[int]:
    """Returns ``k`` near-equal sizes summing to ``n`` (the larger ones first)."""
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]
