"""Scores a random sample of NB201 cells with our own proxies (CIFAR-10 batch), then fits LIBRA on them.

Phase ``score`` appends one CSV row per cell (resumable: cells already in the file are skipped). The
cells are the first ``--sample`` of a seed-0 permutation of all 15,625, so any prefix is a uniform random
sample. Each network is built after ``torch.manual_seed(0)`` and scored on 64 CIFAR-10 images (seed 0,
2 × 32).
Phase ``fit`` also reads the ``--out`` of ``lswag bench`` (``--scores`` for CIFAR-10, ``--scores-cifar100``
for CIFAR-100; the columns named like registered proxies are the pool). It joins the rows with
nb201_accuracy.csv and reports LIBRA fitted on 10 % of the rows
(Spearman on the other 90 %, mean ± std over 10 splits; the default fusion, and the other rules of
``ABLATION`` on the same splits) and on all rows, for CIFAR-10
(``cifar10_valid_acc``) and CIFAR-100 (``cifar100_test_acc``); it also writes the LIBRA model fitted on
split 0 (10 % of the rows, CIFAR-10 validation accuracy) to ``--model``: the one ``search_nb201.py`` uses;
the last line of its stdout is a JSON object (``--json PATH`` writes it to a file too).

Run:
    .venv/bin/python benchmarks/libra_nb201_scores.py score --sample 1000 --out /tmp/nb201_scores.csv
    .venv/bin/python benchmarks/libra_nb201_scores.py fit --scores /tmp/nb201_scores.csv --model /tmp/libra_nb201.json
    .venv/bin/python benchmarks/libra_nb201_scores.py fit --scores bench_c10.csv --scores-cifar100 bench_c100.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from pathlib import Path

import _common
import numpy as np

#: The proxies scored: every registered proxy computed from the shared passes, plus synflow (a cheap
#: special pass). grasp (second order, ~8 s a cell here), zen and flops are left out for CPU time.
PROXIES = (
    "lswag,swap,zico,nwot,snip,grad_norm,fisher,jacov,epe_nas,l2_norm,plain,params,synflow,meco"
)
#: Fusion rule / member weighting pairs also reported (the default pair is libra.fit's: logrank/snr).
ABLATION = (("rank", "equal"), ("logrank", "equal"), ("zscore", "equal"), ("rank", "snr"))


def read_accuracy(data_dir: Path) -> dict[str, dict[str, float]]:
    """Returns arch_str → the table's numeric columns."""
    with open(data_dir / "nb201" / "nb201_accuracy.csv") as fh:
        return {
            r["arch_str"]: {
                k: float(v) for k, v in r.items() if k not in ("arch_str", "naslib_op_indices")
            }
            for r in csv.DictReader(fh)
        }


def proxy_columns(row: dict[str, str]) -> list[str]:
    """Returns the columns of a scores CSV named like the proxies of ``--proxies all``."""
    from lswag_plugin.proxies import resolve_names

    registered = set(resolve_names("all"))
    return [c for c in row if c in registered]


