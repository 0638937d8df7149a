"""Spearman ρ of zero-cost proxies on the 100 trained AutoFormer-Tiny ViTs, per resolution and batch.

For each (resolution, batch) configuration: every architecture of the table is built at that
resolution (init seed fixed), scored by ``lswag_plugin.score`` on real CIFAR-10 images resized to it
(split into 2 minibatches), and ρ against each target is printed on the tuning half, the held-out half
(a seeded split of the rows) and all rows, with the wall time of the whole run. Scores go through the
score cache: a second run of the same configuration reads them back (the table shows the cache hits).

    python benchmarks/autoformer_rho.py --resolution 32 64 --batch 32 --rows tune
    python benchmarks/autoformer_rho.py --resolution 64 --batch 32 --json out.json

Needs ../shared/data (or $LSWAG_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import lswag_plugin
from lswag_plugin.cache import CacheKey, ScoreCache, cache_version
from lswag_plugin.data import batch_fingerprint, load_batch, shared_data_dir
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import spearman

PROXIES = ("lswag", "swap", "zico", "nwot", "params", "flops")
TARGETS = ("c100_base_acc", "c100_kd_acc")


def split_rows(n: int, seed: int) -> tuple[list[int], list[int]]:
    """Returns (tuning, held-out) row indices: a seeded permutation cut in halves."""
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[: n // 2].tolist()), sorted(perm[n // 2 :].tolist())


def rho(scores: list[float], targets: list[float | None]) -> float:
    """Spearman ρ over the rows where both the score and the target are numbers (None/NaN dropped)."""
    return spearman(scores, targets)


def run_config(
    rows: list[dict],
    indices: list[int],
    *,
    resolution: int,
    batch: int,
    seed: int,
    proxies: tuple[str, ...],
    cache: ScoreCache | None,
    data: Path,
) -> tuple[dict[int, dict[str, float]], float, float, int]:
    """Scores ``rows[indices]``; returns (row → proxy → score, wall s, CPU s, cache hits)."""
    space = get_space("autoformer-t", resolution=resolution)
    started, cpu_started = time.perf_counter(), time.process_time()
    x, y = load_batch(data, batch_size=batch, seed=seed, resolution=resolution)
    fingerprint = batch_fingerprint(x, y)
    version = cache_version({"minibatches": 2, "init": "autoformer", "num_classes": 100})
    out: dict[int, dict[str, float]] = {}
    hits = 0
    for done, i in enumerate(indices, 1):
        arch = space.validate(rows[i]["arch"])
        code = space.encode(arch)
        keys = {
            p: CacheKey(space.name, code, p, fingerprint, seed, resolution, version)
            for p in proxies
        }
        cached = cache.get_many(list(keys.values())) if cache is not None else {}
        if len(cached) == len(keys):
            out[i] = {p: cached[k] for p, k in keys.items()}
            hits += 1
        else:
            torch.manual_seed(seed)
            model = space.build(arch, num_classes=100)
            s = lswag_plugin.score(
                model, (x, y), proxies, device="cpu", seed=seed, batch_size=None, minibatches=2
            )
            out[i] = {p: float(s[p]) for p in proxies}
            if cache is not None:
                cache.put_many({keys[p]: out[i][p] for p in proxies})
        if done % 10 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"  r={resolution} b={batch}: {done}/{len(indices)} in {elapsed:.0f}s",
                file=sys.stderr,
                flush=True,
            )
    return out, time.perf_counter() - started, time.process_time() - cpu_started, hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None, help="images .npz (CIFAR-10 sample)")
    parser.add_argument("--resolution", type=int, nargs="+", default=[64])
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--rows", choices=("all", "tune", "heldout"), default="all")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N of --rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--proxies", default=",".join(PROXIES))
    parser.add_argument("--cache", default=None, help="cache file (default: the user cache)")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--bars", type=Path, default=None, help="PNG of ρ per proxy per config")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    root = shared_data_dir()
    table = args.table or root / "autoformer" / "autoformer_tiny_100.json"
    data = args.data or root / "images" / "cifar10_sample.npz"
    rows = json.loads(Path(table).read_text())
    proxies = tuple(p.strip() for p in args.proxies.split(",") if p.strip())
    tune, held = split_rows(len(rows), args.split_seed)
    chosen = {"all": list(range(len(rows))), "tune": tune, "heldout": held}[args.rows]
    if args.limit:
        chosen = chosen[: args.limit]
    cache = None if args.no_cache else ScoreCache(args.cache)
    print(
        f"# {len(chosen)} rows ({args.rows}) of {table}; images {data}; threads "
        f"{torch.get_num_threads()}; cache {cache.path if cache is not None else 'off'}; torch {torch.__version__}"
    )
    results = []
    for resolution in args.resolution:
        for batch in args.batch:
            scores, seconds, cpu, hits = run_config(
                rows,
                chosen,
                resolution=resolution,
                batch=batch,
                seed=args.seed,
                proxies=proxies,
                cache=cache,
                data=data,
            )
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
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
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
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
