"""A tiny zero-cost workload for the distributed tests and the workers benchmark (a few ms per trial).

Parameters: ``kind`` ∈ {conv, mlp, broken, nan}, ``width``. ``broken`` fails to build (→ FAIL with a
reason), ``nan`` produces NaN outputs (→ FAIL, NaN score); the rest are scored with L-SWAG and reported to
a :class:`ZeroCostPruner` (→ COMPLETE or PRUNED). With ``LSWAG_TEST_HANG_AT=k`` in the environment, the
worker's k-th trial marks itself ``user_attrs["hang"]`` and sleeps: the test kills that worker. With
``LSWAG_TEST_RUNLOG=dir`` every objective call appends the trial number to ``dir/<pid>.txt``. With
``LSWAG_TEST_GATE=path``, a trial waits while ``path`` exists.
"""

from __future__ import annotations

import os
import time

import optuna
import torch
from torch import nn

from lswag_plugin.data import default_batch
from lswag_plugin.optuna import ZeroCostObjective, ZeroCostPruner, report_zero_cost


class _NaNOut(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


def build(trial: optuna.Trial) -> nn.Module:
    kind = trial.suggest_categorical("kind", ["conv", "mlp", "broken", "nan"])
    width = trial.suggest_int("width", 2, 12)
    if kind == "broken":
        raise RuntimeError(f"cannot build kind=broken (width {width})")
    head = [nn.Flatten(), nn.Linear(width, 8)]
    if kind == "nan":
        head.append(_NaNOut())
    if kind == "conv":
        body = [nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1)]
    else:
        body = [nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, width), nn.ReLU()]
        head = head[1:]
    return nn.Sequential(*body, *head)


torch.set_num_threads(1)  # several workers share few cores
zero_cost = ZeroCostObjective(
    build, proxy="lswag", data=default_batch(8, resolution=8), cache_size=0
)
_count = {"trials": 0}


def objective(trial: optuna.Trial) -> float:
    gate = os.environ.get("LSWAG_TEST_GATE")
    deadline = time.monotonic() + 300
    while gate and os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)  # held while the test lets a joining worker start (heartbeats go on)
    _count["trials"] += 1
    runlog = os.environ.get("LSWAG_TEST_RUNLOG")
    if runlog:  # one line per objective call: the test checks no trial ran twice
        with open(os.path.join(runlog, f"{os.getpid()}.txt"), "a") as f:
            f.write(f"{trial.number}\n")
    hang_at = os.environ.get("LSWAG_TEST_HANG_AT")
    if hang_at and _count["trials"] == int(hang_at):
        trial.set_user_attr("hang", True)
        time.sleep(600)
    value = zero_cost(trial)
    if value == value and report_zero_cost(trial, value):  # NaN: FAIL, not PRUNED
        raise optuna.TrialPruned()
    return value


sampler = optuna.samplers.RandomSampler()
pruner = ZeroCostPruner(percentile=25.0, n_warmup_trials=5)
