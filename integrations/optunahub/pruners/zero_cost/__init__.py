"""OptunaHub package ``pruners/zero_cost``: the zero-cost pruner of lswag-plugin (``pip install lswag-plugin``)."""

from lswag_plugin.optuna import ZERO_COST_STEP, ZeroCostObjective, ZeroCostPruner, report_zero_cost

__all__ = ["ZERO_COST_STEP", "ZeroCostObjective", "ZeroCostPruner", "report_zero_cost"]
