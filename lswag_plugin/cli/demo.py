"""``lswag demo``: a real zero-cost architecture search with Optuna, in about a minute on a laptop CPU.

The study searches a small mixed space — NAS-Bench-201 cells (a CNN of 8 channels, one cell per stage) or
a tiny Vision Transformer (timm, 32×32 input, patch 8) — scoring every untrained candidate with L-SWAG on
the photographs shipped with scikit-image (no download). The study lives in a journal file, so running
the command again resumes it, and several processes may share it (``--storage`` takes a PostgreSQL URL
too). It prints the best architectures and writes the optimisation history as a PNG.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from lswag_plugin.cli import _common as common

VIT_CHOICES = {
    "embed_dim": [32, 64, 96],
    "depth": [1, 2, 3, 4],
    "num_heads": [2, 4],
    "mlp_ratio": [2.0, 4.0],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="zero-cost Optuna search over a small CNN/ViT space (about a minute)",
        description="Run a zero-cost architecture search with Optuna over NAS-Bench-201 cells and "
        "tiny ViTs on the shipped photographs; print the best architectures and plot the history.",
    )
    p.add_argument(
        "--trials",
        type=common.non_negative_int,
        default=40,
        help="trials to add to the study (default 40)",
    )
    p.add_argument("--space", choices=("both", "cnn", "vit"), default="both")
    p.add_argument("--proxy", default="lswag", help="zero-cost proxy to maximise (default lswag)")
    p.add_argument(
        "--prescreen",
        type=common.non_negative_int,
        default=0,
        metavar="K",
        help="score K candidates per trial and keep the best (PrescreenSampler; default off)",
    )
    p.add_argument("--out", default="lswag-demo", help="folder for the study and the plot")
    p.add_argument(
        "--storage",
        default=None,
        help="journal file or RDB URL (default OUT/study.journal; postgresql+psycopg2://... works)",
    )
    p.add_argument("--study", default="lswag-demo", help="study name (resumed if it exists)")
    p.add_argument("--top", type=common.positive_int, default=5, help="best architectures to print")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch, weights and sampler")
    common.add_scoring_options(p, num_classes=8, cache="none", seed_help="default --seed")
    # One torch thread by default: fastest for these small models, fair on a shared CPU.
    p.set_defaults(func=run, threads=1, resolution=32)


def make_build_model(space: str) -> Any:
    """Returns ``build_model(trial)`` over the demo space (``"both"``, ``"cnn"`` or ``"vit"``)."""
    from lswag_plugin.optuna import suggest_architecture, timm_builder
    from lswag_plugin.spaces import get_space

    cnn_space = get_space("nb201", channels=8, cells_per_stage=1)
    vit = timm_builder(
        "vit_tiny_patch16_224",
        choices=VIT_CHOICES,
        fixed={"img_size": 32, "patch_size": 8},
        num_classes=8,
        prefix="vit_",
    )

    def build_model(trial: Any) -> Any:
        family = space if space != "both" else trial.suggest_categorical("family", ["cnn", "vit"])
        trial.set_user_attr("family", family)
        if family == "cnn":
            arch = suggest_architecture(trial, cnn_space, prefix="cnn_")
            trial.set_user_attr("arch", arch)
            return cnn_space.build(arch, num_classes=8)
        model = vit(trial)
        chosen = {k: trial.params[f"vit_{k}"] for k in VIT_CHOICES}
        trial.set_user_attr("arch", json.dumps(chosen, separators=(",", ":")))
        return model

    return build_model


def _study(args: argparse.Namespace, storage_spec: str, seed: int) -> tuple[Any, Any]:
    """Returns ``(objective, study)`` of the demo: the objective, its sampler, the shared storage."""
    import optuna

    from lswag_plugin.optuna import PrescreenSampler, ZeroCostObjective, open_storage

    objective = ZeroCostObjective(
        make_build_model(args.space),
        proxy=args.proxy,
        record=("params",) if args.proxy != "params" else (),
        config=common.scoring_config(args, seed=args.seed),
        cache=common.open_cache(args.cache),
    )
    sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(seed=seed)
    if args.prescreen:
        sampler = PrescreenSampler(sampler, objective=objective, n_candidates=args.prescreen)
    study = optuna.create_study(
        study_name=args.study,
        storage=open_storage(storage_spec),
        directions=objective.directions(),
        sampler=sampler,
        load_if_exists=True,
    )
    return objective, study


def _worker(args: argparse.Namespace, storage_spec: str, index: int) -> int:
    """One of ``--workers`` processes: runs planned trials of the shared study until none is left."""
    import warnings

    import optuna

    from lswag_plugin.optuna import run_worker

    common.apply_threads(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective, study = _study(args, storage_spec, seed=args.seed + index)  # own sampler stream
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_worker(study, objective, heartbeat_interval=2.0)


def run(args: argparse.Namespace) -> int:
    import multiprocessing
    import warnings

    import optuna

    from lswag_plugin.optuna import plan_trials

    common.apply_threads(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    storage_spec = args.storage or str(out / "study.journal")
    objective, study = _study(args, storage_spec, seed=args.seed)
    earlier = len(study.trials)
    if earlier:
        print(f"resuming study {args.study!r} ({earlier} earlier trials) in {storage_spec}")
    if args.workers > 1:
        # The budget is planned once; each worker process pops planned trials (exact budget, and a
        # killed worker's trial is failed with a reason by the others).
        plan_trials(study, args.trials)
        print(f"{args.workers} worker processes share the study")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.workers) as pool:
            pool.starmap(_worker, [(args, storage_spec, i) for i in range(args.workers)])
        study = optuna.load_study(study_name=args.study, storage=study._storage)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NaN candidates FAIL with a reason in their attributes
            study.optimize(objective, n_trials=args.trials, show_progress_bar=True)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    sign = -1.0 if objective.directions()[0] == "maximize" else 1.0
    ranked = sorted(done, key=lambda t: (sign * t.value, t.number))
    best, seen = [], set()
    for t in ranked:  # samplers revisit architectures: list each once (its first trial)
        arch = t.user_attrs.get("arch")
        if arch not in seen:
            seen.add(arch)
            best.append(t)
    best = best[: args.top]
    print(
        f"\n{len(study.trials)} trials ({len(done)} complete, {len(failed)} failed, "
        f"{len(seen)} distinct architectures) in {storage_spec}; best by {args.proxy}:"
    )
    print(f"{'rank':>4} {'trial':>5} {'family':>6} {args.proxy:>12} {'params':>9}  architecture")
    for rank, t in enumerate(best, 1):
        params = t.user_attrs.get("params", math.nan)
        print(
            f"{rank:>4} {t.number:>5} {t.user_attrs.get('family', '?'):>6} {t.value:>12.6g} "
            f"{params:>9.0f}  {t.user_attrs.get('arch', '')}"
        )
    plot = out / "history.png"
    if done:
        _plot_history(study, plot)
        print(f"optimisation history: {plot}")
    if args.json:
        common.print_json_line(
            {
                "storage": storage_spec,
                "study": args.study,
                "trials": len(study.trials),
                "complete": len(done),
                "failed": len(failed),
                "plot": str(plot) if done else None,
                "best": [
                    {
                        "trial": t.number,
                        "value": t.value,
                        "params": t.user_attrs.get("params"),
                        "family": t.user_attrs.get("family"),
                        "arch": t.user_attrs.get("arch"),
                    }
                    for t in best
                ],
            }
        )
    return 0


def _plot_history(study: Any, path: Path) -> None:
    import warnings

    import optuna

    from lswag_plugin.output import pyplot

    plt = pyplot()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(study)
    ax.set_title(f"lswag demo: zero-cost search ({len(study.trials)} trials)")
    ax.figure.set_size_inches(8, 4.5)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
