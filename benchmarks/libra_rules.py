"""LIBRA's member-entry and quantile-reference options, chosen on tuning halves, reported on the others.

Tables: the published NAS-Bench-Suite-Zero proxy scores (NASLib) of NB201 CIFAR-10 / CIFAR-100 /
ImageNet16-120 (those present in ``nb201/naslib_zc_nasbench201.json``), NB101 CIFAR-10 and NB301 CIFAR-10
(``naslib/*.json.gz``), read with :func:`lswag_plugin.bench.tables.read_table`. Candidates: the published
proxies plus ``flops`` and ``params`` (as NAS-Bench-Suite-Zero), all higher-is-better as NASLib stores
them; target ``val_accuracy``; #params ``params``.

Protocol. Each table's rows are split once (seed 12345) into a tuning half and a report half.

- Tuning: inside the tuning half, 20 splits (seeds 0..19): fit on ``round(0.1 × table rows)`` rows
  (10 % of the table, as the headline numbers), Spearman ρ on the rest of the half. Every candidate rule
  gets a mean ρ per table; the rule with the best mean over the tables is chosen (ties: the default).
  The best rule with a reference only, and the best bootstrap level without one, are chosen the same way.
- Report: inside the report half, 10 splits (seeds 0..9) of the same fit size, ρ on the rest of the half,
  mean ± std, for the default LIBRA, the chosen rules, the best single proxy chosen on the fit rows
  (each split's top-ρ proxy), and the best single proxy in hindsight (best mean held-out ρ on those very
  rows: an upper bound no method can pick).

Rules: ``window`` (the default), ``bootstrap@L`` (``entry="bootstrap"``, level L, 200 resamples), each
with ``+ref``: ``reference=`` all rows of the half (their scores only, no labels: a pool's scores
are free), fit rows included.

Run:  .venv/bin/python benchmarks/libra_rules.py [--data-dir ../shared/data] [--json out.json]

The last line of stdout is a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import _common
import numpy as np

from lswag_plugin import libra
from lswag_plugin.bench.tables import read_table

SPLIT_SEED = 12345
LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95)
RULES = (
    "window",
    "window+ref",
    *(f"bootstrap@{lv:g}" for lv in LEVELS),
    *(f"bootstrap@{lv:g}+ref" for lv in LEVELS),
)
TABLES = {
    "NB201 C10": ("nb201/naslib_zc_nasbench201.json", "cifar10"),
    "NB201 C100": ("nb201/naslib_zc_nasbench201.json", "cifar100"),
    "NB201 IN16": ("nb201/naslib_zc_nasbench201.json", "ImageNet16-120"),
    "NB101 C10": ("naslib/naslib_zc_nasbench101__22280f71.json.gz", None),
    "NB301 C10": ("naslib/naslib_zc_nasbench301__6639fd15.json.gz", None),
}


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def load(data_dir: Path, name: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray] | None:
    """Returns (proxy → scores, val_accuracy, params) of one table, or None if the file lacks it."""
    path, dataset = TABLES[name]
    full = data_dir / path
    if not full.exists():
        return None
    if dataset is not None:
        if dataset not in json.loads(full.read_text()):
            return None
        full = Path(f"{full}#{dataset}")
    rows = [r for r in read_table(full).rows if math.isfinite(_float(r.get("val_accuracy")))]
    names = [c for c in rows[0] if c.startswith("published_")] + ["flops", "params"]
    table = {
        c.removeprefix("published_"): np.array([_float(r.get(c)) for r in rows]) for c in names
    }
    acc = np.array([_float(r["val_accuracy"]) for r in rows])
    return table, acc, table["params"].copy()


def _take(table: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in table.items()}


def _options(rule: str, table: dict[str, np.ndarray], rows: np.ndarray) -> dict:
    base, _, ref = rule.partition("+")
    opts: dict = {}
    if ref:
        opts["reference"] = _take(table, rows)
    if base.startswith("bootstrap@"):
        opts |= {"entry": "bootstrap", "entry_level": float(base.split("@")[1])}
    return opts


def splits(rows: np.ndarray, n_fit: int, seeds) -> list[tuple[np.ndarray, np.ndarray]]:
    """Returns (fit rows, held-out rows) per seed, inside ``rows``."""
    out = []
    for seed in seeds:
        perm = np.random.default_rng(seed).permutation(rows)
        out.append((perm[:n_fit], perm[n_fit:]))
    return out


def evaluate(data, rows, n_fit, seeds, rule) -> tuple[np.ndarray, np.ndarray]:
    """Returns per split (held-out ρ, members) of ``rule`` fitted on ``n_fit`` rows of ``rows``."""
    table, acc, params = data
    directions = dict.fromkeys(table, "max")  # NASLib stores every score as higher-is-better
    rho, size = [], []
    for tr, te in splits(rows, n_fit, seeds):
        model = libra.fit(
            _take(table, tr),
            acc[tr],
            params[tr],
            directions=directions,
            **_options(rule, table, rows),
        )
        rho.append(libra.spearman(model.score_table(_take(table, te)), acc[te]))
        size.append(len(model.selected))
    return np.array(rho), np.array(size)


def singles(data, rows, n_fit, seeds) -> dict:
    """Best single proxy chosen on the fit rows (per split) and in hindsight on the held-out rows."""
    table, acc, _ = data
    held = {k: [] for k in table}
    picked = []
    for tr, te in splits(rows, n_fit, seeds):
        fit_rho = {k: libra.spearman(v[tr], acc[tr]) for k, v in table.items()}
        for k, v in table.items():
            held[k].append(libra.spearman(v[te], acc[te]))
        z1 = max(table, key=lambda k: fit_rho[k])  # ties: column order
        picked.append((z1, held[z1][-1]))
    best = max(table, key=lambda k: np.mean(held[k]))
    return {
        "hindsight": (best, np.array(held[best])),
        "fit_rows": ([p[0] for p in picked], np.array([p[1] for p in picked])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_flags(parser, "data_dir", "json")
    args = _common.parse(parser)
    data_dir = args.data_dir
    tables = {name: load(data_dir, name) for name in TABLES}
    absent = [n for n, d in tables.items() if d is None]
    tables = {n: d for n, d in tables.items() if d is not None}
    halves, n_fits = {}, {}
    for name, (_, acc, _) in tables.items():
        perm = np.random.default_rng(SPLIT_SEED).permutation(len(acc))
        halves[name] = (np.sort(perm[: len(acc) // 2]), np.sort(perm[len(acc) // 2 :]))
        n_fits[name] = round(0.1 * len(acc))
    results: dict = {"absent": absent, "tables": {}, "tuning": {}, "report": {}}
    for name, (_, acc, _) in tables.items():
        results["tables"][name] = {
            "rows": len(acc),
            "n_fit": n_fits[name],
            "n_heldout": len(halves[name][1]) - n_fits[name],
        }
    if absent:
        print(f"tables not in the data: {', '.join(absent)}\n")

    # Tuning halves: every rule, 20 splits per table.
    names = list(tables)
    print("## Tuning halves (20 splits, mean held-out ρ; members in brackets)\n")
    print(f"| rule | {' | '.join(names)} | mean |\n|---|{'---|' * (len(names) + 1)}")
    tune = {}
    for rule in RULES:
        cells, means = [], []
        for name in names:
            rho, size = evaluate(tables[name], halves[name][0], n_fits[name], range(20), rule)
            means.append(float(rho.mean()))
            cells.append(f"{rho.mean():.3f} [{size.mean():.1f}]")
        tune[rule] = float(np.mean(means))
        results["tuning"][rule] = dict(zip(names, means, strict=True)) | {"mean": tune[rule]}
        print(f"| {rule} | {' | '.join(cells)} | {tune[rule]:.4f} |")

    def pick(candidates) -> str:
        return max(candidates, key=lambda r: (round(tune[r], 6), r == "window"))

    chosen = {
        "reference only": pick(["window", "window+ref"]),
        "bootstrap only": pick([r for r in RULES if "+" not in r]),
        "best rule": pick(RULES),
    }
    results["chosen"] = chosen
    print("\nchosen on the tuning halves: " + "; ".join(f"{k}: {v}" for k, v in chosen.items()))

    # Report halves: once, 10 splits per table.
    shown = ["window", *dict.fromkeys(r for r in chosen.values() if r != "window")]
    print("\n## Report halves (10 splits, held-out ρ mean ± std; members in brackets)\n")
    header = ["LIBRA default (window)", *(f"LIBRA {r}" for r in shown[1:])]
    header += ["best single on fit rows", "best single in hindsight"]
    header += [f"Δ {r} − default (paired)" for r in shown[1:]]
    print(f"| table | fit / held-out rows | {' | '.join(header)} |")
    print(f"|---|---|{'---|' * len(header)}")
    for name in names:
        rows = halves[name][1]
        cells, entry, per_split = [], {}, {}
        for rule in shown:
            rho, size = evaluate(tables[name], rows, n_fits[name], range(10), rule)
            per_split[rule] = rho
            cells.append(f"{rho.mean():.3f} ± {rho.std():.3f} [{size.mean():.1f}]")
            entry[rule] = {"mean": rho.mean(), "std": rho.std(), "members": size.mean()}
        s = singles(tables[name], rows, n_fits[name], range(10))
        z1s, rho = s["fit_rows"]
        common = max(set(z1s), key=z1s.count)
        cells.append(f"{rho.mean():.3f} ± {rho.std():.3f} ({common} {z1s.count(common)}/10)")
        entry["single_fit_rows"] = {"mean": rho.mean(), "std": rho.std(), "picked": z1s}
        best, rho = s["hindsight"]
        cells.append(f"{rho.mean():.3f} ± {rho.std():.3f} ({best})")
        entry["single_hindsight"] = {"mean": rho.mean(), "std": rho.std(), "proxy": best}
        for rule in shown[1:]:
            d = per_split[rule] - per_split["window"]
            wins = int((d > 0).sum())
            cells.append(f"{d.mean():+.4f} ± {d.std():.4f} ({wins}/10 better)")
            entry[rule]["delta_vs_default"] = {"mean": d.mean(), "std": d.std(), "better": wins}
        results["report"][name] = entry
        info = results["tables"][name]
        print(f"| {name} | {info['n_fit']} / {info['n_heldout']} | {' | '.join(cells)} |")
    _common.emit(results, args.json)


if __name__ == "__main__":
    main()
