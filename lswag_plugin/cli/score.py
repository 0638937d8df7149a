"""``lswag score``: score models (timm, search-space architectures, user factories) on one batch."""

from __future__ import annotations

import argparse
import math

from lswag_plugin.cli._common import (
    add_scoring_options,
    apply_threads,
    print_json_line,
    progress,
    proxy_options,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score models on one batch",
        description="Score models with zero-cost proxies. MODEL is timm:NAME, nb201:ARCH_STR, "
        "SPACE:ARCH_JSON or module:path/to/file.py:factory.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument(
        "--data", default=None, help=".npz file or image folder (default: shipped photos)"
    )
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--resolution", type=int, default=None, help="input size (default: the model's)")
    add_scoring_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    from lswag_plugin.data import load_batch
    from lswag_plugin.engine import score
    from lswag_plugin.models import build_model, default_resolution
    from lswag_plugin.proxies import resolve_names

    names = resolve_names(args.proxies)
    results = []
    for spec in progress(args.models, desc="scoring", disable=len(args.models) < 2):
        model = build_model(
            spec, num_classes=args.num_classes, resolution=args.resolution, seed=args.seed
        )
        res = args.resolution or default_resolution(model)
        batch = load_batch(args.data, batch_size=args.batch_size, seed=args.seed, resolution=res)
        s = score(
            model,
            batch,
            names,
            seed=args.seed,
            batch_size=args.batch_size,
            minibatches=args.minibatches,
            device=args.device,
            layer_band=args.layer_band,
            options=proxy_options(args),
            precision=args.precision,
        )
        results.append({"model": spec, "resolution": res, **s.as_dict()})
    width = max(len(r["model"]) for r in results)
    width = min(max(width, 8), 60)
    print(f"{'model':<{width}}  " + "  ".join(f"{n:>12}" for n in names) + f"  {'seconds':>8}")
    for r in results:
        vals = "  ".join(f"{_fmt(r['scores'][n]):>12}" for n in names)
        print(f"{r['model'][:width]:<{width}}  {vals}  {r['seconds']:>8.2f}")
    if args.json:
        print_json_line({"results": results})
    return 0


def _fmt(v: float) -> str:
    return str(v) if not math.isfinite(v) else f"{v:.5g}"
