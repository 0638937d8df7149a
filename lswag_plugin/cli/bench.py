"""``lswag bench``: rank correlation of proxies with ground truth on a table of architectures."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from lswag_plugin.cli import _common as common


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="Spearman/Kendall of proxies vs a ground-truth table",
        description="Score N architectures drawn (with --seed) from a table and correlate each proxy "
        "with the target column. Any CSV or JSON table with an architecture column and a target works.",
    )
    p.add_argument(
        "--space", required=True, help="search space of the architectures (nb201, autoformer...)"
    )
    p.add_argument("--table", required=True, help="CSV or JSON table, one row per architecture")
    p.add_argument(
        "--arch-column", default=None, help="column holding the architecture (default per space)"
    )
    p.add_argument("--target", required=True, help="ground-truth column (e.g. cifar10_valid_acc)")
    p.add_argument("--proxies", default="lswag", help="comma-separated proxy names, or 'all'")
    p.add_argument(
        "--sample",
        type=common.positive_int,
        default=None,
        help="architectures to draw, in random order (at least the table's rows: all, shuffled; "
        "default: all rows, in table order); interrupted (Ctrl-C), bench reports the rows scored so far",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (and of scoring)")
    p.add_argument("--out", default=None, help="write per-architecture scores to this CSV")
    p.add_argument(
        "--plot", default=None, help="write score-vs-target scatter plots (PNG; one per proxy)"
    )
    common.add_scoring_options(p, seed_help="default --seed")
    p.set_defaults(func=run)


_DEFAULT_ARCH_COLUMN = {"nb201": "arch_str"}


def run(args: argparse.Namespace) -> int:
    common.apply_threads(args)
    from lswag_plugin.bench.run import format_table, run_bench
    from lswag_plugin.bench.tables import read_table
    from lswag_plugin.spaces import get_space

    space = get_space(args.space)
    config = common.scoring_config(args, seed=args.seed)
    table = read_table(args.table)
    arch_column = args.arch_column or _DEFAULT_ARCH_COLUMN.get(args.space, "arch")
    table.require(arch_column, args.target)
    rows, skipped = table.labelled(args.target)
    if skipped:
        print(f"skipped {skipped} row(s) whose {args.target!r} is null")
    rows = table.sample(rows, args.sample, args.seed)
    cache = common.open_cache(args.cache)
    try:
        result = run_bench(
            space,
            rows,
            arch_column=arch_column,
            target=args.target,
            proxies=args.proxies,
            config=config,
            cache=cache,
            workers=args.workers,
        )
    finally:
        if cache is not None:
            cache.close()
    if result.interrupted:
        print(
            f"interrupted: {len(result.rows)} of {len(rows)} architectures scored; reporting those"
        )
    print(f"{args.space}: {len(result.rows)} architectures, target {args.target}, seed {args.seed}")
    print(format_table(result))
    print(f"scored {result.scored}, read from cache {result.from_cache}, {result.seconds:.1f} s")
    if args.out:
        _write_csv(Path(args.out), result.rows)
        print(f"wrote {args.out}")
    if args.plot:
        for path in _plots(Path(args.plot), result):
            print(f"wrote {path}")
    if args.json:
        common.print_json_line(result.summary())
    return 0


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in r.items()
                }
            )


def _plots(path: Path, result) -> list[Path]:
    from lswag_plugin.bench.plots import scatter
    from lswag_plugin.bench.tables import target_values

    truth = target_values(result.rows, result.target)
    paths = []
    for proxy in result.proxies:
        out = (
            path
            if len(result.proxies) == 1
            else path.with_name(f"{path.stem}_{proxy}{path.suffix or '.png'}")
        )
        paths.append(
            scatter(
                [r[proxy] for r in result.rows], truth, proxy=proxy, target=result.target, path=out
            )
        )
    return paths
