"""Spearman ρ of zero-cost proxies on the 100 trained AutoFormer-Tiny ViTs, per resolution and batch.

For each (resolution, batch size) configuration: every architecture of the table is built at that
resolution (initialised from ``--seed``, 100 classes) and scored by a :class:`~lswag_plugin.engine.Scorer`
on real CIFAR-10 images resized to it (split into ``--minibatches``), and ρ against each target is printed
on the tuning half, the held-out half (a seeded split of the rows) and all rows, with the wall time of the
whole run. Scores go through the score cache under the library's key
(:meth:`~lswag_plugin.engine.ScoringConfig.cache_key`: batch, settings, proxy versions and options): a
second run of the same configuration reads them back (the table shows the cache hits).

    python benchmarks/autoformer_rho.py --resolution 32 64 --batch-size 32 --rows tune --threads 1
    python benchmarks/autoformer_rho.py --resolution 64 --batch-size 32 --json out.json

Needs ../shared/data (or $LSWAG_DATA, or --data-dir). The last line of stdout is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import _common
import numpy as np
import torch

from lswag_plugin.engine import Scorer
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman

PROXIES = ("lswag", "swap", "zico", "nwot", "params", "flops")
TARGETS = ("c100_base_acc", "c100_kd_acc")
#: Architectures scored per call of ``score_archs`` (progress is printed after each).
CHUNK = 10


def split_rows(n: int, seed: int) -> tuple[list[int], list[int]]:
    """Returns (tuning, held-out) row indices: a seeded permutation cut in halves."""
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[: n // 2].tolist()), sorted(perm[n // 2 :].tolist())


def rho(scores: list[float], targets: list[float | None]) -> float:
    """Spearman ρ over the rows where both the score and the target are numbers (None/NaN dropped)."""
    return spearman(scores, targets)


def run_config(
    rows: list[dict], indices: list[int], scorer: Scorer
) -> tuple[dict[int, dict[str, float]], float, float, int]:
    """Scores ``rows[indices]``; returns (row → proxy → score, wall s, CPU s, cache hits)."""
    config = scorer.config
    started, cpu_started = time.perf_counter(), time.process_time()
    out: dict[int, dict[str, float]] = {}
    hits = 0
    for done in range(0, len(indices), CHUNK):
        chunk = indices[done : done + CHUNK]
        results = scorer.score_archs([rows[i]["arch"] for i in chunk], catch=False)
        for i, result in zip(chunk, results):
            out[i] = {p: float(result.values[p]) for p in scorer.proxies}
            hits += result.cached
        elapsed = time.perf_counter() - started
        print(
            f"  r={config.resolution} b={config.batch_size}: {done + len(chunk)}/{len(indices)} in "
            f"{elapsed:.0f}s",
            file=sys.stderr,
            flush=True,
        )
    return out, time.perf_counter() - started, time.process_time() - cpu_started, hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="default <data-dir>/autoformer/autoformer_tiny_100.json",
    )
    _common.add_flags(
        parser,
        "data_dir",
        *_common.SCORING,
        "seed",
        "cache",
        "json",
        many=("resolution", "batch_size"),
        data=_common.CIFAR10,
        resolution=64,
        batch_size=32,
        num_classes=100,
        cache="auto",
    )
    parser.add_argument("--rows", choices=("all", "tune", "heldout"), default="all")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N of --rows")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--proxies", default=",".join(PROXIES))
    parser.add_argument("--bars", type=Path, default=None, help="PNG of ρ per proxy per config")
    args = _common.parse(parser, argv)

    table = args.table or args.data_dir / "autoformer" / "autoformer_tiny_100.json"
    rows = json.loads(Path(table).read_text())
    proxies = tuple(p.strip() for p in args.proxies.split(",") if p.strip())
    tune, held = split_rows(len(rows), args.split_seed)
    chosen = {"all": list(range(len(rows))), "tune": tune, "heldout": held}[args.rows]
    if args.limit:
        chosen = chosen[: args.limit]
    cache = _common.open_cache(args)
    space = get_space("autoformer-t")
    print(
        f"# {len(chosen)} rows ({args.rows}) of {table}; images {args.data}; threads "
        f"{torch.get_num_threads()}; cache {cache.path if cache is not None else 'off'}; torch {torch.__version__}"
    )
    results = []
    for resolution in args.resolution:
        for batch in args.batch_size:
            config = _common.scoring_config(args, resolution=resolution, batch_size=batch)
            scorer = Scorer(proxies, config, space=space, cache=cache)
            scores, seconds, cpu, hits = run_config(rows, chosen, scorer)
            parts = {
                "tune": [i for i in chosen if i in set(tune)],
                "heldout": [i for i in chosen if i in set(held)],
                "all": chosen,
            }
            for target in TARGETS:
                for part, idx in parts.items():
                    if len(idx) < 3:
                        continue
                    targets = [rows[i][target] for i in idx]
                    results.append(
                        {
                            "resolution": resolution,
                            "batch": batch,
                            "target": target,
                            "rows": part,
                            "n": len(idx),
                            "seconds": round(seconds, 1),
                            "cpu_seconds": round(cpu, 1),
                            "cache_hits": hits,
                            "scored": len(chosen),
                            **{
                                p: round(rho([scores[i][p] for i in idx], targets), 3)
                                for p in proxies
                            },
                        }
                    )
            print(
                f"# resolution {resolution}, batch {batch}: {len(chosen)} ViTs in {seconds:.1f} s "
                f"({seconds / len(chosen):.2f} s each; CPU {cpu:.1f} s), {hits} read from the cache; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    header = ["res", "batch", "target", "rows", "n", *proxies, "wall s", "CPU s", "cached"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        cells = [r["resolution"], r["batch"], r["target"], r["rows"], r["n"]]
        cells += [f"{r[p]:.3f}" for p in proxies] + [
            r["seconds"],
            r["cpu_seconds"],
            f"{r['cache_hits']}/{r['scored']}",
        ]
        print("| " + " | ".join(map(str, cells)) + " |")
    if args.bars:
        from lswag_plugin.bench.plots import rho_bars

        groups = {
            f"{r['target'].removeprefix('c100_')} {r['resolution']}px b{r['batch']}": {
                p: r[p] for p in proxies
            }
            for r in results
            if r["rows"] == "all"
        }
        print(f"wrote {rho_bars(groups, args.bars)}")
    if cache is not None:
        cache.close()
    _common.emit({"rows": results}, args.json)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
