"""Peak memory of an L-SWAG score relative to one training step (CPU, max RSS of fresh processes).

tracemalloc does not see torch's allocations, so every measurement runs in a fresh Python process:
it imports torch, builds the network (``torch.manual_seed(0)``) and loads the batch, records its
resident set size (``VmRSS``), runs one operation, and reports ``ru_maxrss`` (the peak). The extra
memory of the operation is peak − RSS before; the ratio is score extra / training-step extra. The
operations:

- ``train``: one training step: forward, cross-entropy, backward, ``torch.optim.SGD`` step (lr 0.1).
- ``score``: ``lswag_plugin.score(model, batch, "lswag")`` (the engine deep-copies the model, splits the
  batch into 2 minibatches and keeps activation patterns and weight gradients).

Networks: NB201 (the cell below, 16 channels, batch 64 at 32×32), timm ``resnet18`` and timm
``vit_tiny_patch16_224`` (batch 64 at ``--resolution``, 224 by default), 10 classes.

    python benchmarks/memory.py --resolution 224 --json memory.json

Prints a Markdown table, then (last line) a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import _common

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

CHILD = r"""
import json, resource, sys
import torch
torch.set_num_threads(1)
net, op, batch, res = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
if net == "nb201":
    from lswag_plugin.spaces import get_space
    model = get_space("nb201").build(sys.argv[5], num_classes=10, resolution=res)
else:
    import timm
    model = timm.create_model(net, pretrained=False, num_classes=10, img_size=res) if "vit" in net \
        else timm.create_model(net, pretrained=False, num_classes=10)
g = torch.Generator().manual_seed(0)
x = torch.randn(batch, 3, res, res, generator=g)
y = torch.randint(0, 10, (batch,), generator=g)
import lswag_plugin  # imported before the baseline in both modes
def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kib()
if op == "train":
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
else:
    lswag_plugin.score(model, (x, y), "lswag", device="cpu", seed=0, batch_size=None, minibatches=2)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_mib": before / 1024, "peak_mib": peak / 1024}))
"""


def run(net: str, op: str, batch: int, res: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, net, op, str(batch), str(res), NB201_ARCH],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_flags(
        parser,
        "batch_size",
        "resolution",
        "json",
        resolution=224,
        helps={"resolution": "ResNet-18 / ViT-Tiny input size"},
    )
    args = _common.parse(parser)
    rows = []
    for net, res in (
        ("nb201", 32),
        ("resnet18", args.resolution),
        ("vit_tiny_patch16_224", args.resolution),
    ):
        train, score = (run(net, op, args.batch_size, res) for op in ("train", "score"))
        extra_train = train["peak_mib"] - train["before_mib"]
        extra_score = score["peak_mib"] - score["before_mib"]
        rows.append(
            {
                "network": net,
                "batch_size": args.batch_size,
                "resolution": res,
                "train_extra_mib": extra_train,
                "score_extra_mib": extra_score,
                "train_peak_mib": train["peak_mib"],
                "score_peak_mib": score["peak_mib"],
                "ratio": extra_score / extra_train,
            }
        )
    print("Peak memory above the loaded model and batch (CPU, max RSS of a fresh process)\n")
    print(
        "| network | batch | resolution | train step extra MiB | L-SWAG score extra MiB | ratio |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['network']} | {r['batch_size']} | {r['resolution']}² | {r['train_extra_mib']:.0f} | "
            f"{r['score_extra_mib']:.0f} | {r['ratio']:.2f} |"
        )
    _common.emit({"device": "cpu", "rows": rows}, args.json)


if __name__ == "__main__":
    main()
