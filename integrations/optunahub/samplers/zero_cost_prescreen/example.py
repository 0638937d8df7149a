"""Pre-screening NAS-Bench-201 cells: TPE proposes 4 candidates per trial, L-SWAG keeps the best."""

from __future__ import annotations

from pathlib import Path

import optuna
import optunahub
import torch

from lswag_plugin.spaces import get_space

# Once published: mod = optunahub.load_module("samplers/zero_cost_prescreen"). From this checkout:
REGISTRY = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)  # small models: one thread is fastest (and fair on a shared CPU)
mod = optunahub.load_local_module("samplers/zero_cost_prescreen", registry_root=str(REGISTRY))
space = get_space("nb201", channels=8, cells_per_stage=1)


def build(trial: optuna.Trial):
    arch = mod.suggest_architecture(trial, space)
    trial.set_user_attr("arch", arch)
    return space.build(arch, num_classes=10)


if __name__ == "__main__":
    scorer = mod.ZeroCostObjective(build, proxy="lswag", batch_size=32)
    sampler = mod.PrescreenSampler(
        optuna.samplers.TPESampler(seed=0), objective=scorer, n_candidates=4
    )
    study = scorer.create_study(sampler=sampler)
    study.optimize(scorer, n_trials=10)
    print(study.best_trial.user_attrs["arch"], study.best_value)