def score(args: argparse.Namespace) -> None:
    import torch

    import lswag_plugin
    from lswag_plugin.data import load_batch
    from lswag_plugin.spaces import get_space

    batch = load_batch(args.data, batch_size=64, seed=0)
    space = get_space("nb201")
    cells = space.all_archs()
    order = np.random.default_rng(0).permutation(len(cells))[: args.sample]
    out = Path(args.out)
    done = set()
    if out.exists():
        with open(out) as fh:
            done = {r["arch_str"] for r in csv.DictReader(fh)}
    names = lswag_plugin.proxies.resolve_names(PROXIES)
    new = not out.exists()
    with open(out, "a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["arch_str", *names, "seconds"])
        for i, k in enumerate(order):
            arch = cells[k]
            if arch in done:
                continue
            torch.manual_seed(0)
            model = space.build(arch)
            t0 = time.perf_counter()
            s = lswag_plugin.score(model, batch, names, device="cpu", seed=0)
            writer.writerow([arch, *(repr(s[n]) for n in names), f"{time.perf_counter() - t0:.3f}"])
            fh.flush()
            print(
                f"{i + 1}/{len(order)} {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True
            )


def fit(args: argparse.Namespace) -> None:
    from lswag_plugin import libra

    truth = read_accuracy(args.data_dir)
    directions = libra.registry_directions()  # every column is named like a registered proxy
    targets = {"cifar10": "cifar10_valid_acc", "cifar100": "cifar100_test_acc"}
    params_col = {"cifar10": "params_m_cifar10", "cifar100": "params_m_cifar100"}
    files = {"cifar10": args.scores, "cifar100": args.scores_cifar100 or args.scores}
    tables, accs, params = {}, {}, {}
    for ds, path in files.items():
        with open(path) as fh:
            rows = list(csv.DictReader(fh))
        names = proxy_columns(rows[0])
        tables[ds] = {n: np.array([float(r[n]) for r in rows]) for n in names}
        accs[ds] = np.array([truth[r["arch_str"]][targets[ds]] for r in rows])
        params[ds] = np.array([truth[r["arch_str"]][params_col[ds]] for r in rows])
    results: dict = {"n": {ds: len(a) for ds, a in accs.items()}, "single": {}}
    print(f"cells scored: {results['n']}\n\n| proxy | ρ C10 valid | ρ C100 |\n|---|---|---|")
    for n in tables["cifar10"]:
        r = [
            libra.spearman(tables[ds].get(n, np.full(len(accs[ds]), np.nan)), accs[ds])
            for ds in targets
        ]
        results["single"][n] = r
        print(f"| {n} | {r[0]:.3f} | {r[1]:.3f} |")
    print(
        "\n| dataset | fit rows | ρ fit | ρ held-out | selected (split 0 / all rows) |\n|---|---|---|---|---|"
    )
    for ds, col in targets.items():
        acc, table, n_params = accs[ds], tables[ds], params[ds]
        tr_rho, te_rho, sel = [], [], []
        ablation: dict[tuple[str, str], list[float]] = {pair: [] for pair in ABLATION}
        for seed in range(10):
            perm = np.random.default_rng(seed).permutation(len(acc))
            n_fit = round(0.1 * len(acc))
            tr, te = perm[:n_fit], perm[n_fit:]
            train = {k: v[tr] for k, v in table.items()}
            test = {k: v[te] for k, v in table.items()}
            model = libra.fit(train, acc[tr], n_params[tr], directions=directions, target=col)
            tr_rho.append(libra.spearman(model.score_table(train), acc[tr]))
            te_rho.append(libra.spearman(model.score_table(test), acc[te]))
            sel.append(model.selected)
            for rule, weighting in ABLATION:
                # the choice of members does not depend on the fusion: only the fused score changes
                other = dataclasses.replace(model, fusion=rule, weighting=weighting)
                ablation[(rule, weighting)].append(libra.spearman(other.score_table(test), acc[te]))
            if seed == 0 and ds == "cifar10" and args.model:
                model.save(args.model)  # the 10 % fit of split 0: what search_nb201.py uses
        full = libra.fit(table, acc, n_params, directions=directions, target=col)
        rho_all = libra.spearman(full.score_table(table), acc)
        results[ds] = {
            "n_fit": round(0.1 * len(acc)),
            "train_mean": float(np.mean(tr_rho)),
            "heldout_mean": float(np.mean(te_rho)),
            "heldout_std": float(np.std(te_rho)),
            "fusion": f"{model.fusion}/{model.weighting}",
            "heldout_ablation": {
                f"{rule}/{w}": [float(np.mean(v)), float(np.std(v))]
                for (rule, w), v in ablation.items()
            },
            "selected": sel,
            "all_rows": {"rho": rho_all, "summary": full.summary()},
        }
        print(
            f"| {ds} ({col}) | {round(0.1 * len(acc))} (10 %) | {np.mean(tr_rho):.3f} | "
            f"{np.mean(te_rho):.3f} ± {np.std(te_rho):.3f} | {', '.join(sel[0])} |"
        )
        for (rule, w), v in ablation.items():
            print(
                f"| {ds} ({col}), fusion {rule}/{w} | {round(0.1 * len(acc))} (10 %) | – | "
                f"{np.mean(v):.3f} ± {np.std(v):.3f} | |"
            )
        print(
            f"| {ds} ({col}) | {len(acc)} (all) | {rho_all:.3f} | – | {', '.join(full.selected)} |"
        )
    _common.emit(results, args.json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    p = sub.add_parser("score")
    p.add_argument("--out", required=True)
    _common.add_flags(
        p,
        "sample",
        "data_dir",
        "data",
        "threads",
        sample=1000,
        data=_common.CIFAR10,
        threads=1,
        helps={"sample": "cells: the first N of a seed-0 permutation of all cells"},
    )
    p.set_defaults(func=score)
    f = sub.add_parser("fit")
    f.add_argument(
        "--scores", required=True, help="scores CSV (CIFAR-10; also CIFAR-100 by default)"
    )
    f.add_argument("--scores-cifar100", default=None, help="scores CSV for CIFAR-100")
    f.add_argument("--model", default=None, help="write the split-0 CIFAR-10 LIBRA model here")
    _common.add_flags(f, "data_dir", "json")
    f.set_defaults(func=fit)
    args = _common.parse(parser)
    args.func(args)


if __name__ == "__main__":
    main()
