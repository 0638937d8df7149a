"""Checks our NB201 builder's parameter count against the table for all 15,625 cells.

    python scripts/check_nb201_params.py [--table ../shared/data/nb201/nb201_accuracy.csv]

The count depends only on the multiset of ops, so each distinct multiset is built once (on the meta
device). Prints how many cells match exactly, and classifies the rest by their difference.
"""

from __future__ import annotations

import argparse
import collections
import csv

from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.nb201 import parse_arch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", default="../shared/data/nb201/nb201_accuracy.csv")
    args = ap.parse_args()
    space = get_space("nb201")
    counts: dict[tuple[str, ...], tuple[int, int]] = {}
    match = 0
    diffs: collections.Counter[tuple[int, int]] = collections.Counter()
    with open(args.table, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        key = tuple(sorted(parse_arch(r["arch_str"])))
        if key not in counts:
            counts[key] = (
                space.num_params(r["arch_str"], num_classes=10),
                space.num_params(r["arch_str"], num_classes=100),
            )
        p10, p100 = counts[key]
        d10 = p10 - round(float(r["params_m_cifar10"]) * 1e6)
        d100 = p100 - round(float(r["params_m_cifar100"]) * 1e6)
        if d10 == 0 and d100 == 0:
            match += 1
        else:
            diffs[(d10, d100)] += 1
    print(f"{match} of {len(rows)} cells match params_m_cifar10 and params_m_cifar100 exactly")
    for (d10, d100), n in diffs.most_common():
        print(f"  {n} cells: ours - table = {d10} (C10), {d100} (C100)")


if __name__ == "__main__":
    main()
