"""Checks our NB101 and DARTS (NB301) builders' parameter counts against NASLib's zero-cost files.

    python scripts/check_naslib_params.py [--data-dir ../shared/data] [--skip-orders]

For each architecture of ``naslib/naslib_zc_nasbench101__*.json.gz`` (500 cells) and
``naslib/naslib_zc_nasbench301__*.json.gz`` (725 cells), the space's ``num_params`` (built on the meta
device, 10 classes) is compared with the file's ``params`` (millions, 6 decimals: exact integers).
Prints the match count and every miss. Then it proves the op-index orders by parameter counts: every
assignment of NB101's three ops to the indices 2/3/4, and every one of the 5,040 orders of the seven
DARTS ops (DARTS counts are additive over the cells' edges, so each order's count is the builder's count
plus per-edge differences; the builder's own count is checked on every row first).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from lswag_plugin.data import shared_data_dir
from lswag_plugin.spaces import darts, get_space, nb101


def _load(path: Path) -> dict:
    with gzip.open(path, "rt") as f:
        return json.load(f)


def _one(folder: Path, pattern: str) -> Path:
    (path,) = sorted(folder.glob(pattern))
    return path


def check_nb101(path: Path, orders: bool) -> None:
    rows = _load(path)["nasbench101"]["cifar10"]
    space = get_space("nb101")
    counts: dict[str, int] = {}

    def count(arch: dict) -> int:
        code = space.encode(arch)
        if code not in counts:
            counts[code] = space.num_params(arch)
        return counts[code]

    misses = []
    for key, entry in rows.items():
        ours, table = count(nb101.from_naslib_key(key)), round(entry["params"] * 1e6)
        if ours != table:
            misses.append((key, ours, table))
    print(
        f"nb101: {len(rows) - len(misses)} of {len(rows)} cells match params exactly ({path.name})"
    )
    for key, ours, table in misses:
        print(f"  miss: {key}: ours {ours}, table {table}, ours - table = {ours - table}")
    if not orders:
        return
    print("nb101 op order (indices 2, 3, 4) -> matches:")
    for perm in itertools.permutations(nb101.NASLIB_OPS[2:]):
        names = (*nb101.NASLIB_OPS[:2], *perm)
        matches = 0
        for key, entry in rows.items():
            values = [int(v) for v in key.strip("()").split(",")]
            arch = {
                "matrix": np.array(values[:49]).reshape(7, 7).tolist(),
                "ops": [names[i] for i in values[49:]],
            }
            matches += count(arch) == round(entry["params"] * 1e6)
        mark = "  <- NASLib's" if names == nb101.NASLIB_OPS else ""
        print(f"  {', '.join(perm)}: {matches}{mark}")


def _op_cost(op: str, channels: int, stride: int) -> int:
    with torch.device("meta"):
        module = darts._op(op, channels, stride, "naslib")
    return sum(p.numel() for p in module.parameters())


def check_darts(path: Path, orders: bool) -> None:
    rows = list(_load(path)["cifar10"].items())
    space = get_space("darts")
    published = np.array([round(e["params"]["score"] * 1e6) for _, e in rows])
    ours = np.array([space.num_params(darts.from_naslib_key(k)) for k, _ in rows])
    miss = np.flatnonzero(ours != published)
    print(f"darts: {len(rows) - len(miss)} of {len(rows)} cells match params exactly ({path.name})")
    for i in miss:
        print(f"  miss: {rows[i][0]}: ours {ours[i]}, table {published[i]}")
    affine = get_space("darts", style="darts")
    diffs = sorted(
        {affine.num_params(darts.from_naslib_key(k)) - o for (k, _), o in zip(rows, ours)}
    )
    print(f"  (DARTS' affine ops instead: every row off by {diffs[0]} to {diffs[-1]} parameters)")
    if not orders:
        return
    cost = np.array(
        [
            [2 * sum(_op_cost(op, c, 1) for c in (32, 64, 128)) for op in darts.OPS],
            [sum(_op_cost(op, c, 1) for c in (64, 128)) for op in darts.OPS],
            [sum(_op_cost(op, c, 2) for c in (64, 128)) for op in darts.OPS],
        ]
    )
    counts = np.zeros((len(rows), 3, len(darts.OPS)), dtype=np.int64)
    for r, (key, _) in enumerate(rows):
        normal, reduce = ast.literal_eval(key)
        for _, idx in normal:
            counts[r, 0, idx] += 1
        for src, idx in reduce:
            counts[r, 1 if src >= 2 else 2, idx] += 1
    edges = np.einsum("rki,ki->r", counts, cost)
    base = ours - edges
    assert (base == base[0]).all(), "DARTS counts are not additive over edges"
    perms = np.array(list(itertools.permutations(range(len(darts.OPS)))))
    matches = ((base[0] + np.einsum("rki,kpi->pr", counts, cost[:, perms])) == published).sum(1)
    order = np.argsort(-matches, kind="stable")
    print(f"darts op order: {len(perms)} orders of the 7 ops; the best 4 -> matches:")
    for p in order[:4]:
        names = [darts.OPS[i] for i in perms[p]]
        mark = "  <- NASLib's" if tuple(names) == darts.OPS else ""
        print(f"  {', '.join(names)}: {matches[p]}{mark}")
    full = int((matches == len(rows)).sum())
    print(f"  orders matching all {len(rows)} rows: {full} (max and avg pool have no parameters)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="default ../shared/data or $LSWAG_DATA"
    )
    ap.add_argument("--skip-orders", action="store_true", help="only the match counts")
    args = ap.parse_args()
    folder = shared_data_dir(args.data_dir) / "naslib"
    check_nb101(_one(folder, "naslib_zc_nasbench101__*.json.gz"), not args.skip_orders)
    check_darts(_one(folder, "naslib_zc_nasbench301__*.json.gz"), not args.skip_orders)


if __name__ == "__main__":
    main()
