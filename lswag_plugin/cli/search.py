"""``lswag search``: evolution or random search over a space with a zero-cost proxy (or LIBRA) as fitness."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lswag_plugin.cli import _common as common
from lswag_plugin.output import figure
from lswag_plugin.search import available_strategies


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search",
        help="search a space with a zero-cost proxy as fitness",
        description="Evolution (AutoFormer's recipe) or random search over a search space, scoring each "
        "architecture with a zero-cost proxy (or a fitted LIBRA model). Scores are cached on disk.",
    )
    p.add_argument(
        "--space",
        required=True,
        help="nb101, nb201, darts, darts-eval, pit, autoformer-t, autoformer-s, autoformer-b",
    )
    p.add_argument(
        "--strategy",
        choices=available_strategies(host="ours", needs_proxy=False),  # the registry's
        default="evolution",
    )
    p.add_argument("--proxy", default="lswag", help="the fitness: a proxy name or 'libra'")
    p.add_argument(
        "--budget", type=common.positive_int, default=500, help="distinct architectures to evaluate"
    )
    p.add_argument(
        "--seed",
        type=common.non_negative_int,
        default=0,
        help="seed of the strategy's random choices",
    )
    p.add_argument("--params-max", type=float, default=None, help="upper #params limit (millions)")
    p.add_argument("--params-min", type=float, default=None, help="lower #params limit (millions)")
    p.add_argument(
        "--population", type=common.positive_int, default=50, help="evolution: population (50)"
    )
    p.add_argument(
        "--generations", type=common.positive_int, default=20, help="evolution: generations (20)"
    )
    p.add_argument(
        "--parents", type=common.positive_int, default=10, help="evolution: top-k parents (10)"
    )
    p.add_argument("--mutation-prob", type=common.unit_float, default=0.2)
    p.add_argument("--resample-prob", type=common.unit_float, default=0.4)
    p.add_argument("--plot", default=None, help="write the trajectory plot (PNG/PDF/SVG) here")
    p.add_argument("--out", default=None, help="write the full result (with history) as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_scoring_options(
        p,
        seed_help="default 0: scores, and the cache, are shared by searches with different --seed",
    )
    p.set_defaults(func=run)


def plot_trajectory(results: list[Any], path: str | Path, *, title: str = "") -> Path:
    """Writes a best-fitness-so-far vs evaluations plot of one or more :class:`SearchResult`."""
    with figure(path, figsize=(6, 4), dpi=100, formats=(".png", ".pdf", ".svg")) as (_, ax):
        for r in results:
            xs = [h["evaluation"] for h in r.history]
            ax.plot(xs, r.trajectory(), label=f"{r.strategy} (seed {r.seed})")
            ax.scatter(xs, [h["score"] for h in r.history], s=4, alpha=0.3)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("fitness (best so far; dots: each evaluation)")
        ax.set_title(title)
        ax.legend()
    return Path(path)


def run(args: argparse.Namespace) -> int:
    from lswag_plugin.search import ProxyEvaluator, get_strategy
    from lswag_plugin.spaces import get_space

    common.apply_threads(args)
    space = get_space(args.space)
    config = common.scoring_config(args)
    kwargs: dict[str, Any] = {"params_min": args.params_min, "params_max": args.params_max}
    if args.strategy == "evolution":
        kwargs.update(
            population=args.population,
            generations=args.generations,
            parents=args.parents,
            mutation=args.population // 2,
            crossover=args.population - args.population // 2,
            mutation_prob=args.mutation_prob,
            resample_prob=args.resample_prob,
        )
    strategy = get_strategy(args.strategy, **kwargs)
    evaluate = ProxyEvaluator(
        space, args.proxy, config, cache=common.open_cache(args.cache), workers=args.workers
    )
    bar = _tqdm_or_none(args)
    result = strategy.search(
        space,
        evaluate,
        budget=args.budget,
        seed=args.seed,
        callback=None if bar is None else _bar_callback(bar),
    )
    if bar is not None:
        bar.close()
    summary = {
        "space": args.space,
        "strategy": args.strategy,
        "proxy": args.proxy,
        "seed": args.seed,
        "budget": args.budget,
        "evaluations": result.evaluations,
        "scored": evaluate.computed,
        "best_arch": result.best_arch,
        "best_score": result.best_score,
        "best_params": result.best_params,
        "seconds": result.seconds,
    }
    arch_text = (
        result.best_arch if isinstance(result.best_arch, str) else json.dumps(result.best_arch)
    )
    print(f"best architecture: {arch_text}")
    print(
        f"fitness ({args.proxy}): {result.best_score:.6g}   #params: {result.best_params}   "
        f"evaluations: {result.evaluations} ({evaluate.computed} scored, the rest cached)   "
        f"{result.seconds:.1f}s"
    )
    if args.plot:
        plot_trajectory([result], args.plot, title=f"{args.space}: {args.strategy}, {args.proxy}")
        summary["plot"] = args.plot
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**summary, "history": result.history}, indent=1) + "\n")
    if args.json:
        common.print_json_line(summary)
    return 0


def _tqdm_or_none(args: argparse.Namespace) -> Any:
    if args.quiet:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=args.budget, desc=f"{args.strategy}/{args.proxy}", file=sys.stderr, dynamic_ncols=True
    )


def _bar_callback(bar: Any) -> Any:
    state = {"done": 0}

    def callback(done: int, budget: int, best: float) -> None:
        bar.update(done - state["done"])
        bar.set_postfix(best=f"{best:.5g}")
        state["done"] = done

    return callback
