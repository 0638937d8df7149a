"""Optuna integration: zero-cost objective, pruner and pre-screening sampler; shared (distributed) studies.

Named after the host library as optuna-integration names its modules: inside this package ``import
optuna`` is the real Optuna. ``import lswag_plugin`` does not import this package, so Optuna is needed only
by code that uses it (``pip install "lswag-plugin[optuna]"``).

- :class:`ZeroCostObjective` — ``objective(trial)`` returns the zero-cost score of ``build_model(trial)``.
- :class:`ZeroCostPruner` — prunes trials whose zero-cost score, reported at :data:`ZERO_COST_STEP`
  before training, is below a percentile of earlier trials; wraps another pruner for training steps.
- :class:`PrescreenSampler` — wraps any sampler; draws K candidates per trial and keeps the best-scoring.
- :func:`suggest_architecture`, :func:`space_builder`, :func:`timm_builder` — search spaces as
  ``trial.suggest_*`` calls.
- :func:`open_storage`, :func:`plan_trials`, :func:`run_worker`, :func:`fail_stale_trials` — several
  worker processes sharing one study through a journal file or an RDB (PostgreSQL) storage.
"""

from lswag_plugin.optuna._distributed import (
    FAIL_REASON_ATTR,
    HEARTBEAT_ATTR,
    fail_stale_trials,
    open_storage,
    plan_trials,
    run_worker,
)
from lswag_plugin.optuna._objective import DirectionMismatch, ZeroCostObjective
from lswag_plugin.optuna._pruner import ZERO_COST_STEP, ZeroCostPruner, report_zero_cost
from lswag_plugin.optuna._sampler import PrescreenSampler
from lswag_plugin.optuna._spaces import space_builder, suggest_architecture, timm_builder

__all__ = [
    "FAIL_REASON_ATTR",
    "HEARTBEAT_ATTR",
    "ZERO_COST_STEP",
    "DirectionMismatch",
    "PrescreenSampler",
    "ZeroCostObjective",
    "ZeroCostPruner",
    "fail_stale_trials",
    "open_storage",
    "plan_trials",
    "report_zero_cost",
    "run_worker",
    "space_builder",
    "suggest_architecture",
    "timm_builder",
]
