"""Reads a ``lswag bench --out`` table and reports ranking, agreement with published scores, and LIBRA.

For a table written by ``lswag bench`` (our scores per architecture, the target, and, for NASLib tables,
the published scores as ``published_<name>`` columns):

- **ranking**: Spearman ρ (and Kendall τ) of each of our score columns (proxies and components such as
  ``lswag.lambda``) against ``--target``;
- **agreement**: for every proxy with a published column, ρ(ours, published) on the same rows, and both
  proxies' ρ against the target (the difference is what the implementations disagree on);
- **LIBRA held-out**: LIBRA fitted on ``--fraction`` of the rows and scored on the rest, ``--splits``
  random splits (mean ± std), with our proxies as the pool (``--pool``; directions from the registry)
  and ``--params-column`` as the size; the best single member's held-out ρ on the same splits beside it.

Non-finite scores (a disconnected cell's −inf) rank lowest. Prints markdown tables, then (last line) a
JSON object (``--json PATH`` writes it to a file too).

    python benchmarks/bench_report.py nb101_150.csv --target val_accuracy
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import _common
import numpy as np

from lswag_plugin import libra
from lswag_plugin.stats import kendall, spearman

_PUBLISHED = "published_"
#: Fewest held-out rows a LIBRA split must leave for a rank correlation.
_MIN_HELD_OUT = 3
#: Columns that are not scores: the architecture, the table's metadata, accuracies.
_NOT_SCORES = {"arch", "arch_str", "idx", "index", "key", "naslib_key"}


def _float(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """Returns every numeric column of the CSV as a float array (non-numeric cells as NaN)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = list(rows[0]) if rows else []
    columns = {n: np.array([_float(r.get(n, "")) for r in rows]) for n in names}
    return {n: c for n, c in columns.items() if n not in _NOT_SCORES and np.isfinite(c).any()}


def _nan_lowest(x: np.ndarray) -> np.ndarray:
    """A failed score (NaN) ranks lowest."""
    return np.where(np.isnan(x), -np.inf, x)


def _rho(x: np.ndarray, y: np.ndarray) -> float:
    return spearman(_nan_lowest(x), y)


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    return kendall(_nan_lowest(x), y)


def libra_splits(
    columns: dict[str, np.ndarray],
    target: np.ndarray,
    params: np.ndarray,
    pool: list[str],
    *,
    fraction: float,
    splits: int,
) -> dict[str, object]:
    """Returns LIBRA's held-out ρ over random splits, with the best single pool member's."""
    registered = libra.registry_directions()
    directions = {p: registered[p] for p in pool}
    sign = {p: 1.0 if directions[p] == "max" else -1.0 for p in pool}
    table = {p: _nan_lowest(columns[p]) for p in pool}
    held, best_member, selected = [], [], []
    n = len(target)
    n_fit = max(3, round(fraction * n))
    for seed in range(splits):
        perm = np.random.default_rng(seed).permutation(n)
        fit, rest = perm[:n_fit], perm[n_fit:]
        model = libra.fit(
            {p: v[fit] for p, v in table.items()},
            target[fit],
            params[fit],
            directions=directions,
        )
        held.append(_rho(model.score_table({p: v[rest] for p, v in table.items()}), target[rest]))
        member_rhos = {p: _rho(sign[p] * table[p][rest], target[rest]) for p in pool}
        best_member.append(max(member_rhos.values()))
        selected.append(model.selected)
    return {
        "mean": float(np.mean(held)),
        "std": float(np.std(held)),
        "best_single_in_hindsight_mean": float(np.mean(best_member)),
        "selected": selected,
        "fit_rows": n_fit,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="CSV written by lswag bench --out")
    p.add_argument("--target", required=True)
    p.add_argument("--params-column", default="params", help="size column for LIBRA (ours)")
    p.add_argument(
        "--pool", default=None, help="LIBRA pool (default: every registered proxy column)"
    )
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--splits", type=int, default=10)
    _common.add_flags(p, "json")
    args = _common.parse(p)

    columns = read_columns(args.table)
    target = columns.pop(args.target)
    published = {k[len(_PUBLISHED) :]: v for k, v in columns.items() if k.startswith(_PUBLISHED)}
    ours = {
        k: v
        for k, v in columns.items()
        if not k.startswith(_PUBLISHED)
        and k not in {"val_accuracy", "flops"} | {args.target}
        and not k.endswith("_acc")
    }
    # bench writes the components (lswag.lambda, lswag.psi) only for rows it scored, not for rows read
    # from its cache: Ψ is swap's value and Λ = lswag / Ψ (checked on the scored rows of the tables).
    if {"lswag", "swap"} <= set(ours):
        with np.errstate(divide="ignore", invalid="ignore"):
            ours["lswag.psi"] = ours["swap"]
            ours["lswag.lambda"] = np.where(ours["swap"] > 0, ours["lswag"] / ours["swap"], 0.0)
    print(f"{args.table.name}: {len(target)} rows, target {args.target}\n")
    ranking = {k: _rho(v, target) for k, v in ours.items()}
    tau = {k: _tau(v, target) for k, v in ours.items()}
    print("| score | ρ vs target | τ vs target |\n|---|---|---|")
    for k, r in sorted(ranking.items(), key=lambda kv: -kv[1] if not math.isnan(kv[1]) else 9):
        print(f"| {k} | {r:.3f} | {tau[k]:.3f} |")
    agreement = {}
    for name, pub in published.items():
        if name not in ours:
            continue
        agreement[name] = {
            "ours_vs_published": _rho(ours[name], pub),
            "ours_vs_target": ranking[name],
            "published_vs_target": _rho(pub, target),
        }
    if agreement:
        print("\n| proxy | ρ(ours, published) | ρ ours vs target | ρ published vs target |")
        print("|---|---|---|---|")
        for name, a in agreement.items():
            print(
                f"| {name} | {a['ours_vs_published']:.3f} | {a['ours_vs_target']:.3f} | "
                f"{a['published_vs_target']:.3f} |"
            )
    from lswag_plugin.proxies import available

    registered = {s.name for s in available()}
    pool = args.pool.split(",") if args.pool else [k for k in ours if k in registered]
    n_fit = max(3, round(args.fraction * len(target)))
    result: dict[str, object] | None = None
    if args.params_column not in columns:
        print(
            f"\nLIBRA: skipped (no size column {args.params_column!r}; name one with --params-column)"
        )
    elif len(target) - n_fit < _MIN_HELD_OUT:
        print(
            f"\nLIBRA: skipped ({len(target)} rows leave {len(target) - n_fit} held out after "
            f"fitting on {n_fit}; needs {_MIN_HELD_OUT})"
        )
    else:
        result = libra_splits(
            ours,
            target,
            columns[args.params_column],
            pool,
            fraction=args.fraction,
            splits=args.splits,
        )
        print(
            f"\nLIBRA, {args.fraction:.0%} fit ({result['fit_rows']} rows) / rest, {args.splits} "
            f"splits, pool {','.join(pool)}: held-out ρ {result['mean']:.3f} ± {result['std']:.3f} "
            f"(best single pool member on the same held-out rows, in hindsight: "
            f"{result['best_single_in_hindsight_mean']:.3f}); selected: {result['selected'][:3]} ..."
        )
    _common.emit(
        {"n": len(target), "ranking": ranking, "tau": tau, "agreement": agreement, "libra": result},
        args.json,
    )


if __name__ == "__main__":
    main()
