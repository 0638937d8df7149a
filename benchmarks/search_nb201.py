"""NB201 CIFAR-10 search: evolution with LIBRA or L-SWAG as fitness vs random search; test accuracy by look-up.

Every search is ``lswag search --space nb201 --strategy S --proxy P --budget B --seed s --data
cifar10_sample.npz --device cpu`` in code: the same :class:`~lswag_plugin.search.ProxyEvaluator` (batch:
64 CIFAR-10 images, ``--data``; score seed 0, networks initialised from seed 0), the same strategies and
one :class:`~lswag_plugin.cache.ScoreCache` (``--cache``) shared by all runs (a cell is scored once,
whichever run meets it first). The cache is first filled from a table written by ``libra_nb201_scores.py score`` (same
batch, seed, thread count), so cells of that sample are free. Found cells are looked up in
nb201_accuracy.csv (``cifar10_test_acc``; optimum 94.37). No training.

``random`` runs draw ``budget`` distinct cells uniformly; with ``--random-from-pool`` they are drawn from
the pre-scored sample (itself a uniform sample of the space, so each draw is a uniform random search of
the space, at no scoring cost).

Run:
    .venv/bin/python benchmarks/search_nb201.py --libra-model /tmp/libra_nb201.json \\
        --pool /tmp/nb201_scores.csv --budget 500 --seeds 0-9 \\
        --configs evolution:libra,evolution:lswag,random:libra --random-from-pool --out /tmp/search.jsonl
Results are appended to ``--out`` (one JSON line per run; runs already there are skipped), then the
table is printed; the last line of stdout is a JSON object with the table (``--json PATH`` writes it to
a file too).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import _common
import numpy as np


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def read_truth(data_dir: Path) -> dict[str, dict[str, float]]:
    with open(data_dir / "nb201" / "nb201_accuracy.csv") as fh:
        return {
            r["arch_str"]: {
                "test": float(r["cifar10_test_acc"]),
                "valid": float(r["cifar10_valid_acc"]),
            }
            for r in csv.DictReader(fh)
        }


def read_pool(path: Path) -> dict[str, dict[str, float]]:
    """Returns arch → proxy scores from a ``libra_nb201_scores.py score`` or ``lswag bench --out`` CSV."""
    from libra_nb201_scores import proxy_columns

    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    names = proxy_columns(rows[0]) if rows else []
    return {r["arch_str"]: {k: float(r[k]) for k in names} for r in rows}


def seed_cache(evaluator, pool: dict[str, dict[str, float]]) -> int:
    """Puts the pool's scores (the proxy and, for LIBRA, its members) into the evaluator's cache."""
    from lswag_plugin.libra import load

    items = {}
    libra = evaluator.proxy == "libra"
    model = load(evaluator.config.options["libra"]["model"]) if libra else None
    for arch, values in pool.items():
        key = evaluator.space.encode(arch)
        for name, value in values.items():
            items[evaluator.cache_key(key, name)] = value
        if model is not None:
            items[evaluator.cache_key(key, "libra")] = model.score(values)
    evaluator.cache.put_many(items)
    return len(pool)


def main() -> None:
    from lswag_plugin.search import ProxyEvaluator, get_strategy
    from lswag_plugin.spaces import get_space

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libra-model", default=None)
    parser.add_argument(
        "--pool", default=None, help="pre-scored table (libra_nb201_scores.py score)"
    )
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--configs", default="evolution:libra,evolution:lswag,random:libra")
    parser.add_argument("--random-from-pool", action="store_true")
    parser.add_argument("--out", required=True, help="JSON lines, one per run (resumable)")
    parser.add_argument("--report-only", action="store_true")
    _common.add_flags(
        parser,
        "data_dir",
        *_common.SCORING,
        "cache",
        "json",
        data=_common.CIFAR10,
        threads=1,  # the pool was scored with one thread: the same floating-point sums
        cache="/tmp/lswag_search_cache.sqlite",
    )
    args = _common.parse(parser)
    if args.pool and args.cache == "none":
        raise SystemExit("--pool fills the score cache: give --cache a file (or auto)")
    truth = read_truth(args.data_dir)
    space = get_space("nb201")
    options = {"libra": {"model": args.libra_model}} if args.libra_model else {}
    config = _common.scoring_config(args, seed=0, options=options)
    cache = _common.open_cache(args)
    pool = read_pool(Path(args.pool)) if args.pool else {}
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {
            (r["strategy"], r["proxy"], r["seed"], r["budget"])
            for r in map(json.loads, out.read_text().splitlines())
        }
    configs = [c.split(":") for c in args.configs.split(",")]
    evaluators = {}
    for _, proxy in configs:
        if proxy not in evaluators:
            evaluators[proxy] = ProxyEvaluator(space, proxy, config, cache=cache)
            if pool:
                seed_cache(evaluators[proxy], pool)
    for seed in [] if args.report_only else parse_seeds(args.seeds):
        for strategy_name, proxy in configs:
            if (strategy_name, proxy, seed, args.budget) in done:
                continue
            evaluator = evaluators[proxy]
            before = evaluator.computed
            t0 = time.perf_counter()
            if strategy_name == "random" and args.random_from_pool:
                archs = list(pool)
                if len(archs) < args.budget:
                    raise SystemExit(f"pool has {len(archs)} cells < budget {args.budget}")
                rng = np.random.default_rng(seed)
                picked = [archs[i] for i in rng.choice(len(archs), args.budget, replace=False)]
                scores = evaluator(picked)
                best_i = int(np.argmax(scores))
                best_arch, best_score, evaluations = picked[best_i], scores[best_i], len(picked)
                label = "random (pool)"
            else:
                result = get_strategy(strategy_name).search(
                    space, evaluator, budget=args.budget, seed=seed
                )
                best_arch, best_score, evaluations = (
                    result.best_arch,
                    result.best_score,
                    result.evaluations,
                )
                label = strategy_name
            row = {
                "strategy": strategy_name,
                "label": label,
                "proxy": proxy,
                "seed": seed,
                "budget": args.budget,
                "evaluations": evaluations,
                "scored": evaluator.computed - before,
                "seconds": time.perf_counter() - t0,
                "best_arch": best_arch,
                "best_score": best_score,
                "cifar10_test_acc": truth[best_arch]["test"],
                "cifar10_valid_acc": truth[best_arch]["valid"],
            }
            with open(out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    best = max(v["test"] for v in truth.values())
    print(f"\nNB201 CIFAR-10 test accuracy of the found cell (optimum {best:.2f})\n")
    print(
        "| strategy | fitness | budget | seeds | test acc mean ± std | min | max | cells scored |"
    )
    print("|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["label"], r["proxy"], r["budget"]), []).append(r)
    table = []
    for (label, proxy, budget), rs in sorted(groups.items()):
        acc = np.array([r["cifar10_test_acc"] for r in rs])
        scored = sum(r["scored"] for r in rs)
        print(
            f"| {label} | {proxy} | {budget} | {len(rs)} | {acc.mean():.2f} ± {acc.std():.2f} | "
            f"{acc.min():.2f} | {acc.max():.2f} | {scored} |"
        )
        table.append(
            {
                "strategy": label,
                "fitness": proxy,
                "budget": budget,
                "seeds": len(rs),
                "test_acc_mean": acc.mean(),
                "test_acc_std": acc.std(),
                "test_acc_min": acc.min(),
                "test_acc_max": acc.max(),
                "scored": scored,
            }
        )
    if not math.isfinite(best):  # pragma: no cover
        raise SystemExit("bad table")
    _common.emit({"optimum": best, "table": table}, args.json)


if __name__ == "__main__":
    main()
