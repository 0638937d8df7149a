"""Ablation of L-SWAG's choices on NAS-Bench-201, from one shared pass per cell.

    python benchmarks/lswag_ablation.py --sample 300 --seed 1 --target cifar10_valid_acc --num-classes 10

For every cell it records Λ over every layer band [lo, hi] (percentile bins), Ψ over layers 1..L̂ counted
per layer and as a union, and prints Spearman vs the target for: Λ alone, Ψ alone, Λ×Ψ for each band
choice and each pattern count — plus ZiCo, NWOT and #params for reference. Use it on a tuning split
(seed 1) to choose, then report with `lswag bench` on seed 0. The last line of stdout is a JSON object
with the whole band grid (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import math
import time

import _common
import torch

from lswag_plugin.bench.tables import Table, read_table, target_values
from lswag_plugin.engine import LayerBand, score
from lswag_plugin.engine.band import NUM_BINS
from lswag_plugin.proxies import Needs, register_proxy
from lswag_plugin.proxies.swap import count_patterns
from lswag_plugin.proxies.zico import log_sum, mean_and_std
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman

BANDS = [(lo, hi) for lo in range(NUM_BINS) for hi in range(lo, NUM_BINS)]


@register_proxy(
    "_lswag_ablation", needs=Needs.WEIGHT_GRADS | Needs.ACTIVATION_PATTERNS, min_minibatches=2
)
def _ablation(ctx) -> float:
    d = len(ctx.weight_layers)
    per_layer = []
    for name, _ in ctx.weight_layers:
        _, std = mean_and_std([g.abs() for g in ctx.weight_grads[name]])
        per_layer.append(log_sum(std[std > 0].reciprocal()) or 0.0)
    for lo, hi in BANDS:
        band = LayerBand(lo, hi)
        ctx.components[f"lambda[{lo},{hi}]"] = sum(
            v for i, v in enumerate(per_layer) if band.contains_weight_layer(i, d)
        )
    a = len(ctx.patterns)
    for hi in range(NUM_BINS):
        layers = [
            p
            for i, p in enumerate(ctx.patterns)
            if LayerBand(0, hi).contains_activation_layer(i, a)
        ]
        for mode in ("per_layer", "union"):
            ctx.components[f"psi_{mode}[..{hi}]"] = count_patterns(layers, mode)
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", default=None, help="default <data-dir>/nb201/nb201_accuracy.csv")
    ap.add_argument("--target", default="cifar10_valid_acc")
    _common.add_flags(
        ap,
        "data_dir",
        "data",
        "num_classes",
        "sample",
        "seed",
        "batch_size",
        "minibatches",
        "threads",
        "json",
        data=_common.CIFAR10,
        sample=300,
        seed=1,
        helps={"seed": "seed of the sample, the batch, the initialisations and the passes"},
    )
    args = _common.parse(ap)
    table = args.table or args.data_dir / "nb201" / "nb201_accuracy.csv"

    space = get_space("nb201")
    rows = Table.sample(read_table(table).labelled(args.target)[0], args.sample, args.seed)
    batch = _common.scoring_config(args).batch()
    records = []
    t0 = time.perf_counter()
    for r in rows:
        torch.manual_seed(args.seed)
        model = space.build(r["arch_str"], num_classes=args.num_classes)
        s = score(
            model,
            batch,
            ["_lswag_ablation", "zico", "nwot", "params"],
            seed=args.seed,
            batch_size=None,
            minibatches=args.minibatches,
            device="cpu",
        )
        records.append(
            {**s.components, "zico": s["zico"], "nwot": s["nwot"], "params": s["params"]}
        )
    seconds = time.perf_counter() - t0
    truth = target_values(rows, args.target)

    def rho(values):
        return spearman(values, truth)

    full = (0, NUM_BINS - 1)
    out = {"n": len(rows), "seed": args.seed, "target": args.target, "seconds": seconds}
    for name in ("zico", "nwot", "params"):
        out[name] = rho([r[name] for r in records])
    for mode in ("per_layer", "union"):
        psi = [r[f"psi_{mode}[..9]"] for r in records]
        out[f"psi_{mode}"] = rho(psi)
    out["lambda_all_bins"] = rho([r[f"lambda[{full[0]},{full[1]}]"] for r in records])
    grid = {}
    for lo, hi in BANDS:
        for mode in ("per_layer", "union"):
            grid[f"{mode}[{lo},{hi}]"] = rho(
                [r[f"lambda[{lo},{hi}]"] * r[f"psi_{mode}[..{hi}]"] for r in records]
            )
    out["lswag_all_bins_per_layer"] = grid["per_layer[0,9]"]
    out["lswag_all_bins_union"] = grid["union[0,9]"]
    best = max(grid, key=lambda k: -math.inf if math.isnan(grid[k]) else grid[k])
    out["best_band"] = best
    out["best_band_rho"] = grid[best]
    print(f"NB201 {args.target}, {len(rows)} cells (seed {args.seed}), {seconds:.0f} s")
    for k, v in out.items():
        if isinstance(v, float):
            print(f"  {k:<28} {v:.4f}")
    print(f"  best band: {best} (rho {grid[best]:.4f})")
    print(
        "  lswag per_layer by band high (low=0):",
        " ".join(f"{grid[f'per_layer[0,{hi}]']:.3f}" for hi in range(NUM_BINS)),
    )
    print(
        "  lswag per_layer by band low (high=9):",
        " ".join(f"{grid[f'per_layer[{lo},9]']:.3f}" for lo in range(NUM_BINS)),
    )
    _common.emit({**out, "grid": grid}, args.json)


if __name__ == "__main__":
    main()
