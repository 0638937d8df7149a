"""``lswag score``: score models (timm, search-space architectures, user factories) on one batch."""

from __future__ import annotations

import argparse
import math

from lswag_plugin.cli import _common as common


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score models on one batch",
        description="Score models with zero-cost proxies. MODEL is timm:NAME, nb201:ARCH_STR, "
        "SPACE:ARCH_JSON or module:path/to/file.py:factory.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--proxies", default="lswag", help="comma-separated proxy names, or 'all'")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch, init and passes")
    common.add_scoring_options(p, cache="none", seed_help="default --seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    common.apply_threads(args)
    import functools

    from lswag_plugin.engine import CandidateKey, Scorer, resolve_names
    from lswag_plugin.models import build_model, default_resolution, model_cache_id

    names = resolve_names(args.proxies)
    config = common.scoring_config(args, seed=args.seed)
    cache = common.open_cache(args.cache)
    build = functools.partial(
        build_model, num_classes=config.num_classes, resolution=config.resolution, seed=config.seed
    )
    # The input size of each model (--resolution, else the model's own), then one scorer per size.
    resolutions = [config.resolution or default_resolution(build(spec)) for spec in args.models]
    by_resolution: dict[int, list[int]] = {}
    for i, res in enumerate(resolutions):
        by_resolution.setdefault(res, []).append(i)
    entries: dict[int, dict] = {}
    for res, indices in by_resolution.items():
        specs = [args.models[i] for i in indices]
        ids = [model_cache_id(spec) for spec in specs]
        keys = [CandidateKey(ns, arch) if cache and ns else None for ns, arch in ids]
        with Scorer(
            names, config.replace(resolution=res), cache=cache, workers=args.workers
        ) as scorer:
            results = scorer.map(
                [functools.partial(build, spec) for spec in specs], specs, keys=keys, catch=False
            )
        for i, result in zip(indices, results):
            entries[i] = {
                "scores": {n: result.values[n] for n in names},  # type: ignore[index]
                "components": result.components,
                "seconds": result.seconds,
                "cached": result.cached,
            }
    settings = {k: v for k, v in config.to_dict().items() if k not in ("resolution", "options")}
    settings["precision"] = config.precision or "float32"
    results = [
        {"model": spec, "resolution": resolutions[i], **entries[i], "settings": settings}
        for i, spec in enumerate(args.models)
    ]
    width = max(len(r["model"]) for r in results)
    width = min(max(width, 8), 60)
    print(f"{'model':<{width}}  " + "  ".join(f"{n:>12}" for n in names) + f"  {'seconds':>8}")
    for r in results:
        vals = "  ".join(f"{_fmt(r['scores'][n]):>12}" for n in names)
        print(f"{r['model'][:width]:<{width}}  {vals}  {r['seconds']:>8.2f}")
    if args.json:
        common.print_json_line({"results": results})
    return 0


def _fmt(v: float) -> str:
    return str(v) if not math.isfinite(v) else f"{v:.5g}"
