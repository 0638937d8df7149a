"""``lswag band``: the label-free layer band [l̂, L̂] of a search space (computed once, cached)."""

from __future__ import annotations

import argparse

from lswag_plugin.cli import _common as common


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "band",
        help="find the layer band of a search space (percentile-spike procedure)",
        description="Sample random networks at init, average mean log σ of gradients per percentile "
        "bin of depth, and detect the spike. Falls back to all bins when no bin stands out.",
    )
    p.add_argument("--space", required=True)
    p.add_argument(
        "--networks",
        type=common.positive_int,
        default=1000,
        help="random networks to sample (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and the inits")
    p.add_argument(
        "--k", type=float, default=3.0, help="spike threshold in scaled MADs (default 3)"
    )
    p.add_argument("--plot", default=None, help="write the profile to this PNG")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    common.add_scoring_options(p, cache=None, seed_help="default --seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lswag_plugin.bands import estimate_band
    from lswag_plugin.spaces import get_space

    common.apply_threads(args)
    space = get_space(args.space)
    est = estimate_band(
        space,
        common.scoring_config(args, seed=args.seed),
        num_networks=args.networks,
        k=args.k,
        use_cache=not args.no_cache,
        show_progress=True,
        workers=args.workers,
    )
    print(f"{space.name}: mean log sigma per percentile bin over {est.num_networks} networks")
    for b, (m, s) in enumerate(zip(est.bin_means, est.bin_stds)):
        print(f"  bin {b}: {m:8.3f} ± {s:.3f}")
    verdict = "spike found" if est.spike_found else "no spike: fallback to all bins"
    print(f"band [{est.band[0]}, {est.band[1]}] ({verdict}, k={est.k})")
    if args.plot:
        print(f"wrote {est.plot(args.plot)}")
    if args.json:
        common.print_json_line(asdict(est))
    return 0
