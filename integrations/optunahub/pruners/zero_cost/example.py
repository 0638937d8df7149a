"""Zero-cost pruning of a study that trains: candidates with a poor L-SWAG score are never trained."""

from __future__ import annotations

from pathlib import Path

import optuna
import optunahub
import torch
from torch import nn

# Once published: mod = optunahub.load_module("pruners/zero_cost"). From this checkout:
REGISTRY = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)  # tiny models: one thread is fastest (and fair on a shared CPU)
mod = optunahub.load_local_module("pruners/zero_cost", registry_root=str(REGISTRY))


def build(trial: optuna.Trial) -> nn.Module:
    width = trial.suggest_int("width", 2, 32)
    depth = trial.suggest_int("depth", 1, 3)
    layers, channels = [], 3
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 8))


zero_cost = mod.ZeroCostObjective(build, proxy="lswag", batch_size=32)


def objective(trial: optuna.Trial) -> float:
    if mod.report_zero_cost(trial, zero_cost.score(trial)):
        raise optuna.TrialPruned()
    torch.manual_seed(0)
    model = build(trial)
    x, y = zero_cost.batch()
    opt = torch.optim.SGD(model.parameters(), lr=trial.suggest_float("lr", 1e-3, 1e-1, log=True))
    for step in range(1, 6):  # training steps start at 1 (step 0 holds the zero-cost score)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        trial.report(loss.item(), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return loss.item()


if __name__ == "__main__":
    pruner = mod.ZeroCostPruner(
        percentile=40, n_warmup_trials=4, wrapped=optuna.pruners.MedianPruner()
    )
    study = optuna.create_study(direction="minimize", pruner=pruner)
    study.optimize(objective, n_trials=16)
    print(study.best_trial.params, study.best_value)
