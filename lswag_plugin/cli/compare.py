"""``lswag compare``: search strategies × evaluators × seeds under equal budgets, with a report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lswag_plugin.cli._common import (
    add_scoring_options,
    apply_threads,
    open_cache,
    positive_int,
    print_json_line,
    scoring_config,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare search strategies and evaluators on a table of trained accuracies",
        description="Runs every strategy with every evaluator (zero-cost proxies, and 'oracle': the "
        "table's trained accuracy) for several seeds under the same budget of distinct evaluations, "
        "then writes report.md and plots of the best-found accuracy. Resumable: scores are cached and "
        "finished runs are kept in OUT/runs.jsonl.",
    )
    p.add_argument("--space", default="nb201", help="the search space (default nb201)")
    p.add_argument("--table", required=True, help="CSV/JSON table with the trained accuracies")
    p.add_argument("--target", required=True, help="accuracy column, e.g. cifar10_test_acc")
    p.add_argument("--arch-column", default="arch_str", help="architecture column (arch_str)")
    p.add_argument(
        "--budget", type=positive_int, default=200, help="distinct evaluations per run (200)"
    )
    p.add_argument("--seeds", default="5", help="N (seeds 0..N-1) or a comma list (default 5)")
    p.add_argument(
        "--strategies",
        default="random,evolution,optuna-tpe,optuna-nsga2,nni-evolution",
        help="comma-separated: random, evolution, optuna-tpe, optuna-nsga2, nni-evolution",
    )
    p.add_argument(
        "--evaluators",
        default="lswag,nwot,params,oracle",
        help="comma-separated proxies (lswag, libra, nwot, params, ...) and 'oracle'",
    )
    p.add_argument("--out", required=True, help="output folder (report.md, runs.jsonl, PNGs)")
    p.add_argument("--report-only", action="store_true", help="write the report from stored runs")
    p.add_argument("--quiet", action="store_true", help="no per-run lines on stderr")
    p.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # "i/n": one worker's share
    add_scoring_options(p)
    # Here --workers are processes sharing the grid, the score cache and runs.jsonl (one per core);
    # one torch thread each by default.
    p.set_defaults(func=run, threads=1)


def _run_workers(args: argparse.Namespace) -> int:
    """Runs ``args.workers`` child processes, worker i doing shard i/n of the grid; returns 0 if all did."""
    import subprocess

    argv, skip = [], False
    for a in args.argv:
        if skip or a == "--json" or a.startswith("--workers"):
            skip = a == "--workers"
            continue
        argv.append(a)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "lswag_plugin", *argv, "--shard", f"{i}/{args.workers}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(args.workers)
    ]
    outputs = [c.communicate()[0] for c in children]
    codes = [c.returncode for c in children]
    if any(codes):
        print(f"lswag compare: a worker failed (exit codes {codes})", file=sys.stderr)
        return 2
    for text in outputs:
        counts = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
        for key, value in counts.items():
            args.worker_counts[key] = args.worker_counts.get(key, 0) + value
    return 0


def _shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    i, n = text.split("/")
    return int(i), int(n)


def _seeds(text: str) -> list[int]:
    if "," in text:
        return [int(s) for s in text.split(",") if s]
    return list(range(int(text)))


def run(args: argparse.Namespace) -> int:
    from lswag_plugin.bench.tables import read_table
    from lswag_plugin.compare import (
        TableOracle,
        ZeroCostGrid,
        plot_runs,
        run_grid,
        summary,
        write_markdown,
    )
    from lswag_plugin.spaces import get_space

    apply_threads(args)
    space = get_space(args.space)
    config = scoring_config(args)
    table = read_table(args.table)
    table.require(args.arch_column, args.target)
    accuracy = {
        space.encode(r[args.arch_column]): float(r[args.target])
        for r in table.rows
        if r.get(args.target) not in (None, "")
    }
    strategies = [s for s in args.strategies.split(",") if s]
    names = [e for e in args.evaluators.split(",") if e]
    seeds = _seeds(args.seeds)
    out = Path(args.out)
    zero_cost = [n for n in names if n != "oracle"]
    cache = open_cache(args.cache)
    if cache is None and zero_cost:
        from lswag_plugin.cache import ScoreCache

        cache = ScoreCache(":memory:")  # one pass per cell still serves every proxy of the grid
    grid = None
    if zero_cost:
        grid = ZeroCostGrid(space, zero_cost, cache=cache, config=config)
    evaluators: dict[str, Any] = {}
    for name in names:
        evaluators[name] = (
            TableOracle(space, accuracy) if name == "oracle" else grid.evaluator(name)
        )  # type: ignore[union-attr]

    def report(record: dict[str, Any]) -> None:
        if not args.quiet:
            print(
                f"{record['strategy']:>14} {record['evaluator']:>8} seed {record['seed']}: "
                f"best-found {record['best_acc'][-1]:.2f} after {record['evaluations']} evaluations, "
                f"{record['wall_seconds']:.1f} s wall",
                file=sys.stderr,
                flush=True,
            )

    runs_path = out / "runs.jsonl"
    args.worker_counts = {}
    if args.workers > 1 and not args.report_only and args.shard is None:
        code = _run_workers(args)  # the children run the grid; this process writes the report
        if code:
            return code
    if args.report_only or (args.workers > 1 and args.shard is None):
        from lswag_plugin.compare import load_runs

        runs = [
            r
            for r in load_runs(runs_path)
            if r["budget"] == args.budget
            and r["strategy"] in strategies
            and r["evaluator"] in names
            and r["seed"] in seeds
        ]
    else:
        runs = run_grid(
            space,
            evaluators,
            accuracy,
            strategies=strategies,
            seeds=seeds,
            budget=args.budget,
            runs_path=runs_path,
            on_run=report,
            shard=_shard(args.shard),
        )
        if args.shard is not None:  # a worker: the parent writes the report
            counts = (
                {"computed": sum(grid.computed.values()), "estimated": grid.estimated}
                if grid
                else {}
            )
            print(json.dumps(counts))
            return 0
    if not runs:
        print(f"lswag compare: no finished runs in {runs_path}", file=sys.stderr)
        return 2
    best = max(accuracy.values())
    title = f"{args.space} {args.target}: strategies × evaluators, budget {args.budget}"
    notes = [
        f"Optimum of the table: {best:.2f}. Budget: {args.budget} distinct evaluations per run. "
        f"Seeds requested: {', '.join(map(str, seeds))}.",
        f"Zero-cost scoring: batch {args.batch_size} ({args.minibatches} minibatches) of "
        f"`{args.data or 'default photos'}`, score seed {config.seed}, device {args.device}, "
        f"{args.threads} torch thread(s).",
    ]
    if grid is not None:
        computed = sum(grid.computed.values()) + args.worker_counts.get("computed", 0)
        estimated = grid.estimated + args.worker_counts.get("estimated", 0)
        workers = f" ({args.workers} worker processes)" if args.workers > 1 else ""
        notes.append(
            f"Cells scored by the engine in this invocation{workers}: {computed}; "
            f"evaluations charged the median cost (score cached without seconds): {estimated}."
        )
    write_markdown(runs, out / "report.md", title=title, notes=notes)
    plot_runs(runs, out / "best_vs_evaluations.png", x="evaluations", title=title)
    plot_runs(runs, out / "best_vs_seconds.png", x="seconds", title=title)
    rows = summary(runs)
    if args.json:
        print_json_line({"out": str(out), "runs": len(runs), "summary": rows})
    else:
        print(json.dumps(rows, indent=1) if not args.quiet else "", end="")
    return 0
