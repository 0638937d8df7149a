"""Readings of L-SWAG's Eq. 1 on a tuning split: which choices the text leaves open move the ranking?

Every reading is computed from the same shared passes of each cell (one engine call per cell; the
readings are proxies registered by this script), so they differ only in the formula:

- ``lswag``: our default, Λ × Ψ with Λ = Σ_l log Σ_w 1/σ(|g_w|) (σ across the K = 2 minibatches), Ψ the
  sum over activation layers of each layer's distinct patterns;
- ``lambda``, ``psi``, ``psi_union``: the factors (Ψ as the union of patterns over layers);
- ``lambda_signed``: σ of the signed gradient g, not of |g|;
- ``lambda_inv_var``: Σ_l log Σ_w 1/σ² (the variance, not the standard deviation);
- ``lambda_mean_layers``: the mean over layers instead of the sum (depth-neutral);
- ``lambda_pooled``: log Σ_l Σ_w 1/σ (one sum over all weights, no per-layer log);
- ``lswag_union``: Λ × Ψ(union);
- ``lswag_log_psi``: Λ × log Ψ;
- ``lswag_psi_fraction``: Λ × Σ_l distinct_l / neurons_l (Ψ per layer as a fraction of its neurons);
- ``zico``: ZiCo (Σ_l log Σ_w E|g|/σ(g)), the paper's "ZiCo-like" row.

    python benchmarks/lswag_readings.py --data-dir ../shared/data --sample 300 --seed 1

Spearman ρ against ``--target`` (default ``cifar10_valid_acc``) on ``--sample`` cells drawn with
``--seed`` (1: the tuning split; the seed-0 report sample is not for choosing); the batch, initialisations
and passes keep seed 0, as in every report. Prints a table and, last, a JSON object (``--json PATH``
writes it to a file too).
"""

from __future__ import annotations

import argparse
import math

import _common
import torch

from lswag_plugin.bench.tables import read_table
from lswag_plugin.engine import Needs, PassResults, Scorer, register_proxy
from lswag_plugin.proxies.lswag import lswag_lambda, lswag_psi
from lswag_plugin.proxies.swap import count_patterns
from lswag_plugin.proxies.zico import log_sum, mean_and_std
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman

_NEEDS = Needs.WEIGHT_GRADS | Needs.ACTIVATION_PATTERNS


def _per_layer_inverse(ctx: PassResults, *, signed: bool, power: float) -> list[torch.Tensor]:
    """1/σ^power of each weight layer's gradients across the minibatches (σ = 0 entries dropped)."""
    out = []
    for name, _ in ctx.weight_layers:
        grads = ctx.weight_grads[name]
        _, std = mean_and_std(grads if signed else [g.abs() for g in grads])
        inverse = std.double().pow_(power).reciprocal_()
        out.append(inverse[torch.isfinite(inverse)])
    return out


def _reading(name: str):
    def decorator(fn):
        register_proxy(f"_reading_{name}", needs=_NEEDS, min_minibatches=2)(fn)
        return fn

    return decorator


@_reading("lambda_signed")
def _lambda_signed(ctx: PassResults) -> float:
    return sum(log_sum(v) or 0.0 for v in _per_layer_inverse(ctx, signed=True, power=1.0))


@_reading("lambda_inv_var")
def _lambda_inv_var(ctx: PassResults) -> float:
    return sum(log_sum(v) or 0.0 for v in _per_layer_inverse(ctx, signed=False, power=2.0))


@_reading("lambda_mean_layers")
def _lambda_mean_layers(ctx: PassResults) -> float:
    layers = _per_layer_inverse(ctx, signed=False, power=1.0)
    return sum(log_sum(v) or 0.0 for v in layers) / max(1, len(layers))


@_reading("lambda_pooled")
def _lambda_pooled(ctx: PassResults) -> float:
    layers = _per_layer_inverse(ctx, signed=False, power=1.0)
    return log_sum(torch.cat(layers)) or 0.0 if layers else 0.0


@_reading("lswag_union")
def _lswag_union(ctx: PassResults) -> float:
    return lswag_lambda(ctx) * count_patterns(ctx.patterns, "union")


@_reading("psi_union")
def _psi_union(ctx: PassResults) -> float:
    return count_patterns(ctx.patterns, "union")


@_reading("lswag_log_psi")
def _lswag_log_psi(ctx: PassResults) -> float:
    psi = lswag_psi(ctx)
    return lswag_lambda(ctx) * (math.log(psi) if psi > 0 else 0.0)


@_reading("lswag_psi_fraction")
def _lswag_psi_fraction(ctx: PassResults) -> float:
    fraction = sum(p.unique_keys().shape[0] / p.num_neurons for p in ctx.patterns)
    return lswag_lambda(ctx) * fraction


READINGS = [
    "lswag",
    "lswag.lambda",
    "lswag.psi",
    "psi_union",
    "lambda_signed",
    "lambda_inv_var",
    "lambda_mean_layers",
    "lambda_pooled",
    "lswag_union",
    "lswag_log_psi",
    "lswag_psi_fraction",
    "zico",
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="cifar10_valid_acc")
    _common.add_flags(
        p,
        "data_dir",
        *_common.SCORING,
        "sample",
        "seed",
        "cache",
        "json",
        data=_common.CIFAR10,
        sample=300,
        seed=1,
        threads=1,
        helps={"seed": "seed of the sample of cells (not 0: the report sample)"},
    )
    args = _common.parse(p)
    if args.seed == 0:
        raise SystemExit("seed 0 is the report sample: choose readings on another seed")
    table = read_table(args.data_dir / "nb201" / "nb201_accuracy.csv")
    rows, _ = table.labelled(args.target)
    rows = table.sample(rows, args.sample, args.seed)
    space = get_space("nb201")
    # The batch and inits of every report (seed 0): only the cells differ from the report sample.
    config = _common.scoring_config(args, seed=0)
    proxies = [
        "lswag",
        "zico",
        *(f"_reading_{r}" for r in READINGS if r not in ("lswag", "zico") and "." not in r),
    ]
    scorer = Scorer(proxies, config, space=space, cache=_common.open_cache(args))
    results = scorer.score_archs([r["arch_str"] for r in rows], catch=False)
    truth = [float(r[args.target]) for r in rows]
    rho = {}
    for reading in READINGS:
        key = reading if reading in ("lswag", "zico") or "." in reading else f"_reading_{reading}"
        values = [{**r.values, **r.components}.get(key, math.nan) for r in results]
        rho[reading] = spearman(values, truth)
    print(f"| reading | ρ vs {args.target} ({args.sample} cells, seed {args.seed}) |\n|---|---|")
    for reading, value in rho.items():
        print(f"| {reading} | {value:.3f} |")
    _common.emit(
        {"sample": args.sample, "seed": args.seed, "target": args.target, "rho": rho}, args.json
    )


if __name__ == "__main__":
    main()
