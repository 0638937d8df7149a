"""Architectures scored per second with L-SWAG: NB201, AutoFormer-T and AutoFormer-S (one run, one machine).

For each space, ``--n`` architectures are sampled (seed 0), each is built after ``torch.manual_seed(0)``
and scored with ``lswag_plugin.score(model, batch, "lswag")`` on the same batch (``--batch-size``
images split into 2 minibatches, at the stated resolution: NB201 32×32, AutoFormer ``--vit-resolution``).
The time per architecture includes building the network (what a search pays); the score cache is not
used. Throughput = architectures / wall-clock seconds. The first architecture of each space is a
warm-up and not timed.

    python benchmarks/throughput.py --n 20 --vit-n 3 --vit-resolution 224 --threads 1 --json throughput.json

Prints a Markdown table, then (last line) a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import os
import time

import _common
import numpy as np
import torch


def measure(space_name: str, n: int, *, batch_size: int, resolution: int, data: str | None) -> dict:
    import lswag_plugin
    from lswag_plugin.data import load_batch
    from lswag_plugin.spaces import get_space

    space = get_space(space_name)
    batch = load_batch(data, batch_size=batch_size, seed=0, resolution=resolution)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(n + 1)]
    seconds = []
    for i, arch in enumerate(archs):
        started = time.perf_counter()
        torch.manual_seed(0)
        model = space.build(arch, num_classes=10, resolution=resolution)
        lswag_plugin.score(
            model, batch, "lswag", device="cpu", seed=0, batch_size=None, minibatches=2
        )
        if i:  # the first one warms up allocators and kernels
            seconds.append(time.perf_counter() - started)
    total = sum(seconds)
    return {
        "space": space_name,
        "architectures": len(seconds),
        "batch_size": batch_size,
        "resolution": resolution,
        "seconds": total,
        "seconds_per_arch": total / len(seconds),
        "archs_per_second": len(seconds) / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="NB201 architectures timed")
    parser.add_argument(
        "--vit-n", type=int, default=3, help="AutoFormer architectures timed per space"
    )
    parser.add_argument("--vit-resolution", type=int, default=224)
    _common.add_flags(parser, "batch_size", "threads", "data", "json", threads=1)
    args = _common.parse(parser)
    rows = [
        measure("nb201", args.n, batch_size=args.batch_size, resolution=32, data=args.data),
        *(
            measure(
                s,
                args.vit_n,
                batch_size=args.batch_size,
                resolution=args.vit_resolution,
                data=args.data,
            )
            for s in ("autoformer-t", "autoformer-s")
        ),
    ]
    load = os.getloadavg()[0]
    print(f"L-SWAG throughput, CPU, {args.threads} torch thread(s), load average {load:.1f}\n")
    print("| space | batch | resolution | architectures | s / architecture | architectures / s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['space']} | {r['batch_size']} | {r['resolution']}² | {r['architectures']} | "
            f"{r['seconds_per_arch']:.2f} | {r['archs_per_second']:.3f} |"
        )
    _common.emit(
        {"device": "cpu", "threads": args.threads, "load_average": load, "rows": rows}, args.json
    )


if __name__ == "__main__":
    main()
