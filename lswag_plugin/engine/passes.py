"""The passes of one score: K minibatch forwards (and backwards) that every active capture joins, OOM
back-off, then each capture's publish (and pass of its own)."""

from __future__ import annotations

import contextlib

import torch

from lswag_plugin.engine.captures import Capture, Piece, Run
from lswag_plugin.engine.checks import check_labels, check_output, logits_of
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.plan import Plan
from lswag_plugin.errors import BadDevice

__all__ = ["run_passes", "split_sizes"]


def run_passes(plan: Plan, ctx: PassResults) -> bool:
    """Runs the plan's passes on ``ctx.model``, filling ``ctx``; returns False if an output or loss
    was not finite (the captures' own passes that need a finite model then publish nothing)."""
    run = Run(ctx, plan.needs, plan.all_specs, plan.minibatches)
    captures = [cls(run) for cls in plan.captures]
    shared = [c for c in captures if c.shared]
    with contextlib.ExitStack() as stack:
        for capture in shared:
            capture.attach(stack)
        if shared:
            _shared_passes(plan, ctx, run, shared)
    for capture in captures:
        capture.publish(ctx)
    return run.finite


def _shared_passes(plan: Plan, ctx: PassResults, run: Run, captures: list[Capture]) -> None:
    outputs = []
    offset = 0
    for k, size in enumerate(ctx.minibatch_sizes):
        pieces = 1
        while True:
            for capture in captures:
                capture.begin_minibatch(k, offset, size)
            try:
                outputs += _minibatch(plan, ctx, run, captures, k, offset, size, pieces)
                break
            except torch.OutOfMemoryError as exc:
                # Back off: forget the attempt, split the minibatch in more pieces (gradients
                # accumulate, pattern bits go to the same sample offsets: the K statistics are
                # unchanged). Captures that cannot be rolled back need the full piece.
                _clear_grads(ctx)
                for capture in captures:
                    capture.roll_back(k, offset, size)
                if ctx.device.type == "cuda":
                    torch.cuda.empty_cache()
                if pieces >= size or not all(c.can_split() for c in captures):
                    raise BadDevice(
                        f"out of memory scoring a minibatch of {-(-size // pieces)} sample(s) on "
                        f"{ctx.device}; use a smaller batch_size or another device ({exc})"
                    ) from exc
                pieces = min(size, pieces * 2)
                ctx.backoffs += 1
        for capture in captures:
            capture.commit(k)
        _clear_grads(ctx)
        offset += size
    ctx.outputs = torch.cat(outputs) if outputs else None


def _minibatch(
    plan: Plan,
    ctx: PassResults,
    run: Run,
    captures: list[Capture],
    k: int,
    offset: int,
    size: int,
    pieces: int,
) -> list[torch.Tensor]:
    """Runs minibatch ``k`` in ``pieces`` pieces whose gradients accumulate; returns their outputs.

    The weights' ``.grad`` hold the minibatch's gradient afterwards (the captures commit it)."""
    model = ctx.model
    backward = plan.backward
    outs = []
    loss_total = 0.0
    _clear_grads(ctx)
    for start, n in _split_range(size, pieces):
        piece = Piece(
            minibatch=k,
            start=offset + start,
            size=n,
            minibatch_start=offset,
            minibatch_size=size,
            inputs=ctx.inputs[offset + start : offset + start + n],
            targets=ctx.targets[offset + start : offset + start + n],
        )
        for capture in captures:
            capture.start(piece)
        with torch.set_grad_enabled(backward), contextlib.ExitStack() as around:
            for capture in captures:
                manager = capture.forward_context(piece)
                if manager is not None:
                    around.enter_context(manager)
            with ctx.autocast():
                raw = model(piece.inputs)
            around.close()
            out = raw if ctx.custom_loss else logits_of(raw)
            yk = piece.targets
            if k == 0 and start == 0:
                check_output(out, yk, ctx.num_classes, ctx.custom_loss)
            if not ctx.custom_loss:
                check_labels(yk, out.shape[1])
            if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
                run.finite = False
            for capture in captures:
                capture.after_forward(piece, out)
            if backward:
                loss = ctx.loss_fn(out, yk)
                if not torch.isfinite(loss):
                    run.finite = False
                loss_total += float(loss.detach()) * n / size
                # Pieces of a minibatch accumulate the gradient of its mean loss.
                (loss * (n / size) if pieces > 1 else loss).backward()
        if isinstance(out, torch.Tensor):
            outs.append(out.detach())
    if backward:
        ctx.losses.append(loss_total)
    return [torch.cat(outs)] if outs else []


def _split_range(size: int, pieces: int) -> list[tuple[int, int]]:
    """Returns ``(start, length)`` of ``pieces`` near-equal consecutive pieces of ``size`` samples."""
    sizes = split_sizes(size, pieces)
    return [(sum(sizes[:i]), n) for i, n in enumerate(sizes) if n]


def _clear_grads(ctx: PassResults) -> None:
    """``model.zero_grad(set_to_none=True)`` over the parameters listed once (no module-tree walk)."""
    for p in ctx.parameters:
        p.grad = None


def split_sizes(n: int, k: int) -> list[int]:
    """Returns ``k`` near-equal sizes summing to ``n`` (the larger ones first)."""
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]
