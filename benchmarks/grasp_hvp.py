"""Exact Hessian-vector products for GraSP: reverse-over-reverse vs forward-over-reverse, on CPU.

GraSP needs H g (H the Hessian of the loss w.r.t. the Conv/Linear weights, g the batch gradient). This
times, on the networks of ``proxy_cost.py`` (batch 64 split in two minibatches, as the engine does), one
plain forward+backward of the batch, then θᵀ H g by (a) the engine's way: ``create_graph`` gradient
and a second backward of gᵀ∇L, and (b) ``torch.func.jvp`` of ``torch.func.grad`` (forward-over-reverse),
and prints both values (they must agree) and both costs as ratios to the plain pass: a Markdown table,
then (last line) a JSON object.

    python benchmarks/grasp_hvp.py
"""

from __future__ import annotations

import argparse
import copy
import time

import _common
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp

from lswag_plugin.data import default_batch
from lswag_plugin.engine.clone import disable_fused_attention
from lswag_plugin.engine.modules import is_weight_layer


def theta_h_g(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, how: str) -> float:
    """Returns Σ_k (n_k/N) θᵀ H_k g over the two halves of the batch, computed ``how``."""
    layers = [m for m in model.modules() if is_weight_layer(m)]
    weights = [m.weight for m in layers]
    halves = [(x[:32], y[:32]), (x[32:], y[32:])]
    gs = [torch.autograd.grad(F.cross_entropy(model(xk), yk), weights) for xk, yk in halves]
    g = [(a + b) / 2 for a, b in zip(*gs)]
    total = 0.0
    if how == "double backward":
        for xk, yk in halves:
            gk = torch.autograd.grad(F.cross_entropy(model(xk), yk), weights, create_graph=True)
            z = torch.stack([(a * b).sum() for a, b in zip(g, gk)]).sum() * 0.5
            hv = torch.autograd.grad(z, weights)
            total += sum(
                float((w.detach().double() * h.double()).sum()) for w, h in zip(weights, hv)
            )
        return total
    names = {id(p): n for n, p in model.named_parameters()}
    keys = [names[id(w)] for w in weights]
    params = {n: p.detach() for n, p in model.named_parameters()}
    w0 = {k: params[k] for k in keys}
    for xk, yk in halves:

        def loss(wd: dict, xk: torch.Tensor = xk, yk: torch.Tensor = yk) -> torch.Tensor:
            return F.cross_entropy(functional_call(model, {**params, **wd}, (xk,)), yk)

        _, h_theta = jvp(grad(loss), (w0,), (w0,))
        total += 0.5 * sum(
            float((h_theta[k].double() * gi.double()).sum()) for k, gi in zip(keys, g)
        )
    return total


def main(argv: list[str] | None = None) -> int:
    import proxy_cost

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="nb201,vit_tiny@32")
    _common.add_flags(parser, "threads", "json", threads=1)
    args = _common.parse(parser, argv)
    rows = []
    print("| model | what | seconds | × plain fwd+bwd | θᵀHg |")
    print("|---|---|---|---|---|")
    for name, model in proxy_cost.models().items():
        if name not in args.models.split(","):
            continue
        x, y = default_batch(64, resolution=proxy_cost.resolution_of(name), seed=0)
        work = copy.deepcopy(model).train()
        disable_fused_attention(work)
        for module in work.modules():  # no running-statistics updates under torch.func
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.track_running_stats = False
                module.running_mean = module.running_var = None
        plain = min(proxy_cost.plain_step(model, x, y) for _ in range(2))
        print(f"| {name} | plain forward+backward | {plain:.3f} | 1.00 | |")
        rows.append({"model": name, "what": "plain forward+backward", "seconds": plain})
        for how in ("double backward", "forward-over-reverse"):
            t0 = time.perf_counter()
            value = theta_h_g(work, x, y, how)
            sec = time.perf_counter() - t0
            print(f"| {name} | {how} (incl. g) | {sec:.3f} | {sec / plain:.2f} | {value:.6g} |")
            rows.append(
                {
                    "model": name,
                    "what": f"{how} (incl. g)",
                    "seconds": sec,
                    "ratio_to_plain": sec / plain,
                    "theta_h_g": value,
                }
            )
    _common.emit({"threads": args.threads, "rows": rows}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
