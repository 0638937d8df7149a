"""Does mixed precision change rankings? Scores NB201 cells at full precision and under autocast.

For a seeded sample of NAS-Bench-201 cells this scores each network twice with the same batch, seed
and initialisation: ``precision=None`` (float32) and ``precision=PRECISION`` (``torch.autocast``), and
prints per proxy: Spearman(float32 scores, autocast scores) and Spearman of each with the table's
accuracy, plus the seconds of both. On a CPU only bfloat16 is worth timing (float16 has no fast CPU
kernels); the rankings are what this measures, the GPU is where autocast saves time.

    python benchmarks/precision_rho.py --data-dir ../shared/data --sample 100 --precision bfloat16

The last line of stdout is a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np

import lswag_plugin
from lswag_plugin.bench.tables import read_table
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxies", default="lswag,swap,zico,nwot,meco")
    parser.add_argument("--target", default="cifar10_valid_acc")
    _common.add_flags(
        parser,
        "data_dir",
        "data",
        "batch_size",
        "sample",
        "seed",
        "device",
        "precision",
        "threads",
        "json",
        data=_common.CIFAR10,
        sample=100,
        precision="bfloat16",
        threads=1,
        helps={
            "sample": "cells (a seeded sample)",
            "seed": "seed of the sample, the batch, the initialisations and the passes",
            "precision": "the autocast dtype compared with float32",
        },
    )
    args = _common.parse(parser, argv)
    table = read_table(args.data_dir / "nb201" / "nb201_accuracy.csv")
    rows = [r for r in table.rows if r.get(args.target) not in (None, "")]
    picked = np.random.default_rng(args.seed).choice(len(rows), size=args.sample, replace=False)
    space = get_space("nb201")
    x, y = _common.scoring_config(args).batch()
    proxies = [p for p in args.proxies.split(",") if p]
    scores: dict[str, dict[str, list[float]]] = {"full": {p: [] for p in proxies}}
    scores["autocast"] = {p: [] for p in proxies}
    seconds = {"full": 0.0, "autocast": 0.0}
    acc = []
    for i in picked:
        row = rows[int(i)]
        net = space.build_seeded(row["arch_str"], seed=args.seed, num_classes=10)
        acc.append(float(row[args.target]))
        for mode, precision in (("full", None), ("autocast", args.precision)):
            t0 = time.perf_counter()
            s = lswag_plugin.score(
                net,
                (x, y),
                proxies,
                device=args.device,
                seed=args.seed,
                batch_size=None,
                precision=precision,
            )
            seconds[mode] += time.perf_counter() - t0
            for p in proxies:
                scores[mode][p].append(float(s[p]))
    report = {}
    for p in proxies:
        full, mixed = np.array(scores["full"][p]), np.array(scores["autocast"][p])
        report[p] = {
            "full_vs_autocast": spearman(full, mixed),
            "full_vs_acc": spearman(full, acc),
            "autocast_vs_acc": spearman(mixed, acc),
        }
    print(f"| proxy | ρ(float32, {args.precision}) | ρ(float32, acc) | ρ({args.precision}, acc) |")
    print("|---|---|---|---|")
    for p, r in report.items():
        print(
            f"| {p} | {r['full_vs_autocast']:.3f} | {r['full_vs_acc']:.3f} | {r['autocast_vs_acc']:.3f} |"
        )
    print(
        f"seconds: float32 {seconds['full']:.1f}, {args.precision} {seconds['autocast']:.1f} ({args.device})"
    )
    _common.emit(
        {
            "n": args.sample,
            "precision": args.precision,
            "device": args.device,
            "seconds": seconds,
            "proxies": report,
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
