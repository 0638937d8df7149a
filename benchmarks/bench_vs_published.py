"""Every proxy's ρ from ``lswag bench --proxies all`` on NB201, beside the published proxy's ρ on shared cells.

Reads the ``--out`` CSVs of the two bench runs below (CIFAR-10 and CIFAR-100) and prints, per proxy:
Spearman ρ with the bench's target on all rows, and, on the rows that NAS-Bench-Suite-Zero
(``nb201/naslib_zc_nasbench201.json``) also scored, our ρ and the published proxy's ρ with the same
target on those same cells. Scores nothing itself.

    lswag bench --space nb201 --table ../shared/data/nb201/nb201_accuracy.csv --target cifar10_valid_acc \\
        --data ../shared/data/images/cifar10_sample.npz --num-classes 10 --sample 1000 --seed 0 \\
        --proxies all --threads 1 --out bench_c10.csv --json
    lswag bench ... --target cifar100_test_acc --num-classes 100 ... --out bench_c100.csv --json
    python benchmarks/bench_vs_published.py --cifar10 bench_c10.csv --cifar100 bench_c100.csv

The last line of stdout is a JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import _common
from libra_nb201_scores import proxy_columns
from naslib_agreement import NASLIB_PROXIES, naslib_to_arch, published_score, spearman

TARGETS = {"cifar10": "cifar10_valid_acc", "cifar100": "cifar100_test_acc"}


def report(path: Path, dataset: str, data_dir: Path) -> dict[str, dict[str, float]]:
    """Returns proxy → {rho, n, rho_shared, rho_published, n_shared} for one bench CSV."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    proxies = sorted(proxy_columns(rows[0]))
    target = TARGETS[dataset]
    acc = [float(r[target]) for r in rows]
    published = json.loads((data_dir / "nb201" / "naslib_zc_nasbench201.json").read_text())[dataset]
    key_of = {
        arch: key for key, arch in naslib_to_arch(data_dir / "nb201" / "nb201_accuracy.csv").items()
    }
    shared = [i for i, r in enumerate(rows) if key_of.get(r["arch_str"]) in published]
    out: dict[str, dict[str, float]] = {}
    for p in proxies:
        ours = [float(r[p]) for r in rows]
        rho, n = spearman(ours, acc)
        entry = {"rho": rho, "n": n}
        if p in NASLIB_PROXIES:
            theirs = [
                published_score(published[key_of[rows[i]["arch_str"]]], NASLIB_PROXIES[p])
                for i in shared
            ]
            entry["rho_shared"], entry["n_shared"] = spearman(
                [ours[i] for i in shared], [acc[i] for i in shared]
            )
            entry["rho_published"] = spearman(theirs, [acc[i] for i in shared])[0]
        out[p] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar10", type=Path, required=True, help="bench --out CSV, CIFAR-10")
    parser.add_argument("--cifar100", type=Path, required=True, help="bench --out CSV, CIFAR-100")
    _common.add_flags(parser, "data_dir", "json")
    args = _common.parse(parser, argv)
    result = {ds: report(getattr(args, ds), ds, args.data_dir) for ds in TARGETS}

    def fmt(v: float | None) -> str:
        return "–" if v is None or math.isnan(v) else f"{v:.3f}"

    n = {ds: max(e["n"] for e in r.values()) for ds, r in result.items()}
    n_shared = {
        ds: max((e.get("n_shared", 0) for e in r.values()), default=0) for ds, r in result.items()
    }
    print(
        f"| proxy | ρ C10 valid ({n['cifar10']} cells) | ρ C100 test ({n['cifar100']}) | "
        f"C10 on the {n_shared['cifar10']} shared cells: ours / published | "
        f"C100 on the {n_shared['cifar100']} shared: ours / published |"
    )
    print("|---|---|---|---|---|")
    for p in result["cifar10"]:
        c10, c100 = result["cifar10"][p], result["cifar100"].get(p, {})
        shared = [
            f"{fmt(e.get('rho_shared'))} / {fmt(e.get('rho_published'))}"
            if "rho_shared" in e
            else "–"
            for e in (c10, c100)
        ]
        print(f"| {p} | {fmt(c10['rho'])} | {fmt(c100.get('rho'))} | {shared[0]} | {shared[1]} |")
    _common.emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
