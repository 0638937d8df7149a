"""Cost of scoring, as a ratio to one plain forward+backward of the same batch (one device, one run).

For an NB201 network (and, with ``--models nb101,darts``, a random NB101 and DARTS/NB301 network), timm's ResNet-18 and a small timm ViT (``vit_tiny_patch16_224`` with 8×8
patches), all on a batch of 64 CIFAR-sized images (32×32, the batch of the L-SWAG paper), this times: one plain forward+backward (cross-entropy, train mode, a private copy);
``score(..., "lswag")``; ``score(..., <issue 2's proxies>)``; ``score(..., "all")``; ``"all"`` but
grasp (its exact Hessian-vector product dominates on CPU); and every proxy in its own call (their sum shows what the fused plan saves). Each configuration is timed ``--repeats``
times, interleaved, and the median is reported; ratios are medians over the plain pass's median.

    python benchmarks/proxy_cost.py --repeats 3
    python benchmarks/proxy_cost.py --repeats 1 --models resnet18@224   # ResNet-18 at ImageNet size
    python benchmarks/proxy_cost.py --repeats 1 --models nb101,darts    # the cell spaces
    python benchmarks/proxy_cost.py --device cuda --models nb201,resnet18@32,vit_tiny@32,resnet18@224

Prints a Markdown table, then (last line) a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import _common
import torch
import torch.nn.functional as F

import lswag_plugin
from lswag_plugin.data import default_batch
from lswag_plugin.proxies import available

ISSUE2_PROXIES = "lswag,swap,swap_reg,zico,nwot,params,flops"
NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def models() -> dict[str, torch.nn.Module]:
    """Returns the benchmarked networks; ``NAME@R`` is scored on R×R inputs (``nb201``: 32×32)."""
    import numpy as np
    import timm

    from lswag_plugin.spaces import get_space

    # One random cell of each cell space (seed 0): NB101's standard network (128-channel stem, 3 stacks
    # of 3 cells) and NB301's DARTS network (32 channels, 8 cells).
    nb101_arch = get_space("nb101").sample(np.random.default_rng(0))
    darts_arch = get_space("darts").sample(np.random.default_rng(0))
    torch.manual_seed(0)
    return {
        "nb201": get_space("nb201").build(NB201_ARCH, num_classes=10),
        "nb101": get_space("nb101").build(nb101_arch, num_classes=10),
        "darts": get_space("darts").build(darts_arch, num_classes=10),
        "resnet18@32": timm.create_model("resnet18", num_classes=10),
        "vit_tiny@32": timm.create_model(
            "vit_tiny_patch16_224", img_size=32, patch_size=8, num_classes=10
        ),
        "resnet18@224": timm.create_model("resnet18", num_classes=1000),
    }


def resolution_of(model_name: str) -> int:
    """Returns the input size of a benchmarked network (the ``@R`` suffix; 32 for NB201)."""
    return int(model_name.split("@")[1]) if "@" in model_name else 32


def _sync(x: torch.Tensor) -> None:
    if x.is_cuda:
        torch.cuda.synchronize(x.device)


def plain_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds of one forward+backward of the whole batch on a copy (the copy is not timed)."""
    work = copy.deepcopy(model).train()
    _sync(x)
    t0 = time.perf_counter()
    F.cross_entropy(work(x), y).backward()
    _sync(x)
    return time.perf_counter() - t0


def score_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: str) -> float:
    _sync(x)
    t0 = time.perf_counter()
    lswag_plugin.score(model, (x, y), proxies, device=x.device, batch_size=None)
    return time.perf_counter() - t0  # score returns Python floats: the device has finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="nb201,resnet18@32,vit_tiny@32")
    _common.add_flags(
        parser,
        "device",
        "threads",
        "json",
        threads=1,
        helps={"device": "cpu or cuda (model and batch live there)"},
    )
    args = _common.parse(parser, argv)
    device = torch.device(args.device)
    # Proxies that read a fitted file (libra, az_nas) need one: left out, as "all" leaves them out.
    names = [p.name for p in available() if p.fingerprint is None and not p.name.startswith("_")]
    configs = {
        "lswag": "lswag",
        "issue 2 proxies": ISSUE2_PROXIES,
        "all": "all",
        "all but grasp": ",".join(n for n in names if n != "grasp"),
        "all but the AZ-NAS proxies": ",".join(n for n in names if not n.startswith("az_")),
        "the four AZ-NAS proxies": ",".join(n for n in names if n.startswith("az_")),
    }
    configs.update({f"{n} alone": n for n in names})
    report = {}
    wanted = set(args.models.split(","))
    for model_name, model in models().items():
        if model_name not in wanted:
            continue
        model = model.to(device)
        x, y = default_batch(64, resolution=resolution_of(model_name), seed=0)
        x, y = x.to(device), y.to(device)
        # Warm-up (allocators, lazy imports, timm's first call).
        plain_step(model, x, y)
        score_time(model, x, y, "all")
        times: dict[str, list[float]] = {"plain forward+backward": []}
        times.update({c: [] for c in configs})
        for _ in range(args.repeats):
            times["plain forward+backward"].append(plain_step(model, x, y))
            for label, proxies in configs.items():
                times[label].append(score_time(model, x, y, proxies))
        medians = {k: statistics.median(v) for k, v in times.items()}
        base = medians["plain forward+backward"]
        separate = sum(medians[f"{n} alone"] for n in names)
        medians["sum of separate calls"] = separate
        report[model_name] = {
            "seconds": medians,
            "ratio": {k: v / base for k, v in medians.items()},
        }
    print("| model | what | seconds | × plain fwd+bwd |")
    print("|---|---|---|---|")
    for model_name, rep in report.items():
        for label, sec in rep["seconds"].items():
            print(f"| {model_name} | {label} | {sec:.3f} | {rep['ratio'][label]:.2f} |")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    _common.emit(
        {"device": name, "threads": args.threads, "repeats": args.repeats, **report}, args.json
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
