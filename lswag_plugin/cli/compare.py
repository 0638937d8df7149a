"""``lswag compare``: strategies × evaluators × seeds under equal budgets, with a report (argument
parsing only: :class:`lswag_plugin.compare.Comparison` does the work)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lswag_plugin.cli import _common as common
from lswag_plugin.compare import (
    DEFAULT_EVALUATORS,
    EVALUATIONS,
    TRAININGS,
    Comparison,
    default_strategies,
    describe_run,
)
from lswag_plugin.search import available_strategies


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
        "--budget", type=common.positive_int, default=200, help="distinct evaluations per run (200)"
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
        help="comma-separated: " + ", ".join(default_strategies(EVALUATIONS)) + " (all by "
        "default); with --trainings also the hybrids "
        + ", ".join(available_strategies(needs_proxy=True))
        + " (all by default)",
    )
    p.add_argument(
        "--evaluators",
        default=None,
        help="comma-separated proxies (lswag, libra, nwot, params, ...) and 'oracle' (default "
        f"{','.join(DEFAULT_EVALUATORS[EVALUATIONS])}); with --trainings the hybrids' zero-cost "
        f"proxies (default {','.join(DEFAULT_EVALUATORS[TRAININGS])}; 'oracle' there is the "
        "--train-metric itself, at no cost); 'column:NAME' reads a precomputed score from the "
        "table's column NAME (higher is better, charged 0 s)",
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
    # "i/n": run one share of the grid (Comparison.run(workers=n) does it in processes).
    p.add_argument("--shard", type=lambda t: tuple(map(int, t.split("/"))), help=argparse.SUPPRESS)
    common.add_scoring_options(p)
    # Here --workers are processes sharing the grid, the score cache and runs.jsonl (one per core);
    # one torch thread each by default.
    p.set_defaults(func=run, threads=1)


def _seeds(text: str) -> list[int]:
    """``"5"`` → 0..4; ``"0,3"`` → [0, 3]; ``"0-9"`` → 0..9; ``"0-4,7"`` → [0..4, 7] (no repeats)."""
    text = text.strip()
    seeds: list[int] = []
    try:
        parts = [] if text.isdigit() else [p.strip() for p in text.split(",")]
        if text.isdigit():
            seeds = list(range(int(text)))
        for first, sep, last in (p.partition("-") for p in parts if p):
            if sep and int(first) > int(last):
                raise ValueError
            seeds.extend(range(int(first), int(last) + 1) if sep else [int(first)])
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


def _names(text: str | None) -> list[str] | None:
    return [name for name in text.split(",") if name] if text else None


def _print_run(record: dict[str, Any]) -> None:
    print(describe_run(record), file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    common.apply_threads(args)
    trainings = bool(args.trainings)
    comparison = Comparison(
        args.space,
        args.table,
        target=args.target,
        out=args.out,
        mode=TRAININGS if trainings else EVALUATIONS,
        budget=None if trainings else args.budget,
        at=args.trainings,
        seeds=args.seeds,
        strategies=_names(args.strategies),
        evaluators=_names(args.evaluators),
        arch_column=args.arch_column,
        train_metric=args.train_metric,
        options=args.hybrid_options if trainings else None,
        pool=args.pool,
        config=common.scoring_config(args),
        cache=common.open_cache(args.cache),
    )
    on_run = None if args.quiet else _print_run
    if args.shard is not None:  # one worker's share; the caller writes the report
        comparison.run(shard=args.shard, on_run=on_run)
        print(json.dumps(comparison.counts))
        return 0
    if args.report_only:
        runs = comparison.stored()
    else:
        runs = comparison.run(workers=args.workers, on_run=on_run)
    if not runs:
        print(f"lswag compare: no finished runs in {comparison.runs_path}", file=sys.stderr)
        return 2
    result = comparison.report(runs, workers=args.workers)
    if args.json:
        common.print_json_line(result)
    elif not args.quiet:
        print(json.dumps(result.get("at_trainings", result["summary"]), indent=1), end="")
    return 0
