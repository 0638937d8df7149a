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
        "then writes report.md and plots of the best-found accuracy. With --trainings the budget is "
        "a number of trained evaluations (--train-metric looked up in the table): training-only "
        "strategies against hybrids whose zero-cost proxy (--evaluators) decides what is trained. "
        "Resumable: scores are cached and finished runs are kept in OUT/runs.jsonl.",
    )
    p.add_argument("--space", default="nb201", help="the search space (default nb201)")
    p.add_argument("--table", required=True, help="CSV/JSON table with the trained accuracies")
    p.add_argument("--target", required=True, help="accuracy column, e.g. cifar10_test_acc")
    p.add_argument("--arch-column", default="arch_str", help="architecture column (arch_str)")
    p.add_argument(
        "--budget", type=positive_int, default=200, help="distinct evaluations per run (200)"
    )
    p.add_argument(
        "--seeds",
        type=_seeds,
        default=_seeds("5"),
        help="N (seeds 0..N-1), a comma list, ranges A-B (inclusive), or both: '0-4,7' (default 5)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        help="comma-separated: random, evolution, optuna-tpe, optuna-nsga2, nni-evolution (all by "
        "default); with --trainings also the hybrids " + ", ".join(_HYBRIDS) + " (all by default)",
    )
    p.add_argument(
        "--evaluators",
        default=None,
        help="comma-separated proxies (lswag, libra, nwot, params, ...) and 'oracle' (default "
        "lswag,nwot,params,oracle); with --trainings the hybrids' zero-cost proxies (default meco; "
        "'oracle' there is the --train-metric itself, at no cost); 'column:NAME' reads a "
        "precomputed score from the table's column NAME (higher is better, charged 0 s)",
    )
    p.add_argument(
        "--trainings",
        type=_int_list,
        default=None,
        help="budget of trainings instead of evaluations: comma-separated T values reported "
        "(e.g. 10,20,50,100); every run trains max(T) cells (every strategy is anytime)",
    )
    p.add_argument(
        "--train-metric",
        default="cifar10_valid_acc",
        help="with --trainings: the table column a trained evaluation returns (cifar10_valid_acc)",
    )
    p.add_argument(
        "--hybrid-options",
        type=_json_object,
        default=None,
        help='with --trainings: JSON {"strategy": {option: value}} overriding a hybrid\'s defaults, '
        'e.g. \'{"prescreen-tpe": {"n_candidates": 16}}\'',
    )
    p.add_argument(
        "--pool",
        choices=["table"],
        default=None,
        help="'table': restrict every strategy to the architectures with a value in every table "
        "column the run reads (for tables of only some architectures: NAS-Bench-101/301); "
        "mutations and crossovers move to the nearest table architecture, Optuna's and NNI's "
        "proposals too (docs/compare.md)",
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


#: The hybrid strategies (kept in step with ``lswag_plugin.compare.HYBRID_DEFAULTS``; not imported
#: here so that ``lswag --help`` stays light).
_HYBRIDS = (
    "screen-random",
    "screen-evolution",
    "zc-local",
    "prescreen-tpe",
    "prescreen-nsga2",
    "pruner-tpe",
    "nni-evolution-zc",
)
_TRAINING_ONLY = ("random", "evolution", "optuna-tpe", "optuna-nsga2", "nni-evolution")


def _seeds(text: str) -> list[int]:
    """``"5"`` → 0..4; ``"0,3"`` → [0, 3]; ``"0-9"`` → 0..9; ``"0-4,7"`` → [0..4, 7] (no repeats)."""
    text = text.strip()
    try:
        if text.isdigit():
            return list(range(int(text)))
        seeds: list[int] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            first, sep, last = part.partition("-")
            if sep:
                lo, hi = int(first), int(last)
                if lo > hi:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be N, a comma list or ranges A-B with A <= B, got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be non-negative and not empty, got {text!r}")
    return list(dict.fromkeys(seeds))


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"trainings must be integers >= 1, got {text!r}")
    return values


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError('expected {"strategy": {"option": value}}')
    return value


def _table_column(table: Any, space: Any, arch_column: str, column: str) -> dict[str, float]:
    table.require(arch_column, column)
    return {
        space.encode(r[arch_column]): float(r[column])
        for r in table.rows
        if r.get(column) not in (None, "")
    }


_COLUMN = "column:"


def _column_evaluators(
    names: list[str], table: Any, space: Any, arch_column: str
) -> dict[str, Any]:
    """Evaluators ``column:NAME``: a precomputed zero-cost score looked up in the table (0 s)."""
    from lswag_plugin.compare import TableOracle

    return {
        n: TableOracle(space, _table_column(table, space, arch_column, n[len(_COLUMN) :]), name=n)
        for n in names
        if n.startswith(_COLUMN)
    }


def _pool_space(
    args: argparse.Namespace, space: Any, table: Any, columns: list[str], budget: int
) -> tuple[Any, list[str]]:
    """``--pool table``: the space restricted to the architectures with a value in every column.

    Returns the space the strategies search (``space`` itself without ``--pool``) and the report's
    notes on the pool.
    """
    if args.pool is None:
        return space, []
    from lswag_plugin.errors import CompareError
    from lswag_plugin.spaces import PoolSpace

    keys = None
    for column in dict.fromkeys(columns):
        values = set(_table_column(table, space, args.arch_column, column))
        keys = values if keys is None else keys & values
    if not keys:
        raise CompareError(
            f"--pool table: no architecture of {args.table} has a value in every column read "
            f"({', '.join(dict.fromkeys(columns))})"
        )
    pool = PoolSpace(space, keys)
    if budget > len(pool):
        raise CompareError(
            f"--pool table: a run of {budget} distinct evaluations needs at least {budget} "
            f"architectures, the table's pool has {len(pool)}; lower the budget"
        )
    note = (
        f"Pool-restricted search (`--pool table`, pool {pool.fingerprint()}): every strategy "
        f"proposes only the {len(pool)} distinct architectures of the table with a value in "
        f"{', '.join(f'`{c}`' for c in dict.fromkeys(columns))}; results are over this pool, "
        "not the whole space."
    )
    return pool, [note]


def _open_cache(args: argparse.Namespace, needed: bool) -> Any:
    cache = open_cache(args.cache)
    if cache is None and needed:
        from lswag_plugin.cache import ScoreCache

        cache = ScoreCache(":memory:")  # one pass per cell still serves every proxy of the grid
    return cache


def _scoring_notes(args: argparse.Namespace, config: Any, grids: list[Any]) -> list[str]:
    notes = [
        f"Zero-cost scoring: batch {args.batch_size} ({args.minibatches} minibatches) of "
        f"`{args.data or 'default photos'}`, score seed {config.seed}, device {args.device}, "
        f"{args.threads} torch thread(s)."
    ]
    if grids:
        computed = sum(sum(g.computed.values()) for g in grids)
        computed += args.worker_counts.get("computed", 0)
        estimated = sum(g.estimated for g in grids) + args.worker_counts.get("estimated", 0)
        workers = f" ({args.workers} worker processes)" if args.workers > 1 else ""
        notes.append(
            f"Cells scored by the engine in this invocation{workers}: {computed}; "
            f"evaluations charged the median cost (score cached without seconds): {estimated}."
        )
    return notes


def _worker_counts(grids: list[Any]) -> dict[str, int]:
    return (
        {
            "computed": sum(sum(g.computed.values()) for g in grids),
            "estimated": sum(g.estimated for g in grids),
        }
        if grids
        else {}
    )


def run(args: argparse.Namespace) -> int:
    from lswag_plugin.bench.tables import read_table
    from lswag_plugin.spaces import get_space

    apply_threads(args)
    space = get_space(args.space)
    config = scoring_config(args)
    table = read_table(args.table)
    accuracy = _table_column(table, space, args.arch_column, args.target)
    args.worker_counts = {}
    if args.trainings:
        return _run_trainings(args, space, config, table, accuracy)
    from lswag_plugin.compare import (
        TableOracle,
        ZeroCostGrid,
        plot_runs,
        run_grid,
        summary,
        write_markdown,
    )

    strategies = [s for s in (args.strategies or ",".join(_TRAINING_ONLY)).split(",") if s]
    names = [e for e in (args.evaluators or "lswag,nwot,params,oracle").split(",") if e]
    seeds = args.seeds
    out = Path(args.out)
    columns = [args.target] + [n[len(_COLUMN) :] for n in names if n.startswith(_COLUMN)]
    searched, pool_notes = _pool_space(args, space, table, columns, args.budget)
    pool_id = searched.fingerprint() if searched is not space else None
    if pool_id is not None:
        accuracy = {k: accuracy[k] for k in searched.keys}
    zero_cost = [n for n in names if n != "oracle" and not n.startswith(_COLUMN)]
    cache = _open_cache(args, bool(zero_cost))
    grid = None
    if zero_cost:
        grid = ZeroCostGrid(space, zero_cost, cache=cache, config=config)
    columns = _column_evaluators(names, table, space, args.arch_column)
    evaluators: dict[str, Any] = {}
    for name in names:
        if name == "oracle":
            evaluators[name] = TableOracle(space, accuracy)
        else:
            evaluators[name] = columns[name] if name in columns else grid.evaluator(name)  # type: ignore[union-attr]

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
    if args.workers > 1 and not args.report_only and args.shard is None:
        code = _run_workers(args)  # the children run the grid; this process writes the report
        if code:
            return code
    if args.report_only or (args.workers > 1 and args.shard is None):
        from lswag_plugin.compare import load_runs

        runs = [
            r
            for r in load_runs(runs_path)
            if r.get("mode", "evaluations") == "evaluations"
            and r.get("pool") == pool_id
            and r["budget"] == args.budget
            and r["strategy"] in strategies
            and r["evaluator"] in names
            and r["seed"] in seeds
        ]
    else:
        runs = run_grid(
            searched,
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
            print(json.dumps(_worker_counts([grid] if grid else [])))
            return 0
    if not runs:
        print(f"lswag compare: no finished runs in {runs_path}", file=sys.stderr)
        return 2
    best = max(accuracy.values())
    pooled = " (table pool)" if pool_id else ""
    title = f"{args.space}{pooled} {args.target}: strategies × evaluators, budget {args.budget}"
    notes = [
        f"Optimum of the table: {best:.2f}. Budget: {args.budget} distinct evaluations per run. "
        f"Seeds requested: {', '.join(map(str, seeds))}.",
        *pool_notes,
        *_scoring_notes(args, config, [grid] if grid else []),
    ]
    write_markdown(runs, out / "report.md", title=title, notes=notes)
    plot_runs(runs, out / "best_vs_evaluations.png", x="evaluations", title=title)
    plot_runs(runs, out / "best_vs_seconds.png", x="seconds", title=title)
    rows = summary(runs)
    if args.json:
        print_json_line({"out": str(out), "runs": len(runs), "summary": rows})
    else:
        print(json.dumps(rows, indent=1) if not args.quiet else "", end="")
    return 0


def _run_trainings(
    args: argparse.Namespace, space: Any, config: Any, table: Any, accuracy: dict[str, float]
) -> int:
    """``--trainings``: training-only strategies and hybrids under a budget of trained evaluations."""
    from lswag_plugin.compare import (
        HYBRID_DEFAULTS,
        HYBRID_RUNNERS,
        RUNNERS,
        TableOracle,
        ZeroCostGrid,
        at_trainings,
        plot_regret,
        run_name,
        run_trainings_grid,
        summary_trainings,
        write_trainings_markdown,
    )
    from lswag_plugin.errors import UnknownStrategy

    trained = _table_column(table, space, args.arch_column, args.train_metric)
    strategies = [
        s for s in (args.strategies or ",".join(_TRAINING_ONLY + _HYBRIDS)).split(",") if s
    ]
    for name in strategies:
        if name not in RUNNERS and name not in HYBRID_RUNNERS:
            raise UnknownStrategy("strategy", name, {**RUNNERS, **HYBRID_RUNNERS})
    for name in args.hybrid_options or {}:
        if name not in HYBRID_RUNNERS:
            raise UnknownStrategy("hybrid strategy", name, HYBRID_RUNNERS)
    names = [e for e in (args.evaluators or "meco").split(",") if e]
    budget = max(args.trainings)
    out = Path(args.out)
    hybrids = any(s in HYBRID_RUNNERS for s in strategies)
    columns = [args.target, args.train_metric]
    if hybrids:
        columns += [n[len(_COLUMN) :] for n in names if n.startswith(_COLUMN)]
    searched, pool_notes = _pool_space(args, space, table, columns, budget)
    if searched is not space:
        accuracy = {k: accuracy[k] for k in searched.keys}
    zero_cost = [n for n in names if n != "oracle" and not n.startswith(_COLUMN)]
    cache = _open_cache(args, bool(zero_cost) and hybrids)
    # One grid per proxy: each is scored alone and charged its own seconds (not a shared pass).
    grids = (
        {p: ZeroCostGrid(space, [p], cache=cache, config=config) for p in zero_cost}
        if hybrids
        else {}
    )
    screens: dict[str, Any] = {p: g.evaluator(p) for p, g in grids.items()}
    screens.update(_column_evaluators(names, table, space, args.arch_column))
    train = TableOracle(space, trained, name=args.train_metric)
    if "oracle" in names:
        screens["oracle"] = train
    options = {
        s: dict((args.hybrid_options or {}).get(s, {})) for s in strategies if s in HYBRID_RUNNERS
    }

    def report(record: dict[str, Any]) -> None:
        if not args.quiet:
            print(
                f"{run_name(record):>26} seed {record['seed']}: best-found "
                f"{record['best_acc'][-1]:.2f} after {record['trainings']} trainings, "
                f"{record['screened_total']} zero-cost scores, {record['wall_seconds']:.1f} s wall",
                file=sys.stderr,
                flush=True,
            )

    runs_path = out / "runs.jsonl"
    grid_kwargs: dict[str, Any] = {
        "strategies": strategies,
        "seeds": args.seeds,
        "trainings": budget,
        "runs_path": runs_path,
        "train_metric": args.train_metric,
        "target": args.target,
        "options": options,
    }
    if args.workers > 1 and not args.report_only and args.shard is None:
        code = _run_workers(args)
        if code:
            return code
    if args.report_only or (args.workers > 1 and args.shard is None):
        runs = run_trainings_grid(
            searched, train, screens, accuracy, stored_only=True, **grid_kwargs
        )
    else:
        runs = run_trainings_grid(
            searched,
            train,
            screens,
            accuracy,
            on_run=report,
            shard=_shard(args.shard),
            **grid_kwargs,
        )
        if args.shard is not None:
            print(json.dumps(_worker_counts(list(grids.values()))))
            return 0
    if not runs:
        print(f"lswag compare: no finished runs in {runs_path}", file=sys.stderr)
        return 2
    optimum = max(accuracy.values())
    at = args.trainings
    title = (
        f"{args.space}{' (table pool)' if searched is not space else ''}: best trained cell's {args.target} vs trainings "
        f"(a training returns {args.train_metric})"
    )
    used = {s: {**HYBRID_DEFAULTS[s], **o} for s, o in options.items()}
    notes = [
        f"Optimum of the table ({args.target}): {optimum:.2f}. A trained evaluation returns the "
        f"table's `{args.train_metric}`; the report is the `{args.target}` of the cell with the best "
        f"trained result. Every run trains {budget} distinct cells; the value at T is its best after "
        f"T trainings. Seeds requested: {', '.join(map(str, args.seeds))}.",
        "Hybrid settings: "
        + "; ".join(f"{s} {json.dumps(o, sort_keys=True)}" for s, o in used.items())
        + ".",
        *pool_notes,
        *_scoring_notes(args, config, list(grids.values())),
    ]
    write_trainings_markdown(
        runs, out / "report.md", title=title, at=at, optimum=optimum, notes=notes
    )
    plot_regret(runs, out / "regret_vs_trainings.png", optimum=optimum, title=title, marks=at)
    rows = summary_trainings(runs, at)
    best = at_trainings(rows, at)
    if args.json:
        print_json_line({"out": str(out), "runs": len(runs), "summary": rows, "at_trainings": best})
    else:
        print(json.dumps(best, indent=1) if not args.quiet else "", end="")
    return 0
