"""Agreement of our proxies with NAS-Bench-Suite-Zero's published scores on the same NB201 cells.

For each cell of ``nb201/naslib_zc_nasbench201.json`` (NASLib's ``zc_nasbench201.json``: ~724 CIFAR-10
and ~725 CIFAR-100 cells) this builds the NB201 network, scores it with ``lswag_plugin.score`` (all
proxies fused in one call), and prints per proxy: Spearman(ours, published), ρ(ours, val_accuracy) and
ρ(published, val_accuracy), on the cells both cover with finite values.

Batch (a documented choice): 64 images of ``images/cifar10_sample.npz`` (``--data``; seed 0) for both
datasets.
For CIFAR-100 the 20-image CIFAR-100 sample is too small, so the same CIFAR-10 images get labels drawn
uniformly from 0..99 (numpy seed 0): like a real 64-image CIFAR-100 batch, most classes appear once.
Label-free proxies (synflow, l2_norm, nwot, jacov, params, flops) do not depend on this choice.

Per-cell scores are appended to ``--out`` (CSV) as they are computed; a rerun resumes from it.

    nice python benchmarks/naslib_agreement.py --data-dir ../shared/data --dataset both \\
        --proxies synflow,grad_norm,l2_norm,plain,nwot,epe_nas,jacov,snip,params,flops \\
        --out benchmarks/results/naslib_scores.csv
    nice python benchmarks/naslib_agreement.py --data-dir ../shared/data --dataset both \\
        --proxies fisher --out benchmarks/results/naslib_scores_fisher.csv
    nice python benchmarks/naslib_agreement.py --data-dir ../shared/data --dataset both \\
        --proxies grasp --sample 375 --out benchmarks/results/naslib_scores_grasp.csv

The last line of stdout is a JSON object with the table (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import _common
import numpy as np
import torch

import lswag_plugin
from lswag_plugin.data import load_batch
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman as _spearman

#: NASLib's proxy names → ours (the same definitions; see each proxy's docstring).
NASLIB_PROXIES = {
    "synflow": "synflow",
    "grasp": "grasp",
    "fisher": "fisher",
    "grad_norm": "grad_norm",
    "l2_norm": "l2_norm",
    "plain": "plain",
    "nwot": "nwot",
    "epe_nas": "epe_nas",
    "jacov": "jacov",
    "snip": "snip",
    "params": "params",
    "flops": "flops",
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}


def batch_for(data: str | Path, dataset: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the 64-image batch of ``data`` used for ``dataset`` (see the module docstring)."""
    x, y = load_batch(data, batch_size=64, seed=seed)
    if dataset == "cifar100":
        y = torch.from_numpy(np.random.default_rng(seed).integers(0, 100, size=len(y)))
    return x, y


def naslib_to_arch(table: Path) -> dict[str, str]:
    """Returns NASLib op-index key (``"(0, 2, 3, 2, 3, 1)"``) → NB201 string, from nb201_accuracy.csv."""
    with open(table, newline="") as f:
        return {row["naslib_op_indices"]: row["arch_str"] for row in csv.DictReader(f)}


def published_score(entry: dict, proxy: str) -> float:
    value = entry[proxy]
    value = value["score"] if isinstance(value, dict) else value
    return float(value)


