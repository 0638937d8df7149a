"""Whether this checkout scores exactly as another one does: every proxy, bit for bit.

Scores ``--cells`` random NAS-Bench-201 cells (seed 0) with every registered proxy (``"all"``) with a
10- and a 100-way head, and ``--vits`` AutoFormer-T networks with six proxies, all through
``lswag_plugin.score`` on the scikit-image photographs (no data files needed), once with this checkout
and once with ``--reference`` (another checkout, run in a subprocess with it first on ``PYTHONPATH``),
and prints, per proxy, how many scores are identical (every bit of the float, NaN and ±inf included).
The engine is deterministic on one thread, so a refactor that keeps the arithmetic gives 100 %.

    git worktree add ../before <commit>          # or any clone at the commit to compare with
    python benchmarks/same_scores.py --reference ../before --threads 1

With ``--write PATH`` it only writes this checkout's scores (what the reference run does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common
import numpy as np
import torch

VIT_PROXIES = "lswag,swap,zico,nwot,params,flops"


def scores_of_this_checkout(cells: int, vits: int, heads: list[int]) -> dict[str, dict[str, str]]:
    """Returns ``{"<network>@<head>": {proxy: float.hex(score)}}`` for the networks of the check."""
    import lswag_plugin
    from lswag_plugin.spaces import get_space

    out: dict[str, dict[str, str]] = {}
    nb201 = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [nb201.sample(rng) for _ in range(cells)]
    autoformer = get_space("autoformer-t")
    vit_archs = [autoformer.sample(rng) for _ in range(vits)]
    jobs: list[tuple[str, Any, Any, str, int]] = []
    for head in heads:
        jobs += [(f"nb201:{a}@{head}", nb201, a, "all", head) for a in archs]
    jobs += [
        (f"autoformer-t:{autoformer.encode(a)}@100", autoformer, a, VIT_PROXIES, 100)
        for a in vit_archs
    ]
    for i, (name, space, arch, proxies, head) in enumerate(jobs):
        torch.manual_seed(0)
        model = space.build(arch, num_classes=head, resolution=32)
        s = lswag_plugin.score(
            model, None, proxies, device="cpu", resolution=32, num_classes=head, batch_size=64
        )
        out[name] = {p: float(v).hex() for p, v in s.items()}
        print(f"\r{i + 1}/{len(jobs)} scored", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def compare(mine: dict[str, dict[str, str]], theirs: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Returns, per proxy, how many of the common scores are bit-identical, and the first difference."""
    per_proxy: dict[str, dict[str, Any]] = {}
    for network, values in mine.items():
        for proxy, value in values.items():
            other = theirs.get(network, {}).get(proxy)
            if other is None:
                continue
            row = per_proxy.setdefault(
                proxy, {"compared": 0, "identical": 0, "first_difference": None}
            )
            row["compared"] += 1
            if other == value:
                row["identical"] += 1
            elif row["first_difference"] is None:
                row["first_difference"] = {
                    "network": network,
                    "this": float.fromhex(value),
                    "reference": float.fromhex(other),
                }
    return dict(sorted(per_proxy.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, help="another checkout to compare with")
    p.add_argument("--write", type=Path, help="only write this checkout's scores here (JSON)")
    p.add_argument("--cells", type=int, default=30, help="random NB201 cells (seed 0)")
    p.add_argument("--vits", type=int, default=4, help="random AutoFormer-T networks")
    p.add_argument("--heads", default="10,100", help="NB201 head widths, comma-separated")
    _common.add_flags(p, "threads", "json", threads=1)
    args = _common.parse(p)
    heads = [int(h) for h in args.heads.split(",")]
    if args.write is not None:
        args.write.write_text(json.dumps(scores_of_this_checkout(args.cells, args.vits, heads)))
        return
    if args.reference is None:
        p.error("give --reference CHECKOUT (or --write PATH)")
    with tempfile.TemporaryDirectory() as tmp:
        written = Path(tmp) / "reference.json"
        env = {**os.environ, "PYTHONPATH": str(args.reference.resolve())}
        command = [sys.executable, __file__, "--write", str(written), "--cells", str(args.cells)]
        command += ["--vits", str(args.vits), "--heads", args.heads, "--threads", str(args.threads)]
        subprocess.run(command, env=env, check=True, cwd=tmp)
        theirs = json.loads(written.read_text())
    mine = scores_of_this_checkout(args.cells, args.vits, heads)
    table = compare(mine, theirs)
    print("| proxy | identical / compared |\n|---|---|")
    for proxy, row in table.items():
        print(f"| {proxy} | {row['identical']} / {row['compared']} |")
    total = sum(r["compared"] for r in table.values())
    same = sum(r["identical"] for r in table.values())
    result = {"identical": same, "compared": total, "proxies": table}
    print(f"{same} of {total} scores bit-identical")
    _common.emit(result, args.json)


if __name__ == "__main__":
    main()
