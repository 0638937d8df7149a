"""L-SWAG on a GPU: 1000 AutoFormer networks at 224², and whether autocast changes their ranking.

Two parts, one run, one device:

1. **Precision.** ``--check`` architectures of the space (seeded sample) are each built on the device
   (``torch.manual_seed(i)``) and scored twice on the same batch: float32 and ``--precision``
   (``torch.autocast``). Prints Spearman(float32 scores, autocast scores) and the seconds of each.
2. **Throughput.** ``--n`` architectures (another seeded sample) are built on the device and scored
   with the faster of the two precisions of part 1 (or ``--throughput-precision``); the time per
   architecture includes building the network, as a search pays it. Stops early at ``--deadline``
   seconds and says how many were done. Peak GPU memory is read from ``torch.cuda``.

Batch: ``--batch-size`` images (the shipped photographs unless ``--data``), resized to
``--resolution``, split into 2 minibatches (Λ's statistics), labels 0..9 on a 10-way head.

    python benchmarks/gpu_autoformer.py --space autoformer-s --n 1000 --check 100 --precision bfloat16

On a CPU (``--device cpu``) it runs too, for checking the script with small ``--n``/``--check``.
The last line of stdout is a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np
import torch

import lswag_plugin
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _build(space, arch, seed: int, device: torch.device, resolution: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with device:  # parameters are created (and initialised) on the device
        return space.build(arch, num_classes=10, resolution=resolution)


def _score(model, batch, device: torch.device, precision: str | None) -> float:
    scores = lswag_plugin.score(
        model, batch, "lswag", device=device, seed=0, batch_size=None, precision=precision
    )
    return float(scores["lswag"])


def check_precision(space, archs, batch, device, resolution, precision) -> dict:
    """Scores each architecture at float32 and under autocast; returns ρ and the seconds of each."""
    full, mixed, seconds = [], [], {"float32": 0.0, precision: 0.0}
    for i, arch in enumerate(archs):
        model = _build(space, arch, i, device, resolution)
        for name, p, out in (("float32", None, full), (precision, precision, mixed)):
            _sync(device)
            t0 = time.perf_counter()
            out.append(_score(model, batch, device, p))
            seconds[name] += time.perf_counter() - t0
        del model
    return {
        "architectures": len(archs),
        "spearman_float32_vs_autocast": spearman(full, mixed),
        "max_relative_difference": float(
            np.max(np.abs(np.array(mixed) - np.array(full)) / np.abs(np.array(full)))
        ),
        "seconds_score_only": seconds,
    }


def throughput(space, archs, batch, device, resolution, precision, deadline) -> dict:
    """Builds and scores architectures until done or ``deadline`` seconds; returns the timings."""
    build_s = score_s = 0.0
    done = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for i, arch in enumerate(archs):
        t0 = time.perf_counter()
        model = _build(space, arch, 100_000 + i, device, resolution)
        _sync(device)
        t1 = time.perf_counter()
        _score(model, batch, device, precision)
        t2 = time.perf_counter()
        build_s += t1 - t0
        score_s += t2 - t1
        done += 1
        del model
        if t2 - started > deadline:
            break
    total = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {
        "architectures": done,
        "requested": len(archs),
        "precision": precision or "float32",
        "seconds": total,
        "seconds_build": build_s,
        "seconds_score": score_s,
        "seconds_per_arch": total / done,
        "projected_seconds_for_requested": total / done * len(archs),
        "peak_gpu_memory_gib": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="autoformer-s")
    parser.add_argument("--n", type=int, default=1000, help="architectures timed (part 2)")
    parser.add_argument("--check", type=int, default=100, help="architectures of part 1")
    parser.add_argument("--throughput-precision", default=None, help="float32 or an autocast dtype")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds for part 2")
    _common.add_flags(
        parser,
        "data",
        "batch_size",
        "resolution",
        "device",
        "precision",
        "threads",
        "json",
        resolution=224,
        device="cuda",
        precision="bfloat16",
        helps={"precision": "autocast dtype of part 1"},
    )
    args = _common.parse(parser, argv)
    # The batch (seed 0); --device cuda without CUDA stops here, before any work.
    config = _common.scoring_config(args)
    device = torch.device(args.device)
    space = get_space(args.space)
    x, y = config.batch()
    batch = (x.to(device), (y % 10).to(device))
    rng = np.random.default_rng(0)
    warm = _build(space, space.sample(rng), 0, device, args.resolution)
    _score(warm, batch, device, None)  # kernels, allocator and autocast caches warm up untimed
    _score(warm, batch, device, args.precision)
    del warm
    check = [space.sample(rng) for _ in range(args.check)]
    timed = [space.sample(rng) for _ in range(args.n)]
    part1 = check_precision(space, check, batch, device, args.resolution, args.precision)
    chosen = args.throughput_precision
    if chosen is None:
        secs = part1["seconds_score_only"]
        chosen = args.precision if secs[args.precision] < secs["float32"] else "float32"
    part2 = throughput(
        space,
        timed,
        batch,
        device,
        args.resolution,
        None if chosen == "float32" else chosen,
        args.deadline,
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    s1 = part1["seconds_score_only"]
    print(f"L-SWAG, {args.space}, {args.resolution}², batch {args.batch_size}, on {name}\n")
    print(
        f"precision: {part1['architectures']} architectures, ρ(float32, {args.precision}) = "
        f"{part1['spearman_float32_vs_autocast']:.4f}, max relative difference "
        f"{part1['max_relative_difference']:.2e}; score seconds float32 {s1['float32']:.1f}, "
        f"{args.precision} {s1[args.precision]:.1f}"
    )
    print(
        f"throughput ({part2['precision']}): {part2['architectures']} of {part2['requested']} "
        f"architectures in {part2['seconds']:.1f} s (build {part2['seconds_build']:.1f} s, score "
        f"{part2['seconds_score']:.1f} s), {part2['seconds_per_arch']:.3f} s each, "
        f"{part2['projected_seconds_for_requested'] / 60:.2f} min for {part2['requested']}; "
        f"peak GPU memory {part2['peak_gpu_memory_gib']} GiB"
    )
    payload = {
        "device": name,
        "torch": torch.__version__,
        "space": args.space,
        "resolution": args.resolution,
        "batch_size": args.batch_size,
        "precision_check": part1,
        "throughput": part2,
    }
    _common.emit(payload, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
