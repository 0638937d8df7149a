"""Zero-cost search of a timm Vision Transformer space with Optuna: L-SWAG against size, with NSGA-II.

Every candidate is an untrained ``vit_tiny_patch16_224`` variant at 32×32 (patch 8) whose depth, width,
heads and MLP ratio are Optuna parameters; it is scored on the photographs shipped with scikit-image.
The study maximises L-SWAG and minimises the parameter count; the Pareto front is printed. Under a
minute on a laptop CPU::

    python examples/optuna_vit_search.py --trials 24
"""

from __future__ import annotations

import argparse

import optuna
import torch

from lswag_plugin.optuna import ZeroCostObjective, timm_builder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small models: one thread is fastest (and fair on a shared CPU)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    build = timm_builder(
        "vit_tiny_patch16_224",
        choices={
            "embed_dim": [48, 96, 192],
            "depth": [2, 4, 6],
            "num_heads": [3, 6],
            "mlp_ratio": [2.0, 3.0, 4.0],
        },
        fixed={"img_size": 32, "patch_size": 8},
        num_classes=8,
    )
    objective = ZeroCostObjective(
        build, proxy="lswag", minimize=("params",), batch_size=32, resolution=32, seed=args.seed
    )
    sampler = optuna.samplers.NSGAIISampler(population_size=8, seed=args.seed)
    study = objective.create_study(sampler=sampler)
    study.optimize(objective, n_trials=args.trials)

    print(f"{len(study.trials)} ViTs scored; Pareto front (L-SWAG up, parameters down):")
    print(f"{'trial':>5} {'lswag':>12} {'params':>9}  architecture")
    for t in sorted(study.best_trials, key=lambda t: t.values[1]):
        print(f"{t.number:>5} {t.values[0]:>12.6g} {t.values[1]:>9.0f}  {t.params}")


if __name__ == "__main__":
    main()
