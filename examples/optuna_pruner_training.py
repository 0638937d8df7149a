"""A study that trains, with zero-cost pruning first: poor candidates are dropped before any training.

Each trial builds a small NAS-Bench-201 network, reports its L-SWAG score at step 0
(``report_zero_cost``), and — unless :class:`ZeroCostPruner` prunes it — trains a few SGD steps on the
shipped photographs, reporting the loss at steps 1, 2, ... where the wrapped ``MedianPruner`` takes over.
The study minimises the loss, the pruner judges L-SWAG in its own direction (higher is better). Under a
minute on a laptop CPU::

    python examples/optuna_pruner_training.py --trials 16
"""

from __future__ import annotations

import argparse

import optuna
import torch
from torch import nn

from lswag_plugin.data import default_batch
from lswag_plugin.optuna import ZeroCostObjective, ZeroCostPruner, report_zero_cost, space_builder
from lswag_plugin.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="training steps per trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small models: one thread is fastest (and fair on a shared CPU)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    build = space_builder(get_space("nb201", channels=8, cells_per_stage=1), num_classes=8)
    x, y = default_batch(64, resolution=32, seed=args.seed)
    zero_cost = ZeroCostObjective(build, proxy="lswag", data=(x, y), seed=args.seed)

    def objective(trial: optuna.Trial) -> float:
        if report_zero_cost(trial, zero_cost.score(trial)):  # step 0: before training
            raise optuna.TrialPruned()
        torch.manual_seed(args.seed)
        model = build(trial)
        lr = trial.suggest_float("lr", 1e-2, 0.3, log=True)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        for step in range(1, args.steps + 1):  # training steps start at 1
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            trial.report(loss.item(), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss.item()

    pruner = ZeroCostPruner(
        percentile=50, n_warmup_trials=4, wrapped=optuna.pruners.MedianPruner(n_startup_trials=4)
    )
    study = optuna.create_study(
        direction="minimize", pruner=pruner, sampler=optuna.samplers.TPESampler(seed=args.seed)
    )
    study.optimize(objective, n_trials=args.trials)

    print(f"{'trial':>5} {'state':>8} {'lswag':>12} {'steps':>5} {'loss':>8}  architecture")
    for t in study.trials:
        trained = max((s for s in t.intermediate_values if s > 0), default=0)
        loss = f"{t.value:.4f}" if t.value is not None and trained == args.steps else "-"
        zc = t.user_attrs.get("zero_cost")
        print(
            f"{t.number:>5} {t.state.name:>8} {zc if zc is None else format(zc, '.6g'):>12} "
            f"{trained:>5} {loss:>8}  {t.user_attrs.get('arch')}"
        )
    pruned_at_zero = sum(1 for t in study.trials if t.state.name == "PRUNED" and t.last_step == 0)
    print(
        f"pruned before training: {pruned_at_zero}/{len(study.trials)}; best loss {study.best_value:.4f}"
    )


if __name__ == "__main__":
    main()
