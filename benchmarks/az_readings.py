"""Readings of AZ-NAS's stages on a tuning split of NAS-Bench-201: stages or blocks, per proxy.

For ``--sample`` cells drawn with ``--seed`` (1: the tuning split; the seed-0 report cells are not for
choosing), each network (built after ``torch.manual_seed(0)``, train mode, 64 CIFAR-10 images in one
batch) is read at its stem and at every cell output. Expressivity, progressivity and trainability are
computed twice: over the **stages** (stem, the last cell before each change of resolution, the last
cell) and over the **blocks** (stem and every cell). Trainability uses a Gaussian probe of each
Jacobian between consecutive features (``‖Jᵀ v‖ / ‖v‖``). Complexity is the table's #params (it ranks
NB201 cells exactly as FLOPs do). Prints Spearman ρ of each reading and of the rank aggregations of the
mixes against ``cifar10_valid_acc``.

    python benchmarks/az_readings.py --sample 200 --seed 1 --threads 1

The last line of stdout is a JSON object. This chose the engine's reading (stages for expressivity and progressivity, blocks for trainability).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math

import _common
import numpy as np
import scipy.stats
import torch

from lswag_plugin.proxies.az_nas import az_nas_pool
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman


def _entropy(f: torch.Tensor) -> float:
    x = f.detach().permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()
    ev = torch.linalg.eigvalsh(torch.cov(x.T)).clamp(min=0).numpy()
    return float(scipy.stats.entropy(ev)) if ev.sum() > 0 else 0.0


def _sigma(feats: list[torch.Tensor], a: int, b: int) -> float:
    v = torch.randn_like(feats[b])
    (g,) = torch.autograd.grad(feats[b], feats[a], v, retain_graph=True, allow_unused=True)
    return 0.0 if g is None else float(g.norm() / v.norm())


def _readings(feats: list[torch.Tensor], entropies: list[float], ix: list[int]) -> tuple:
    expressivity = sum(entropies[j] for j in ix[1:])
    progressivity = min(entropies[b] - entropies[a] for a, b in itertools.pairwise(ix))
    terms = []
    for a, b in itertools.pairwise(ix):
        s = _sigma(feats, a, b)
        terms.append(-math.inf if s == 0 else 2 - s - 1 / s)
    return expressivity, progressivity, float(np.mean(terms))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_flags(
        p,
        "data_dir",
        "sample",
        "seed",
        "threads",
        "json",
        sample=200,
        seed=1,
        threads=1,
        helps={"seed": "seed of the sample of cells (1: the tuning split)"},
    )
    args = _common.parse(p)
    data = args.data_dir
    rows = list(csv.DictReader((data / "nb201" / "nb201_accuracy.csv").open()))
    idx = np.random.default_rng(args.seed).choice(len(rows), size=args.sample, replace=False)
    images = np.load(data / "images" / "cifar10_sample.npz")
    x = torch.tensor(images["x"][:64]).permute(0, 3, 1, 2).float() / 255.0
    x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)
    space = get_space("nb201")
    cols: dict[str, list[float]] = {k: [] for k in ("E_b", "P_b", "T_b", "E_s", "P_s", "T_s")}
    complexity, accuracy = [], []
    for i in idx:
        row = rows[i]
        torch.manual_seed(0)
        net = space.build(row["arch_str"], num_classes=10).train()
        feats: list[torch.Tensor] = []
        hooks = [net.stem.register_forward_hook(lambda m, a, o, feats=feats: feats.append(o))]
        hooks += [
            c.register_forward_hook(lambda m, a, o, feats=feats: feats.append(o)) for c in net.cells
        ]
        net(x)
        for h in hooks:
            h.remove()
        entropies = [_entropy(f) for f in feats]
        blocks = list(range(len(feats)))
        stages = [0, 5, 11, len(feats) - 1]
        for tag, ix in (("b", blocks), ("s", stages)):
            e, pr, t = _readings(feats, entropies, ix)
            cols["E_" + tag].append(e), cols["P_" + tag].append(pr), cols["T_" + tag].append(t)
        complexity.append(float(row["params_m_cifar10"]))
        accuracy.append(float(row["cifar10_valid_acc"]))
    cols["C"] = complexity
    rho = {k: spearman(v, accuracy) for k, v in cols.items()}
    mixes = {
        "all stages": ["E_s", "P_s", "T_s", "C"],
        "all blocks": ["E_b", "P_b", "T_b", "C"],
        "stages, trainability per block": ["E_s", "P_s", "T_b", "C"],
        "expressivity per block, rest mixed": ["E_b", "P_s", "T_b", "C"],
    }
    for name, members in mixes.items():
        rho[f"AZ: {name}"] = spearman(az_nas_pool(cols, proxies=members), accuracy)
    print(
        f"| reading | ρ vs cifar10_valid_acc ({args.sample} cells, seed {args.seed}) |\n|---|---|"
    )
    for k, v in rho.items():
        print(f"| {k} | {v:.3f} |")
    _common.emit({"sample": args.sample, "seed": args.seed, "rho": rho}, args.json)


if __name__ == "__main__":
    main()