def spearman(a: list[float], b: list[float]) -> tuple[float, int]:
    """Spearman ρ over the pairs where both are not NaN (±inf rank at the ends); returns (ρ, n)."""
    n = sum(1 for u, v in zip(a, b) if not (math.isnan(u) or math.isnan(v)))
    return _spearman(a, b), n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["cifar10", "cifar100", "both"], default="both")
    parser.add_argument("--proxies", default=",".join(NASLIB_PROXIES))
    parser.add_argument("--out", type=Path, default=None, help="per-cell CSV (appended, resumable)")
    parser.add_argument(
        "--report-only", action="store_true", help="score nothing: report on the cells in --out"
    )
    _common.add_flags(
        parser,
        "data_dir",
        "data",
        "sample",
        "seed",
        "threads",
        "json",
        data=_common.CIFAR10,
        threads=1,
        helps={
            "sample": "cells per dataset: a seeded sample",
            "seed": "seed of the sample, the batch and the passes",
        },
    )
    args = _common.parse(parser, argv)
    data_dir = args.data_dir
    published = json.loads((data_dir / "nb201" / "naslib_zc_nasbench201.json").read_text())
    arch_of = naslib_to_arch(data_dir / "nb201" / "nb201_accuracy.csv")
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    space = get_space("nb201")
    datasets = ["cifar10", "cifar100"] if args.dataset == "both" else [args.dataset]

    done: dict[tuple[str, str], dict[str, float]] = {}
    if args.out is not None and args.out.exists():
        with open(args.out, newline="") as f:
            for row in csv.DictReader(f):
                done[(row["dataset"], row["key"])] = {p: float(row[p]) for p in proxies if p in row}
    writer = None
    out_file = None
    if args.out is not None and not args.report_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        new = not args.out.exists()
        out_file = open(args.out, "a", newline="")  # noqa: SIM115 - kept open for streaming
        writer = csv.DictWriter(out_file, fieldnames=["dataset", "key", "arch_str", *proxies])
        if new:
            writer.writeheader()

    # Cells are scored in a seeded random order, interleaving the datasets, so that a run stopped early
    # (or ``--limit N``) covers a uniform random sample of each.
    order: dict[str, list[str]] = {}
    for dataset in datasets:
        keys = sorted(published[dataset])
        keys = np.random.default_rng(args.seed).permutation(keys).tolist()
        order[dataset] = keys[: args.sample] if args.sample is not None else keys
    batches = {d: batch_for(args.data, d, args.seed) for d in datasets}
    tasks = [
        (d, order[d][i])
        for i in range(max(len(v) for v in order.values()))
        for d in datasets
        if i < len(order[d])
    ]
    ours: dict[str, dict[str, dict[str, float]]] = {d: {} for d in datasets}
    started = time.perf_counter()
    for i, (dataset, key) in enumerate(tasks):
        if (dataset, key) in done and all(p in done[(dataset, key)] for p in proxies):
            ours[dataset][key] = done[(dataset, key)]
            continue
        if args.report_only:
            continue
        arch = arch_of[key]
        net = space.build(arch, num_classes=NUM_CLASSES[dataset])
        t0 = time.perf_counter()
        x, y = batches[dataset]
        s = lswag_plugin.score(net, (x, y), proxies, device="cpu", seed=args.seed, batch_size=None)
        ours[dataset][key] = {p: float(s[p]) for p in proxies}
        if writer is not None:
            writer.writerow(
                {"dataset": dataset, "key": key, "arch_str": arch, **ours[dataset][key]}
            )
            out_file.flush()
        print(
            f"[{i + 1}/{len(tasks)} {dataset}] {arch} {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
            flush=True,
        )

    report: dict[str, dict] = {}
    for dataset in datasets:
        cells = published[dataset]
        keys = [k for k in order[dataset] if k in ours[dataset]]
        rows = {}
        acc = [float(cells[k]["val_accuracy"]) for k in keys]
        for p in proxies:
            mine = [ours[dataset][k][p] for k in keys]
            row = {"ours_vs_acc": spearman(mine, acc)[0]}
            if p in NASLIB_PROXIES and keys and NASLIB_PROXIES[p] in cells[keys[0]]:
                theirs = [published_score(cells[k], NASLIB_PROXIES[p]) for k in keys]
                row["ours_vs_published"], row["n"] = spearman(mine, theirs)
                row["published_vs_acc"] = spearman(theirs, acc)[0]
            rows[p] = row
        report[dataset] = {"n": len(keys), "proxies": rows}

    if out_file is not None:
        out_file.close()
    print("| dataset | proxy | n | ρ(ours, published) | ρ(ours, val acc) | ρ(published, val acc) |")
    print("|---|---|---|---|---|---|")
    for dataset, rep in report.items():
        for p, row in rep["proxies"].items():
            cells_txt = [
                f"{row.get(k, math.nan):.3f}"
                for k in ("ours_vs_published", "ours_vs_acc", "published_vs_acc")
            ]
            print(f"| {dataset} | {p} | {row.get('n', rep['n'])} | " + " | ".join(cells_txt) + " |")
    _common.emit({"seconds": time.perf_counter() - started, **report}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
